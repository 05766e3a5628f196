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
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { ArtifactRef, RunRecord, TaskRef } from '@tributary/core';
import { createHttpMetadataStore } from '@tributary/metadata-http';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres, type TestPostgres } from '@tributary/metadata-postgres/testing';
import { printTable } from './table.ts';

const WRITE_OPS = ['createRun', 'registerTask', 'startAttempt', 'finishAttempt'] as const;
const READ_OPS = ['latestRun', 'listTasks', 'listArtifacts'] as const;
const OPS = [...WRITE_OPS, ...READ_OPS] as const;
type Op = (typeof OPS)[number];
const isWrite = (op: Op) => (WRITE_OPS as readonly string[]).includes(op);

/** The seed's targets (the issue), ms and ops/s. */
const TARGET = {
  read: { p50: 20, p95: 50, p99: 100, peak: 2100 },
  write: { p50: 30, p95: 80, p99: 150, peak: 700 },
} as const;
const AIM = 10;

const FLOWS = ['LoadFlowA', 'LoadFlowB', 'LoadFlowC', 'LoadFlowD'];
const ARTIFACTS_PER_TASK = 3;

/** Wall clock in ms with sub-ms precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// What a generator sends back

interface GeneratorConfig {
  id: number;
  phase: string;
  urls: string[];
  token: string;
  writers: number;
  readers: number;
  connections: number;
  tasksPerRun: number;
  drainMs: number;
}

interface OpSamples {
  /** End time (epoch ms) and latency (ms) of each successful call. */
  ends: Float64Array;
  lats: Float64Array;
  /** End time of each failed call (after the client's own retries). */
  errorEnds: Float64Array;
  errorSamples: string[];
}

interface GeneratorResult {
  type: 'result';
  id: number;
  ops: Record<Op, OpSamples>;
  acked: { runs: string[]; tasks: string[]; started: string[]; finished: string[] };
  /** Writes whose outcome is unknown: failed after retries, or still in flight at exit. */
  doubt: { errored: Record<Op, number>; inflight: Record<Op, number> };
  /** Tries of a call that failed and that the client retried or gave up on (from undici's diagnostics channels). */
  failedTries: { ends: Float64Array; kinds: Record<string, number> };
}

type ToGenerator = { type: 'start' } | { type: 'stop' };
type FromGenerator = { type: 'ready' } | GeneratorResult | { type: 'fatal'; message: string };

