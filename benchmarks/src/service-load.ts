/**
 * Load and fault test of the metadata service (`tributary service`): one test Postgres, 3 service
 * instances (each its own process, spawned through the CLI, all on one schema, one token), and
 * load-generator processes (forked children, each with its own event loop) that drive all 3
 * through `createHttpMetadataStore({ url: [a, b, c] })`.
 *
 * The mix: writers run simulated tasks one after the other (`registerTask`, `startAttempt`,
 * `finishAttempt` with 3 artifact refs), in runs created up front and then every
 * `--tasks-per-run` tasks (`createRun`); readers ask for `latestRun(flow)`, a page of a run's
 * tasks (`listTasks({ flow, runId, limit: 100 })`) and the artifacts of a finished task
 * (`listArtifacts`), a third each. Closed loops: each writer or reader waits for its answer before
 * the next call, so the concurrency is the load.
 *
 * Phase 1 (load): warm-up (not measured), then `--seconds` measured: per operation count, ops/s,
 * P50/P95/P99 latency, next to the seed's targets; the CPU each kind of process used.
 * Phase 2 (fault): the same load, and one instance is SIGKILLed half-way through the measured
 * window. The client retries on the other two: errors seen by the generators, throughput and P99
 * before and after the kill, second by second.
 * Then the check: every generator kept what was acknowledged (runs, tasks, started and finished
 * attempts); the rows in Postgres must hold every acknowledged write exactly once, and nothing
 * beyond the writes left in doubt (errored, or still in flight when a generator stopped).
 *
 *   pnpm --filter @tributary/benchmarks bench:service     (needs a build: node scripts/build.mjs)
 *   node --import tsx src/service-load.ts --writers 4 --readers 12 --generators 2 --seconds 15 --fault-seconds 15
 *
 * Prints tables; asserts nothing about time. Exits 1 when the exactly-once check fails.
 *
 * This file is the entry point of both the orchestrator and the generator processes (they are
 * forked from it with TRIBUTARY_LOAD_GENERATOR set); the parts are in `./service-load/`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres, type TestPostgres } from '@tributary/metadata-postgres/testing';
import { now } from './service-load/clock.ts';
import { repo, startService, stopService, type Generator, type Service } from './service-load/cluster.ts';
import { beforeAndAfterTable, printFailedTriesByCause, secondBySecondTable } from './service-load/fault-report.ts';
import { generatorMain } from './service-load/generator.ts';
import type { FromGenerator, GeneratorConfig, GeneratorResult } from './service-load/generator-messages.ts';
import { options } from './service-load/options.ts';
import { runPhase, type PhaseOutcome, type PhaseSetup } from './service-load/phase.ts';
import { cpuTable, opTable, printErrors, sustainedTable } from './service-load/report.ts';
import { verifyExactlyOnce } from './service-load/verify-exactly-once.ts';

async function main(): Promise<void> {
  const opt = options();
  if (!existsSync(`${repo}cli/dist/index.js`))
    throw new Error('The CLI is not built: run `node scripts/build.mjs` in the repository first.');
  const token = randomBytes(24).toString('hex');
  const schema = `load_${process.pid}`;
  const t0 = now();

  let server: TestPostgres | undefined;
  const services: Service[] = [];
  const generators: Generator[] = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const g of generators) if (g.proc.exitCode === null && g.proc.signalCode === null) g.proc.kill('SIGKILL');
    await Promise.all(services.map(stopService));
    server?.destroy();
  };
  const onSignal = (s: NodeJS.Signals) => {
    console.error(`\n${s}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    server = await startTestPostgres();
    const storeUrl = `${server.url}?schema=${schema}`;
    // Migrate once up front, so the services start on a ready schema.
    const migrator = createPostgresMetadataStore({ url: storeUrl });
    await migrator.migrate();
    await migrator.close();
    services.push(...(await Promise.all([0, 1, 2].map(() => startService(storeUrl, token)))));
    const urls = services.map((s) => s.url);
    console.log(
      `Metadata service load test: 3 instances (${urls.join(', ')}) on one Postgres schema; ` +
        `${opt.writers} writers + ${opt.readers} readers in ${opt.generators} generator processes ` +
        `(${opt.connections} connections per instance each); ${opt.warmup} s warm-up, then ${opt.seconds} s measured` +
        (opt.faultSeconds > 0 ? `; fault run ${opt.faultSeconds} s, one instance SIGKILLed half-way` : '') +
        `. Machine: ${availableParallelism()} cores.`,
    );

    const setup: PhaseSetup = { opt, urls, token, services, postgresPort: server.port, generators };
    const phase = (name: string, seconds: number, kill?: Service): Promise<PhaseOutcome> => runPhase(setup, name, seconds, kill);

    const all: GeneratorResult[] = [];

    // Phase 1: load.
    if (opt.seconds > 0) {
      const p = await phase('load', opt.seconds);
      all.push(...p.results);
      const { reads, writes } = opTable(`Phase 1 (load): ${opt.seconds} s measured, 3 instances`, p.results, p.from, p.to);
      sustainedTable('Phase 1: sustained throughput and P99 vs the seed', reads, writes);
      cpuTable('Phase 1: CPU used during the measured window', p.cpu, opt.generators);
      printErrors(p.results);
    }

    // Phase 2: fault.
    if (opt.faultSeconds > 0) {
      const victim = services[1]!;
      const p = await phase('fault', opt.faultSeconds, victim);
      all.push(...p.results);
      const killAt = p.killAt!;
      opTable(
        `Phase 2 (fault): ${opt.faultSeconds} s measured, instance ${victim.url} SIGKILLed after ${((killAt - p.from) / 1000).toFixed(1)} s`,
        p.results,
        p.from,
        p.to,
      );
      beforeAndAfterTable(p.results, p.from, killAt, p.to);
      secondBySecondTable(p.results, p.from, killAt, p.to);
      printFailedTriesByCause(p.results);
      cpuTable('Phase 2: CPU used during the measured window', p.cpu, opt.generators);
      printErrors(p.results);
      const code = victim.proc.signalCode ?? victim.proc.exitCode;
      console.log(`\nThe killed instance ended with ${String(code)}; the other two served on.`);
    }

    // The check: acknowledged writes vs rows.
    if (all.length > 0) {
      const ok = await verifyExactlyOnce(server.url, schema, all);
      if (!ok) process.exitCode = 1;
    }
    const logged = services.flatMap((s, i) => s.stderr.map((l) => `instance ${i + 1}: ${l}`));
    if (logged.length > 0) {
      console.log(`\nThe services logged ${logged.length} line(s) on stderr; the first ones:`);
      for (const l of logged.slice(0, 10)) console.log(`  ${l.slice(0, 400)}`);
    }
  } finally {
    await cleanup();
  }
  console.log(`\nTotal ${((now() - t0) / 1000).toFixed(1)} s.`);
}

const generatorConfig = process.env.TRIBUTARY_LOAD_GENERATOR;
if (generatorConfig) {
  try {
    await generatorMain(JSON.parse(generatorConfig) as GeneratorConfig);
  } catch (err) {
    process.send?.({ type: 'fatal', message: (err as Error).stack ?? String(err) } satisfies FromGenerator);
    process.exit(1);
  }
} else {
  await main();
}
