/**
 * One phase of the test: fresh generators, warm-up (not measured), the measured window (with,
 * in the fault phase, one instance SIGKILLed half-way through), then the generators' results and
 * the CPU each kind of process used in the window.
 */
import { now, sleep } from './clock.ts';
import { startGenerator, type Generator, type Service } from './cluster.ts';
import { cpuSeconds, HZ, machineTicks, postgresPids, snapshot, type CpuSnapshot } from './cpu-usage.ts';
import type { GeneratorResult, ToGenerator } from './generator-messages.ts';
import type { Options } from './options.ts';

/** CPU seconds used in the measured window, and the window's length (`wall`, s). */
export interface PhaseCpu {
  services: number;
  postgres: number;
  generators: number;
  main: number;
  machine: number;
  softirq: number;
  wall: number;
}

export interface PhaseOutcome {
  results: GeneratorResult[];
  from: number;
  to: number;
  killAt?: number;
  cpu: PhaseCpu;
}

/** What a phase runs against. */
export interface PhaseSetup {
  opt: Options;
  urls: string[];
  token: string;
  services: Service[];
  postgresPort: number;
  /** Every generator started, so that the cleanup can kill what is left; a phase adds its own. */
  generators: Generator[];
}

/** `total` split in `parts` as evenly as possible. */
const split = (total: number, parts: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0);

export async function runPhase(
  { opt, urls, token, services, postgresPort, generators }: PhaseSetup,
  name: string,
  seconds: number,
  kill?: Service,
): Promise<PhaseOutcome> {
  const gens = Array.from({ length: opt.generators }, (_, id) =>
    startGenerator({
      id,
      phase: name,
      urls,
      token,
      writers: split(opt.writers, opt.generators, id),
      readers: split(opt.readers, opt.generators, id),
      connections: opt.connections,
      tasksPerRun: opt.tasksPerRun,
      drainMs: 20_000,
    }),
  );
  generators.push(...gens);
  await Promise.all(gens.map((g) => g.next('ready', 60_000)));
  for (const g of gens) g.proc.send({ type: 'start' } satisfies ToGenerator);
  await sleep(opt.warmup * 1000);
  const pids = () => ({
    services: services.map((s) => s.proc.pid!),
    postgres: postgresPids(postgresPort),
    generators: gens.map((g) => g.proc.pid!),
  });
  const before = pids();
  const cpu0 = {
    services: snapshot(before.services),
    postgres: snapshot(before.postgres),
    generators: snapshot(before.generators),
    main: process.cpuUsage(),
    machine: machineTicks(),
  };
  const from = now();
  let killAt: number | undefined;
  let lastOfKilled: CpuSnapshot | undefined;
  if (kill) {
    await sleep((seconds * 1000) / 2);
    lastOfKilled = snapshot([kill.proc.pid!]);
    killAt = now();
    kill.proc.kill('SIGKILL');
    await sleep((seconds * 1000) / 2);
  } else await sleep(seconds * 1000);
  const to = now();
  const after = pids();
  const cpu = {
    services: cpuSeconds(cpu0.services, snapshot(after.services), lastOfKilled),
    postgres: cpuSeconds(cpu0.postgres, snapshot([...new Set([...before.postgres, ...after.postgres])])),
    generators: cpuSeconds(cpu0.generators, snapshot(after.generators)),
    main: ((u) => (u.user + u.system) / 1e6)(process.cpuUsage(cpu0.main)),
    ...((m) => ({ machine: (m.busy - cpu0.machine.busy) / HZ, softirq: (m.softirq - cpu0.machine.softirq) / HZ }))(machineTicks()),
    wall: (to - from) / 1000,
  };
  for (const g of gens) g.proc.send({ type: 'stop' } satisfies ToGenerator);
  const results = (await Promise.all(gens.map((g) => g.next('result', 60_000)))) as GeneratorResult[];
  return { results, from, to, ...(killAt !== undefined ? { killAt } : {}), cpu };
}