class Recorder {
  private ends = new Float64Array(1 << 14);
  private lats = new Float64Array(1 << 14);
  private n = 0;
  private errs: number[] = [];
  private samples: string[] = [];
  ok(end: number, lat: number): void {
    if (this.n === this.ends.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.ends = grow(this.ends);
      this.lats = grow(this.lats);
    }
    this.ends[this.n] = end;
    this.lats[this.n++] = lat;
  }
  error(end: number, err: unknown): void {
    this.errs.push(end);
    const e = err as { code?: string; message?: string };
    if (this.samples.length < 5) this.samples.push(`${e.code ?? 'Error'}: ${(e.message ?? String(err)).slice(0, 300)}`);
  }
  done(): OpSamples {
    return {
      ends: this.ends.slice(0, this.n),
      lats: this.lats.slice(0, this.n),
      errorEnds: Float64Array.from(this.errs),
      errorSamples: this.samples,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The generator process

async function generatorMain(cfg: GeneratorConfig): Promise<void> {
  const md = createHttpMetadataStore({ url: cfg.urls, token: cfg.token, timeoutMs: 10_000, connections: cfg.connections });
  const rec = Object.fromEntries(OPS.map((op) => [op, new Recorder()])) as Record<Op, Recorder>;
  const inflight = Object.fromEntries(OPS.map((op) => [op, 0])) as Record<Op, number>;
  const errored = Object.fromEntries(OPS.map((op) => [op, 0])) as Record<Op, number>;
  const acked = { runs: [] as string[], tasks: [] as string[], started: [] as string[], finished: [] as string[] };
  let stopping = false;

  // Every try the client makes is an undici request: count those that fail (broken or refused
  // connection, timeout) or are answered 5xx; the client retries them.
  const failedEnds: number[] = [];
  const failedKinds: Record<string, number> = {};
  const failedTry = (kind: string) => {
    failedEnds.push(now());
    failedKinds[kind] = (failedKinds[kind] ?? 0) + 1;
  };
  subscribe('undici:request:error', (m) => {
    const e = (m as { error?: { code?: string; cause?: { code?: string }; name?: string } }).error;
    failedTry(e?.code ?? e?.cause?.code ?? e?.name ?? 'error');
  });
  subscribe('undici:request:headers', (m) => {
    const status = (m as { response: { statusCode: number } }).response.statusCode;
    if (status >= 500) failedTry(`HTTP ${status}`);
  });

  /** One timed call; `undefined` when it failed (then counted, and, for a write, in doubt). */
  async function timed<T>(op: Op, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
    inflight[op]++;
    const t = now();
    try {
      const value = await fn();
      const end = now();
      rec[op].ok(end, end - t);
      return { value };
    } catch (err) {
      rec[op].error(now(), err);
      errored[op]++;
      return undefined;
    } finally {
      inflight[op]--;
    }
  }

  const runs: Array<{ flow: string; runId: string }> = [];
  let runSeq = 0;
  async function createRun(): Promise<RunRecord | undefined> {
    const seq = runSeq++;
    const flow = FLOWS[(cfg.id + seq) % FLOWS.length]!;
    const r = await timed('createRun', () =>
      md.createRun({
        flow,
        user: 'load',
        params: { load: `${cfg.phase}/g${cfg.id}/r${seq}` },
        tags: ['load'],
        systemTags: ['user:load'],
        codeHash: '',
        graph: { flow, start: 'start', end: 'end', order: ['start', 'train', 'end'], nodes: {} },
      }),
    );
    if (!r) return undefined;
    acked.runs.push(r.value.runId);
    runs.push({ flow, runId: r.value.runId });
    return r.value;
  }

  // Setup (not measured, but acknowledged like everything else): one run per flow.
  for (let i = 0; i < FLOWS.length; i++) await createRun();
  if (runs.length === 0) throw new Error('could not create any run');
  let current = runs.at(-1)!;
  let tasksInCurrent = 0;
  let rolling = false;
  let taskSeq = 0;
  const finished: TaskRef[] = [];
  let finishedNext = 0;
  const RING = 1024;

  const sha = () => randomBytes(32).toString('hex');
  const artifacts = (): ArtifactRef[] =>
    Array.from({ length: ARTIFACTS_PER_TASK }, (_, k) => ({
      name: `out${k}`,
      sha: sha(),
      size: 100 + k,
      type: 'number',
      encoding: 'msgpack',
    }));

  async function writer(): Promise<void> {
    while (!stopping) {
      // A new run every tasksPerRun tasks (one writer creates it; the others go on in the old one).
      if (tasksInCurrent >= cfg.tasksPerRun && !rolling) {
        rolling = true;
        const run = await createRun();
        if (run) {
          current = { flow: run.flow, runId: run.runId };
          tasksInCurrent = 0;
        }
        rolling = false;
        continue;
      }
      const run = current;
      tasksInCurrent++;
      const key = `train[${cfg.phase}-g${cfg.id}-${taskSeq++}]`;
      const task = await timed('registerTask', () =>
        md.registerTask({ flow: run.flow, runId: run.runId, step: 'train', key, parents: [] }),
      );
      if (!task) continue;
      acked.tasks.push(task.value.taskId);
      if (stopping) continue;
      const ref: TaskRef = { flow: run.flow, runId: run.runId, taskId: task.value.taskId };
      if (!(await timed('startAttempt', () => md.startAttempt(ref, 0)))) continue;
      acked.started.push(ref.taskId);
      if (stopping) continue;
      if (!(await timed('finishAttempt', () => md.finishAttempt(ref, 0, { status: 'succeeded', artifacts: artifacts() })))) continue;
      acked.finished.push(ref.taskId);
      finished[finishedNext++ % RING] = ref;
    }
  }

  const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
  async function reader(): Promise<void> {
    while (!stopping) {
      const r = Math.random();
      if (r < 1 / 3 || finished.length === 0) {
        await timed('latestRun', async () => {
          const run = await md.latestRun(pick(FLOWS));
          if (!run) throw new Error('latestRun found no run');
          return run;
        });
      } else if (r < 2 / 3) {
        const run = pick(runs.slice(-16));
        await timed('listTasks', () => md.listTasks({ flow: run.flow, runId: run.runId, limit: 100 }));
      } else {
        const ref = pick(finished);
        await timed('listArtifacts', async () => {
          const list = await md.listArtifacts(ref);
          if (list.length !== ARTIFACTS_PER_TASK)
            throw new Error(`listArtifacts: ${list.length} artifacts, expected ${ARTIFACTS_PER_TASK}`);
          return list;
        });
      }
    }
  }

  const send = (m: FromGenerator) => new Promise<void>((resolve) => process.send!(m, undefined, {}, () => resolve()));
  const started = new Promise<void>((resolve) => {
    process.on('message', (m: ToGenerator) => {
      if (m.type === 'start') resolve();
      if (m.type === 'stop') stopping = true;
    });
  });
  await send({ type: 'ready' });
  await started;
  const loops = [...Array.from({ length: cfg.writers }, writer), ...Array.from({ length: cfg.readers }, reader)];
  while (!stopping) await sleep(20);
  // Let the calls in flight finish (their retries included), up to drainMs; what is left is in doubt.
  await Promise.race([Promise.all(loops), sleep(cfg.drainMs)]);
  const result: GeneratorResult = {
    type: 'result',
    id: cfg.id,
    ops: Object.fromEntries(OPS.map((op) => [op, rec[op].done()])) as Record<Op, OpSamples>,
    acked,
    doubt: { errored, inflight: { ...inflight } },
    failedTries: { ends: Float64Array.from(failedEnds), kinds: failedKinds },
  };
  await send(result);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Processes: services, generators, CPU accounting

const HZ = 100; // USER_HZ on Linux
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime: fields 14-17 (f[11..14] after pid and comm)
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return undefined;
  }
}
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
/** The postmaster of the test server (its command line has `-p <port>`) and its children. */
function postgresPids(port: number): number[] {
  const pids = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const master = pids.find((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return cmd[0]?.endsWith('postgres') && cmd.includes(`-p`) && cmd[cmd.indexOf('-p') + 1] === String(port);
    } catch {
      return false;
    }
  });
  if (master === undefined) return [];
  return [master, ...pids.filter((p) => parentOf(p) === master)];
}

/** Whole machine, from /proc/stat: busy and softirq (the loopback network) ticks. */
function machineTicks(): { busy: number; softirq: number } {
  // user nice system idle iowait irq softirq steal ...
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: user + nice + system + irq + softirq + steal, softirq };
}

