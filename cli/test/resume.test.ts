import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { formatResumePlan, planResume, resumeFlow, runFlow, type FlowSpec, type RunResult as Run } from '../src/index.ts';
import * as r from './fixtures/resumable.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-resume-');
afterAll(cleanup);
const log = join(home, 'executions.log');
/** The fixture reads these in its tasks: they are passed by name, as a user would. */
const PASS = ['TRIB_FAIL', 'TRIB_LOG'];
const runs: Run[] = [];
afterEach(async () => {
  for (const run of runs.splice(0)) await run.close();
  delete process.env.TRIB_FAIL;
  delete process.env.TRIB_LOG;
});

function executions(): string[] {
  if (!existsSync(log)) return [];
  const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  rmSync(log);
  return lines;
}

async function endHashes(run: Run): Promise<Record<string, string>> {
  const graph = (await run.metadata.getRun(run.flow, run.runId)).graph as { end: string };
  const end = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: graph.end })).items[0]!;
  const refs = await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: end.taskId });
  return Object.fromEntries(refs.map((a) => [a.name, a.sha]));
}

/** Uninterrupted run, failed run, resume: same end artifacts, nothing that succeeded runs twice. */
async function failAndResume(flow: new () => FlowSpec, fail: string, opts: { maxWorkers?: number; params?: Record<string, unknown> } = {}) {
  process.env.TRIB_LOG = log;
  const clean = await runFlow(flow, {
    home,
    envPass: PASS,
    maxWorkers: opts.maxWorkers ?? 1,
    ...(opts.params ? { params: opts.params } : {}),
  });
  expect(clean.status).toBe('succeeded');
  const expected = await endHashes(clean);
  const all = executions();

  process.env.TRIB_FAIL = fail;
  const failed = await runFlow(flow, {
    home,
    envPass: PASS,
    maxWorkers: opts.maxWorkers ?? 1,
    ...(opts.params ? { params: opts.params } : {}),
  });
  expect(failed.status).toBe('failed');
  expect((failed.error!.cause as Error).message).toContain(`injected failure in ${fail}`);
  const before = executions();
  delete process.env.TRIB_FAIL;

  const resumed = await resumeFlow(flow, { home, envPass: PASS, maxWorkers: opts.maxWorkers ?? 1 });
  expect(resumed.error?.message).toBeUndefined();
  expect(resumed.status).toBe('succeeded');
  expect(resumed.originRunId).toBe(failed.runId);
  const after = executions();
  expect(after.filter((id) => before.includes(id))).toEqual([]); // nothing that succeeded re-ran
  expect([...before, ...after].sort()).toEqual([...all].sort()); // and together they are the whole flow
  expect(await endHashes(resumed)).toEqual(expected);
  expect((await resumed.metadata.getRun(resumed.flow, resumed.runId)).originRunId).toBe(failed.runId);
  for (const run of [clean, failed]) await run.close();
  runs.push(resumed);
  return { before, after, resumed };
}

describe('resume after a failure, in every graph shape', () => {
  test('linear', async () => {
    const { before, after, resumed } = await failAndResume(r.ResumeLinear, 'c');
    expect(before).toEqual(['start', 'a', 'b']);
    expect(after).toEqual(['c', 'end']);
    expect(resumed.clonedTasks).toBe(3); // start, a, b (and the parameters, cloned before any task)
  });

  test('branch: the arm that succeeded is cloned', async () => {
    const { after } = await failAndResume(r.ResumeBranch, 'right');
    expect(after.sort()).toEqual(['end', 'join', 'right']);
  });

  test('foreach: one failed split out of 20; the 19 others are cloned', async () => {
    const { before, after, resumed } = await failAndResume(r.ResumeForeach, 'body[19]');
    expect(before.filter((id) => id.startsWith('body'))).toHaveLength(19);
    expect(after).toEqual(['body[19]', 'join', 'end']);
    const bodies = await resumed.metadata.listTasks({ flow: resumed.flow, runId: resumed.runId, step: 'body' });
    expect(bodies.items.filter((t) => t.originPathspec)).toHaveLength(19);
    expect((await resumed.data()).all).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) ** 2));
  });

  test('switch with a loop: the chosen case and the iterations done are cloned', async () => {
    const { after } = await failAndResume(r.ResumeSwitch, 'after');
    expect(after).toEqual(['after', 'end']);
  });

  test('resume from a given step re-runs it and everything after it', async () => {
    process.env.TRIB_LOG = log;
    const first = await runFlow(r.ResumeLinear, { home, envPass: PASS, maxWorkers: 1 });
    executions();
    const again = await resumeFlow(r.ResumeLinear, { home, envPass: PASS, step: 'b', originRunId: first.runId });
    expect(again.status).toBe('succeeded');
    expect(executions()).toEqual(['b', 'c', 'end']);
    expect(await endHashes(again)).toEqual(await endHashes(first));
    await first.close();
    await again.close();
  });
});

test('resume --dry-run plan: clone vs re-run, and why', async () => {
  process.env.TRIB_FAIL = 'body[3]';
  const failed = await runFlow(r.ResumeForeach, { home, envPass: PASS, maxWorkers: 1, params: { n: 5 } });
  delete process.env.TRIB_FAIL;
  const plan = await planResume(r.ResumeForeach, { home });
  expect(plan.originRunId).toBe(failed.runId);
  const act = Object.fromEntries(plan.entries.map((e) => [e.key ?? `${e.step}:never`, e.action]));
  expect(act).toMatchObject({
    _parameters: 'clone',
    start: 'clone',
    'body[0]': 'clone',
    'body[2]': 'clone',
    'body[3]': 're-run',
    'join:never': 'run',
    'end:never': 'run',
  });
  const text = formatResumePlan(plan);
  expect(text).toContain(`re-run  body[3] ← ResumeForeach/${failed.runId}/body/`);
  expect(text).toContain('failed in run');
  expect(text).toContain('USER_CODE: Error: injected failure in body[3]');
  await failed.close();
});

test('a step saves 3 checkpoints and dies; its retry starts from the third', async () => {
  const marker = join(home, `ckpt-${Date.now()}`);
  const run = await runFlow(r.CheckpointFlow, { home, envPass: PASS, params: { marker } });
  expect(run.error?.message).toBeUndefined();
  expect(run.status).toBe('succeeded');
  const data = await run.data('start');
  expect(data.resumedFrom).toEqual({ step: 3 });
  expect(data.seen).toBe(3);
  const start = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items[0]!;
  const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: start.taskId });
  expect(attempts.map((a) => [a.status, a.error?.code])).toEqual([
    ['failed', 'WORKER_LOST'],
    ['succeeded', undefined],
  ]);
  const meta = await run.metadata.getMetadata({ flow: run.flow, runId: run.runId, taskId: start.taskId });
  expect(Object.keys(meta).filter((k) => k.startsWith('checkpoint:'))).toHaveLength(3);
  await run.close();
});

test('a resumed task gets the checkpoints its failed namesake saved in the origin run', async () => {
  process.env.TRIB_FAIL = 'work';
  const failed = await runFlow(r.CheckpointResumeFlow, { home, envPass: PASS });
  expect(failed.status).toBe('failed');
  delete process.env.TRIB_FAIL;
  const resumed = await resumeFlow(r.CheckpointResumeFlow, { home, envPass: PASS });
  expect(resumed.status).toBe('succeeded');
  expect((await resumed.data('work')).resumedFrom).toEqual({ i: 3 });
  await failed.close();
  await resumed.close();
});
