/**
 * The generator process: closed-loop writers and readers against all instances through one
 * `createHttpMetadataStore({ url: [a, b, c] })`, started and stopped by the orchestrator's
 * messages; it sends back what it timed and what was acknowledged.
 */
import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { ArtifactRef, RunRecord, TaskRef } from '@tributary/core';
import { createHttpMetadataStore } from '@tributary/metadata-http';
import { now, sleep } from './clock.ts';
import type { FromGenerator, GeneratorConfig, GeneratorResult, OpSamples, ToGenerator } from './generator-messages.ts';
import { Recorder } from './recorder.ts';
import { ARTIFACTS_PER_TASK, FLOWS, OPS, type Op } from './workload.ts';

export async function generatorMain(cfg: GeneratorConfig): Promise<void> {
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