type CpuSnapshot = Map<number, number>;
function snapshot(pids: number[]): CpuSnapshot {
  const m = new Map<number, number>();
  for (const p of pids) {
    const t = cpuTicks(p);
    if (t !== undefined) m.set(p, t);
  }
  return m;
}
/**
 * CPU seconds between two snapshots. A process gone at the end: its last known value from `last`
 * (the killed instance); else it was reaped by a parent in the set (a Postgres backend), whose
 * cutime/cstime took its whole lifetime, so what it had used before the window comes off.
 */
function cpuSeconds(a: CpuSnapshot, b: CpuSnapshot, last?: CpuSnapshot): number {
  let ticks = 0;
  for (const [p, t] of b) ticks += t - (a.get(p) ?? 0);
  for (const [p, t] of a) if (!b.has(p)) ticks += last?.has(p) ? last.get(p)! - t : -t;
  return ticks / HZ;
}

interface Service {
  url: string;
  proc: ChildProcess;
  stderr: string[];
  exited: Promise<void>;
}

const repo = fileURLToPath(new URL('../../', import.meta.url));
const cliBin = `${repo}cli/bin/tributary.js`;

async function startService(storeUrl: string, token: string): Promise<Service> {
  const proc = spawn(
    process.execPath,
    [cliBin, 'service', '--port', '0', '--host', '127.0.0.1', '--metadata', storeUrl, '--token', token],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stderr: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter(Boolean)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`service did not start in 30 s: ${out}${stderr.join('\n')}`)), 30_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /Tributary metadata service: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before it listened: ${out}${stderr.join('\n')}`));
    });
  });
  return { url, proc, stderr, exited };
}

async function stopService(s: Service): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
  await s.exited;
  clearTimeout(t);
}

interface Generator {
  proc: ChildProcess;
  messages: FromGenerator[];
  next(type: FromGenerator['type'], timeoutMs: number): Promise<FromGenerator>;
}

function startGenerator(cfg: GeneratorConfig): Generator {
  const proc = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, TRIBUTARY_LOAD_GENERATOR: JSON.stringify(cfg) },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: FromGenerator[] = [];
  const waiters: Array<() => void> = [];
  proc.on('message', (m: FromGenerator) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  let exitCode: number | null | undefined;
  proc.once('exit', (code) => {
    exitCode = code;
    for (const w of waiters.splice(0)) w();
  });
  return {
    proc,
    messages,
    async next(type, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex((m) => m.type === type || m.type === 'fatal');
        if (i >= 0) {
          const m = messages.splice(i, 1)[0]!;
          if (m.type === 'fatal') throw new Error(`generator ${cfg.id}: ${m.message}`);
          return m;
        }
        if (exitCode !== undefined) throw new Error(`generator ${cfg.id} exited (${exitCode}) before sending ${type}`);
        if (Date.now() > deadline) throw new Error(`generator ${cfg.id}: no ${type} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics

interface Stats {
  count: number;
  perSec: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

function stats(results: GeneratorResult[], ops: readonly Op[], from: number, to: number): Stats {
  const lats: number[] = [];
  let errors = 0;
  for (const r of results)
    for (const op of ops) {
      const s = r.ops[op];
      for (let i = 0; i < s.ends.length; i++) if (s.ends[i]! >= from && s.ends[i]! < to) lats.push(s.lats[i]!);
      for (const e of s.errorEnds) if (e >= from && e < to) errors++;
    }
  const sorted = Float64Array.from(lats).sort();
  const pct = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN;
  return { count: sorted.length, perSec: sorted.length / ((to - from) / 1000), p50: pct(50), p95: pct(95), p99: pct(99), errors };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isNaN(n) ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
const times = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}x`;
const targetOf = (op: Op) => (isWrite(op) ? TARGET.write : TARGET.read);

function opTable(title: string, results: GeneratorResult[], from: number, to: number): { reads: Stats; writes: Stats } {
  const rows: string[][] = [];
  for (const op of OPS) {
    const s = stats(results, [op], from, to);
    const t = targetOf(op);
    rows.push([
      op,
      isWrite(op) ? 'write' : 'read',
      fmt(s.count),
      fmt(s.perSec),
      ms(s.p50),
      ms(s.p95),
      ms(s.p99),
      `${t.p50}/${t.p95}/${t.p99}`,
      fmt(s.errors),
    ]);
  }
  const reads = stats(results, READ_OPS, from, to);
  const writes = stats(results, WRITE_OPS, from, to);
  for (const [name, s, t] of [
    ['all reads', reads, TARGET.read],
    ['all writes', writes, TARGET.write],
  ] as const)
    rows.push([
      `**${name}**`,
      '',
      fmt(s.count),
      fmt(s.perSec),
      ms(s.p50),
      ms(s.p95),
      ms(s.p99),
      `${t.p50}/${t.p95}/${t.p99}`,
      fmt(s.errors),
    ]);
  printTable(title, ['operation', 'kind', 'count', 'ops/s', 'P50 ms', 'P95 ms', 'P99 ms', 'seed target P50/P95/P99 ms', 'errors'], rows);
  return { reads, writes };
}

function sustainedTable(title: string, reads: Stats, writes: Stats): void {
  const row = (name: string, s: Stats, t: { p99: number; peak: number }) => [
    name,
    fmt(s.perSec),
    ms(s.p99),
    `${t.p99}`,
    s.p99 <= t.p99 ? 'within' : `${times(s.p99, t.p99)} over`,
    fmt(t.peak),
    `${times(s.perSec, t.peak)} the seed's peak`,
    fmt(t.peak * AIM),
    times(s.perSec, t.peak * AIM),
  ];
  printTable(
    title,
    [
      'kind',
      'sustained ops/s',
      'P99 ms',
      'P99 target ms',
      'P99 vs target',
      "seed's peak ops/s",
      'vs seed peak',
      `aim (${AIM}x) ops/s`,
      'vs aim',
    ],
    [row('reads', reads, TARGET.read), row('writes', writes, TARGET.write)],
  );
}

// ---------------------------------------------------------------------------------------------
// The main process

interface Options {
  writers: number;
  readers: number;
  generators: number;
  seconds: number;
  warmup: number;
  faultSeconds: number;
  connections: number;
  tasksPerRun: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      writers: { type: 'string', default: '4' },
      readers: { type: 'string', default: '12' },
      generators: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      'fault-seconds': { type: 'string', default: '15' },
      connections: { type: 'string', default: '16' },
      'tasks-per-run': { type: 'string', default: '250' },
      help: { type: 'boolean', default: false },
    },
    args: process.argv.slice(2).filter((a) => a !== '--'),
  });
  if (values.help) {
    console.log(
      'service-load.ts [--writers 4] [--readers 12] [--generators 2] [--seconds 15] [--warmup 3] [--fault-seconds 15 (0: no fault run)]\n' +
        '                [--connections 16 (per instance, per generator)] [--tasks-per-run 250]\n' +
        'writers and readers are totals, split across the generator processes.',
    );
    process.exit(0);
  }
  const n = (name: string, v: string, min: number) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return x;
  };
  return {
    writers: n('writers', values.writers, 0),
    readers: n('readers', values.readers, 0),
    generators: n('generators', values.generators, 1),
    seconds: n('seconds', values.seconds, 0),
    warmup: n('warmup', values.warmup, 0),
    faultSeconds: n('fault-seconds', values['fault-seconds'], 0),
    connections: n('connections', values.connections, 1),
    tasksPerRun: n('tasks-per-run', values['tasks-per-run'], 1),
  };
}

/** `total` split in `parts` as evenly as possible. */
const split = (total: number, parts: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0);

interface PhaseOutcome {
  results: GeneratorResult[];
  from: number;
  to: number;
  killAt?: number;
  cpu: { services: number; postgres: number; generators: number; main: number; machine: number; softirq: number; wall: number };
}

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

    async function phase(name: string, seconds: number, kill?: Service): Promise<PhaseOutcome> {
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
        postgres: postgresPids(server!.port),
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

    const all: GeneratorResult[] = [];
    const cpuTable = (title: string, cpu: PhaseOutcome['cpu']) => {
      const ours = cpu.services + cpu.postgres + cpu.generators + cpu.main;
      const other = Math.max(0, cpu.machine - cpu.softirq - ours);
      const row = (name: string, s: number) => [name, s.toFixed(1), (s / cpu.wall).toFixed(2)];
      printTable(
        title,
        ['processes', 'CPU s', `cores busy (of ${availableParallelism()})`],
        [
          row('3 service instances', cpu.services),
          row('Postgres (all backends)', cpu.postgres),
          row(`${opt.generators} load generators`, cpu.generators),
          row('this process (orchestrator)', cpu.main),
          row('whole machine (/proc/stat)', cpu.machine),
          row('  of which softirq (loopback TCP)', cpu.softirq),
          row('  of which not this benchmark (other processes)', other),
        ],
      );
    };

    // Phase 1: load.
    if (opt.seconds > 0) {
      const p = await phase('load', opt.seconds);
      all.push(...p.results);
      const { reads, writes } = opTable(`Phase 1 (load): ${opt.seconds} s measured, 3 instances`, p.results, p.from, p.to);
      sustainedTable('Phase 1: sustained throughput and P99 vs the seed', reads, writes);
      cpuTable('Phase 1: CPU used during the measured window', p.cpu);
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
      const windows: Array<[string, number, number]> = [
        ['before the kill (3 instances)', p.from, killAt],
        ['after the kill (2 instances)', killAt, p.to],
        ['first second after the kill', killAt, Math.min(p.to, killAt + 1000)],
        ['after the kill, from +1 s', Math.min(p.to, killAt + 1000), p.to],
      ];
      printTable(
        'Phase 2: before and after the kill',
        [
          'window',
          'reads/s',
          'read P50/P95/P99 ms',
          'writes/s',
          'write P50/P95/P99 ms',
          'calls/s vs before',
          'errors seen by generators',
          'failed tries (retried)',
        ],
        windows.map(([name, a, b]) => {
          const r = stats(p.results, READ_OPS, a, b);
          const w = stats(p.results, WRITE_OPS, a, b);
          const before = stats(p.results, OPS, p.from, killAt).perSec;
          return [
            name,
            fmt(r.perSec),
            `${ms(r.p50)}/${ms(r.p95)}/${ms(r.p99)}`,
            fmt(w.perSec),
            `${ms(w.p50)}/${ms(w.p95)}/${ms(w.p99)}`,
            times(r.perSec + w.perSec, before),
            fmt(r.errors + w.errors),
            fmt(failedTries(p.results, a, b)),
          ];
        }),
      );
      const rows: string[][] = [];
      for (let a = p.from, i = 1; a + 500 < p.to; a += 1000, i++) {
        const b = Math.min(p.to, a + 1000);
        const r = stats(p.results, READ_OPS, a, b);
        const w = stats(p.results, WRITE_OPS, a, b);
        const mark = killAt >= a && killAt < b ? ' (kill)' : '';
        rows.push([
          `${i}${mark}`,
          fmt(r.perSec),
          ms(r.p99),
          fmt(w.perSec),
          ms(w.p99),
          fmt(r.errors + w.errors),
          fmt(failedTries(p.results, a, b)),
        ]);
      }
      printTable(
        'Phase 2: second by second',
        ['second', 'reads/s', 'read P99 ms', 'writes/s', 'write P99 ms', 'errors', 'failed tries (retried)'],
        rows,
      );
      const kinds: Record<string, number> = {};
      for (const r of p.results) for (const [k, n] of Object.entries(r.failedTries.kinds)) kinds[k] = (kinds[k] ?? 0) + n;
      console.log(
        `\nFailed tries by cause (each retried by the client on the next instance): ${
          Object.entries(kinds)
            .map(([k, n]) => `${k} ${fmt(n)}`)
            .join(', ') || 'none'
        }.`,
      );
      cpuTable('Phase 2: CPU used during the measured window', p.cpu);
      printErrors(p.results);
      const code = victim.proc.signalCode ?? victim.proc.exitCode;
      console.log(`\nThe killed instance ended with ${String(code)}; the other two served on.`);
    }

    // The check: acknowledged writes vs rows.
    if (all.length > 0) {
      const ok = await verify(server.url, schema, all);
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

function failedTries(results: GeneratorResult[], from: number, to: number): number {
  let n = 0;
  for (const r of results) for (const e of r.failedTries.ends) if (e >= from && e < to) n++;
  return n;
}

function printErrors(results: GeneratorResult[]): void {
  const lines: string[] = [];
  for (const op of OPS) {
    const n = results.reduce((a, r) => a + r.ops[op].errorEnds.length, 0);
    if (n === 0) continue;
    const samples = [...new Set(results.flatMap((r) => r.ops[op].errorSamples))].slice(0, 3);
    lines.push(`  ${op}: ${n} error(s), e.g. ${samples.join(' | ')}`);
  }
  if (lines.length > 0) console.log(`\nErrors seen by the generators (after the client's retries):\n${lines.join('\n')}`);
}

/** Rows in Postgres against what the generators were told was done. */
async function verify(url: string, schema: string, results: GeneratorResult[]): Promise<boolean> {
  const acked = {
    runs: results.flatMap((r) => r.acked.runs),
    tasks: results.flatMap((r) => r.acked.tasks),
    started: results.flatMap((r) => r.acked.started),
    finished: results.flatMap((r) => r.acked.finished),
  };
  const doubt = (op: Op) => results.reduce((a, r) => a + r.doubt.errored[op] + r.doubt.inflight[op], 0);
  const inflight = (op: Op) => results.reduce((a, r) => a + r.doubt.inflight[op], 0);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    const one = async (sql: string, args: unknown[] = []) => Number((await client.query<{ n: string }>(sql, args)).rows[0]!.n);
    const runRows = await one('SELECT count(*) AS n FROM runs');
    const runsFound = await one('SELECT count(*) AS n FROM runs WHERE run_id = ANY($1::bigint[])', [acked.runs]);
    const runsTwice = await one(`SELECT count(*) AS n FROM (SELECT params->>'load' FROM runs GROUP BY 1 HAVING count(*) > 1) d`);
    const taskRows = await one('SELECT count(*) AS n FROM tasks');
    const tasksFound = await one('SELECT count(*) AS n FROM tasks WHERE task_id = ANY($1::bigint[])', [acked.tasks]);
    const keysTwice = await one('SELECT count(*) AS n FROM (SELECT 1 FROM tasks GROUP BY run_id, key HAVING count(*) > 1) d');
    const attemptRows = await one('SELECT count(*) AS n FROM attempts');
    const startedFound = await one('SELECT count(*) AS n FROM attempts WHERE attempt = 0 AND task_id = ANY($1::bigint[])', [acked.started]);
    const otherAttempts = await one('SELECT count(*) AS n FROM attempts WHERE attempt <> 0');
    const succeededRows = await one(`SELECT count(*) AS n FROM attempts WHERE status = 'succeeded'`);
    const finishedOk = await one(`SELECT count(*) AS n FROM attempts WHERE status = 'succeeded' AND task_id = ANY($1::bigint[])`, [
      acked.finished,
    ]);
    const artifactRows = await one('SELECT count(*) AS n FROM artifacts');
    const finishedWith3 = await one(
      `SELECT count(*) AS n FROM (SELECT task_id FROM artifacts WHERE task_id = ANY($1::bigint[]) GROUP BY task_id HAVING count(*) = ${ARTIFACTS_PER_TASK}) d`,
      [acked.finished],
    );
    const not3 = await one(
      `SELECT count(*) AS n FROM (SELECT task_id FROM artifacts GROUP BY task_id HAVING count(*) <> ${ARTIFACTS_PER_TASK}) d`,
    );
    // [table, rows, acknowledged, what was found of them, unacknowledged, of which in flight at stop, ok]
    const checks: Array<[string, number, number, string, number, number, boolean]> = [];
    const row = (table: string, rows: number, ack: number, found: number, foundNote: string, d: number, f: number, extraOk = true) => {
      const extra = rows - ack;
      checks.push([table, rows, ack, `${fmt(found)} ${foundNote}`, d, f, found === ack && extra >= 0 && extra <= d && extraOk]);
    };
    row('runs', runRows, acked.runs.length, runsFound, 'exist', doubt('createRun'), inflight('createRun'), runsTwice === 0);
    row('tasks', taskRows, acked.tasks.length, tasksFound, 'exist', doubt('registerTask'), inflight('registerTask'), keysTwice === 0);
    row(
      'attempts',
      attemptRows,
      acked.started.length,
      startedFound,
      'exist',
      doubt('startAttempt'),
      inflight('startAttempt'),
      otherAttempts === 0,
    );
    row(
      'attempts succeeded',
      succeededRows,
      acked.finished.length,
      finishedOk,
      'succeeded',
      doubt('finishAttempt'),
      inflight('finishAttempt'),
    );
    const art = acked.finished.length * ARTIFACTS_PER_TASK;
    const artExtra = artifactRows - art;
    checks.push([
      'artifacts',
      artifactRows,
      art,
      `${fmt(finishedWith3)} of ${fmt(acked.finished.length)} finished tasks have exactly ${ARTIFACTS_PER_TASK}`,
      doubt('finishAttempt') * ARTIFACTS_PER_TASK,
      inflight('finishAttempt') * ARTIFACTS_PER_TASK,
      finishedWith3 === acked.finished.length && not3 === 0 && artExtra >= 0 && artExtra <= doubt('finishAttempt') * ARTIFACTS_PER_TASK,
    ]);
    printTable(
      'Exactly once: rows in Postgres vs acknowledged writes (setup, warm-up and both phases)',
      [
        'table',
        'rows',
        'acknowledged',
        'acknowledged rows found',
        'extra rows',
        'unacknowledged (errored + in flight)',
        'of which in flight at stop',
        'check',
      ],
      checks.map(([table, rows, ack, found, d, f, ok]) => [
        table,
        fmt(rows),
        fmt(ack),
        found,
        fmt(rows - ack),
        fmt(d),
        fmt(f),
        ok ? 'ok' : 'FAIL',
      ]),
    );
    console.log(
      `Duplicates: ${runsTwice} run(s) created twice (same load id), ${keysTwice} task key(s) registered twice, ` +
        `${otherAttempts} attempt row(s) numbered other than 0, ${not3} task(s) with other than ${ARTIFACTS_PER_TASK} artifact rows.`,
    );
    const ok = checks.every((c) => c[6]);
    console.log(ok ? 'Exactly-once check: passed.' : 'Exactly-once check: FAILED.');
    return ok;
  } finally {
    await client.end();
  }
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
