/**
 * Runtime unit tests of the scheduler through the in-process executor, with the in-memory
 * reference adapters: every graph shape, parameters, retries, @catch, @timeout, resume, aborts,
 * checkpoints, Run.data() and task logs, in milliseconds each (no child process, no files).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import {
  catchFailure,
  FlowSpec,
  param,
  resumeFlow,
  retry,
  runFlow,
  step,
  timeout,
  TributaryError,
  type Inputs,
  type MetadataStore,
  type RunResult as Run,
  type RunFlowOptions,
  type TaskRecord,
} from '../src/index.ts';
import { createMemoryDatastore, type MemoryDatastore } from '../../conformance/src/reference/memory-datastore.ts';
import { createMemoryMetadataStore, type MemoryMetadataStore } from '../../conformance/src/reference/memory-metadata-store.ts';

const fileStarted = performance.now();
afterAll(() => {
  process.stderr.write(`issue11-in-process-runtime.test.ts: all tests took ${(performance.now() - fileStarted).toFixed(0)} ms\n`);
});

// ---------------------------------------------------------------------------------------------
// Helpers: fresh memory stores per run, failure injection and an execution log (the steps run in
// this process, so plain module state is enough).

interface Stores {
  datastore: MemoryDatastore;
  metadata: MemoryMetadataStore;
}
const freshStores = (): Stores => ({ datastore: createMemoryDatastore(), metadata: createMemoryMetadataStore() });

async function run(flow: new () => FlowSpec, options: Partial<RunFlowOptions> & Partial<Stores> = {}): Promise<Run> {
  return runFlow(flow, { executor: 'in-process', ...freshStores(), ...options });
}

async function resume(flow: new () => FlowSpec, stores: Stores, options: Parameters<typeof resumeFlow>[1] = {}): Promise<Run> {
  return resumeFlow(flow, { executor: 'in-process', ...stores, ...options });
}

/** Task identities to fail (`step` or `step[i,j]`), what succeeded (in order), and an optional gate. */
const inject = {
  fail: new Set<string>(),
  log: [] as string[],
  /** When set, an injected failure waits until this many other tasks of its step have succeeded. */
  gate: undefined as { metadata: MetadataStore; others: number } | undefined,
};
beforeEach(() => {
  inject.fail.clear();
  inject.log.length = 0;
  inject.gate = undefined;
});
const executions = (): string[] => inject.log.splice(0);

function identity(f: FlowSpec): string {
  const idx = f.foreachStack.map((s) => s.index);
  return `${f.current.step}${idx.length ? `[${idx.join(',')}]` : ''}`;
}

/** Called by steps: fails if asked to, else logs the execution. */
async function work(f: FlowSpec): Promise<void> {
  const id = identity(f);
  if (inject.fail.has(id) || inject.fail.has(f.current.step)) {
    const gate = inject.gate;
    if (gate) {
      // Fail only once every other split of this step has committed its success: then the
      // failed run has exactly one unfinished split, whatever the order tasks ran in.
      for (let i = 0; i < 2000; i++) {
        const done = await gate.metadata.listTasks({
          flow: f.current.flow,
          runId: f.current.runId,
          step: f.current.step,
          status: 'succeeded',
        });
        if (done.items.length >= gate.others) break;
        await sleep(1);
      }
    }
    throw new Error(`injected failure in ${id}`);
  }
  inject.log.push(id);
}

async function tasksOf(r: Run, step?: string): Promise<TaskRecord[]> {
  return (await r.metadata.listTasks({ flow: r.flow, runId: r.runId, ...(step ? { step } : {}) })).items;
}

async function attemptsOf(r: Run, step: string) {
  const [task] = await tasksOf(r, step);
  return r.metadata.listAttempts({ flow: r.flow, runId: r.runId, taskId: task!.taskId });
}

/** The end task's artifacts by name → content address. */
async function endHashes(r: Run): Promise<Record<string, string>> {
  const graph = (await r.metadata.getRun(r.flow, r.runId)).graph as { end: string };
  const [end] = await tasksOf(r, graph.end);
  const refs = await r.metadata.listArtifacts({ flow: r.flow, runId: r.runId, taskId: end!.taskId });
  return Object.fromEntries(refs.map((a) => [a.name, a.sha]));
}

/** Nothing of a finished run reads `pending` or `running`. */
async function expectAllFinal(r: Run): Promise<void> {
  const tasks = await tasksOf(r);
  expect(tasks.filter((t) => t.status === 'pending' || t.status === 'running')).toEqual([]);
  for (const t of tasks) {
    const attempts = await r.metadata.listAttempts({ flow: r.flow, runId: r.runId, taskId: t.taskId });
    expect(attempts.filter((a) => a.status === 'running')).toEqual([]);
  }
  expect((await r.metadata.getRun(r.flow, r.runId)).status).toBe(r.status);
}

async function endData(flow: new () => FlowSpec, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const r = await run(flow, { params });
  expect(r.error?.message).toBeUndefined();
  expect(r.status).toBe('succeeded');
  return r.data();
}

// ---------------------------------------------------------------------------------------------
// Flows

class LinearFlow extends FlowSpec {
  @param({ default: 2 }) factor!: number;
  declare value: number;
  trail!: string[];

  @step start() {
    this.value = 1;
    this.trail = ['start'];
    this.next(this.double);
  }
  @step double() {
    this.value = this.value * this.factor;
    this.trail = [...this.trail, 'double'];
    this.next(this.addOne);
  }
  @step addOne() {
    this.value += 1;
    this.trail.push('addOne'); // an in-place change of a loaded artifact is saved too
    this.next(this.end);
  }
  @step end() {
    this.trail.push('end');
  }
}

class BranchFlow extends FlowSpec {
  declare base: number;
  shared!: string;
  a!: number;
  b!: number;
  total!: number;
  names!: string[];

  @step start() {
    this.base = 10;
    this.shared = 'same everywhere';
    this.next(this.left, this.right);
  }
  @step left() {
    this.a = this.base + 1;
    this.next(this.join);
  }
  @step right() {
    this.b = this.base + 2;
    this.next(this.join);
  }
  @step join(inputs: Inputs<BranchFlow>) {
    this.total = inputs.left.a + inputs.right.b;
    this.names = inputs.map((i) => (i.a !== undefined ? 'left' : 'right'));
    this.mergeArtifacts(inputs, { exclude: ['a', 'b'] });
    this.next(this.end);
  }
  @step end() {}
}

class ConflictFlow extends FlowSpec {
  v!: number;
  @step start() {
    this.next(this.left, this.right);
  }
  @step left() {
    this.v = 1;
    this.next(this.join);
  }
  @step right() {
    this.v = 2;
    this.next(this.join);
  }
  @step join(inputs: Inputs<ConflictFlow>) {
    this.mergeArtifacts(inputs);
    this.next(this.end);
  }
  @step end() {}
}

class NestedBranchFlow extends FlowSpec {
  x!: number;
  y!: number;
  z!: number;
  inner!: number;
  result!: number;

  @step start() {
    this.next(this.outerA, this.outerB);
  }
  @step outerA() {
    this.next(this.innerX, this.innerY);
  }
  @step innerX() {
    this.x = 1;
    this.next(this.innerJoin);
  }
  @step innerY() {
    this.y = 2;
    this.next(this.innerJoin);
  }
  @step innerJoin(inputs: Inputs<NestedBranchFlow>) {
    this.inner = inputs.innerX.x + inputs.innerY.y;
    this.next(this.outerJoin);
  }
  @step outerB() {
    this.z = 100;
    this.next(this.outerJoin);
  }
  @step outerJoin(inputs: Inputs<NestedBranchFlow>) {
    this.result = inputs.innerJoin.inner + inputs.outerB.z;
    this.next(this.end);
  }
  @step end() {}
}

class ForeachFlow extends FlowSpec {
  items!: number[];
  square!: number;
  position!: number;
  squares!: number[];
  positions!: number[];

  @step start() {
    this.items = [3, 1, 4, 1, 5];
    this.next(this.body, { foreach: 'items' });
  }
  @step async body() {
    // Later splits finish first: the join's inputs still come in split order.
    await sleep((5 - this.index) * 3);
    this.square = this.input * this.input;
    this.position = this.index;
    inject.log.push(`body[${this.index}]`);
    this.next(this.join);
  }
  @step join(inputs: Inputs<ForeachFlow>) {
    this.squares = inputs.map((i) => i.square);
    this.positions = inputs.map((i) => i.position);
    this.mergeArtifacts(inputs, { include: ['items'] });
    this.next(this.end);
  }
  @step end() {}
}

class NestedForeachFlow extends FlowSpec {
  rows!: string[];
  cols!: number[];
  cell!: string;
  row!: string[];
  grid!: string[][];

  @step start() {
    this.rows = ['a', 'b', 'c'];
    this.next(this.perRow, { foreach: 'rows' });
  }
  @step perRow() {
    this.cols = [1, 2];
    this.next(this.perCell, { foreach: 'cols' });
  }
  @step perCell() {
    const [outer, inner] = this.foreachStack;
    this.cell = `${this.rows[outer!.index]}${this.input}@${outer!.index},${inner!.index}`;
    this.next(this.joinCells);
  }
  @step joinCells(inputs: Inputs<NestedForeachFlow>) {
    this.row = inputs.map((i) => i.cell);
    this.next(this.joinRows);
  }
  @step joinRows(inputs: Inputs<NestedForeachFlow>) {
    this.grid = inputs.map((i) => i.row);
    this.next(this.end);
  }
  @step end() {}
}

class ForeachInBranchFlow extends FlowSpec {
  xs!: number[];
  doubled!: number;
  sumDoubled!: number;
  label!: string;
  summary!: string;

  @step start() {
    this.next(this.fan, this.plain);
  }
  @step fan() {
    this.xs = [1, 2, 3, 4];
    this.next(this.work, { foreach: 'xs' });
  }
  @step work() {
    this.doubled = this.input * 2;
    this.next(this.gather);
  }
  @step gather(inputs: Inputs<ForeachInBranchFlow>) {
    this.sumDoubled = inputs.reduce((s, i) => s + i.doubled, 0);
    this.next(this.join);
  }
  @step plain() {
    this.label = 'plain';
    this.next(this.join);
  }
  @step join(inputs: Inputs<ForeachInBranchFlow>) {
    this.summary = `${inputs.plain.label}:${inputs.gather.sumDoubled}`;
    this.next(this.end);
  }
  @step end() {}
}

class SwitchRouteFlow extends FlowSpec {
  @param({ default: 7 }) n!: number;
  parity!: string;
  message!: string;

  @step start() {
    this.parity = this.n % 2 === 0 ? 'even' : 'odd';
    this.next({ even: this.onEven, odd: this.onOdd }, { condition: 'parity' });
  }
  @step onEven() {
    this.message = `${this.n} is even`;
    this.next(this.end);
  }
  @step onOdd() {
    this.message = `${this.n} is odd`;
    this.next(this.end);
  }
  @step end() {}
}

class SwitchLoopFlow extends FlowSpec {
  @param({ default: 5 }) target!: number;
  count!: number;
  visits!: number[];
  more!: boolean;

  @step start() {
    this.count = 0;
    this.visits = [];
    this.next(this.loop);
  }
  @step loop() {
    this.count += 1;
    this.visits = [...this.visits, this.count];
    this.more = this.count < this.target;
    this.next({ true: this.loop, false: this.end }, { condition: 'more' });
  }
  @step end() {}
}

class ParamFlow extends FlowSpec {
  @param({ help: 'who to greet' }) who!: string;
  @param() times = 2;
  @param() loud = false;
  @param() grid = { lr: [0.1] };
  greeting!: string;
  seenInEnd!: string;

  @step start() {
    const g = `hello ${this.who}`;
    this.greeting = Array.from({ length: this.times }, () => (this.loud ? g.toUpperCase() : g)).join(' ');
    this.next(this.middle);
  }
  @step middle() {
    this.next(this.end);
  }
  @step end() {
    this.seenInEnd = `${this.who}/${this.times}/${this.loud}/${this.grid.lr.join(',')}`;
  }
}

class ParamWriteFlow extends FlowSpec {
  @param() times = 2;
  @step start() {
    (this as { times: number }).times = 3;
    this.next(this.end);
  }
  @step end() {}
}

class RetryFlow extends FlowSpec {
  succeededAt!: number;
  @step start() {
    this.next(this.flaky);
  }
  @retry({ times: 3 })
  @step
  flaky() {
    if (this.current.attempt < 2) throw new Error(`attempt ${this.current.attempt} failed`);
    this.succeededAt = this.current.attempt;
    this.next(this.end);
  }
  @step end() {}
}

class RetrySpentFlow extends FlowSpec {
  @retry({ times: 1 })
  @step
  start() {
    throw new Error(`attempt ${this.current.attempt} failed`);
    this.next(this.end);
  }
  @step end() {}
}

class SystemRetryFlow extends FlowSpec {
  @retry({ times: 3, only: 'system' })
  @step
  start() {
    if (this.current.attempt >= 0) throw new Error('a bug, not a system failure');
    this.next(this.end);
  }
  @step end() {}
}

class CatchFlow extends FlowSpec {
  failure!: { code: string; message: string };
  after!: string;
  @catchFailure({ var: 'failure', printException: false })
  @retry({ times: 1 })
  @step
  start() {
    if (this.current.attempt < 5) throw new Error(`attempt ${this.current.attempt} failed`);
    this.next(this.end);
  }
  @step end() {
    this.after = `reached end after ${this.failure.message}`;
  }
}

class CatchDefaultVarFlow extends FlowSpec {
  seen!: string;
  @step start() {
    this.next(this.risky);
  }
  @catchFailure({ printException: false })
  @step
  risky() {
    throw new TypeError('no luck');
    this.next(this.end);
  }
  @step end() {
    this.seen = (this as unknown as { _exception: { message: string } })._exception.message;
  }
}

/** A step that awaits a 2 s timer (its first `stuckAttempts` attempts) while its @timeout is 0.05 s. */
class TimeoutFlow extends FlowSpec {
  @param() stuckAttempts = 1;
  attemptThatFinished!: number;
  @timeout({ seconds: 0.05 })
  @step
  async start() {
    if (this.current.attempt < this.stuckAttempts) await sleep(2000, undefined, { ref: false });
    this.attemptThatFinished = this.current.attempt;
    this.next(this.end);
  }
  @step end() {}
}

class TimeoutRetryFlow extends FlowSpec {
  attemptThatFinished!: number;
  @retry({ times: 2, only: 'system' })
  @timeout({ seconds: 0.05 })
  @step
  async start() {
    if (this.current.attempt === 0) await sleep(2000, undefined, { ref: false });
    this.attemptThatFinished = this.current.attempt;
    this.next(this.end);
  }
  @step end() {}
}

class ResumeLinear extends FlowSpec {
  v!: number;
  @step async start() {
    this.v = 1;
    await work(this);
    this.next(this.a);
  }
  @step async a() {
    this.v = this.v * 3 + 1;
    await work(this);
    this.next(this.b);
  }
  @step async b() {
    this.v = this.v * 3 + 2;
    await work(this);
    this.next(this.c);
  }
  @step async c() {
    this.v = this.v * 3 + 3;
    await work(this);
    this.next(this.end);
  }
  @step async end() {
    await work(this);
  }
}

class ResumeForeach extends FlowSpec {
  @param({ default: 6 }) n!: number;
  @param({ default: 1 }) offset!: number;
  items!: number[];
  sq!: number;
  all!: number[];
  total!: number;
  @step async start() {
    this.items = Array.from({ length: this.n }, (_, i) => i + this.offset);
    await work(this);
    this.next(this.body, { foreach: 'items' });
  }
  @step async body() {
    this.sq = this.input * this.input;
    await work(this);
    this.next(this.join);
  }
  @step async join(inputs: Inputs<ResumeForeach>) {
    this.all = inputs.map((i) => i.sq);
    await work(this);
    this.next(this.end);
  }
  @step async end() {
    this.total = this.all.reduce((s, x) => s + x, 0);
    await work(this);
  }
}

/** Holds its foreach splits until released: for aborts. */
const held = { release: () => undefined as void, promise: Promise.resolve() };
function hold(): void {
  let release!: () => void;
  held.promise = new Promise<void>((r) => (release = r));
  held.release = release;
}
class SlowForeach extends FlowSpec {
  items!: number[];
  out!: number;
  @step start() {
    this.items = [0, 1, 2, 3, 4, 5];
    this.next(this.body, { foreach: 'items' });
  }
  @step async body() {
    await held.promise;
    this.out = this.input;
    inject.log.push(`body[${this.index}] finished`);
    this.next(this.join);
  }
  @step join(_inputs: Inputs<SlowForeach>) {
    this.next(this.end);
  }
  @step end() {}
}

class CheckpointRetryFlow extends FlowSpec {
  resumedFrom!: unknown;
  seen!: number;
  @retry({ times: 1 })
  @step
  async start() {
    this.resumedFrom = (await this.checkpoint.latest<{ step: number }>()) ?? null;
    this.seen = this.checkpoint.list().length;
    if (this.current.attempt === 0) {
      for (let i = 1; i <= 3; i++) await this.checkpoint.save({ step: i });
      throw new Error('lost after three checkpoints');
    }
    this.next(this.end);
  }
  @step end() {}
}

class CheckpointResumeFlow extends FlowSpec {
  resumedFrom!: unknown;
  @step start() {
    this.next(this.work);
  }
  @step async work() {
    this.resumedFrom = (await this.checkpoint.latest()) ?? null;
    if (this.resumedFrom === null) for (let i = 1; i <= 3; i++) await this.checkpoint.save({ i });
    await work(this);
    this.next(this.end);
  }
  @step end() {}
}

class LogFlow extends FlowSpec {
  items!: string[];
  @step start() {
    process.stdout.write('start says hi\n');
    this.items = ['x', 'y'];
    this.next(this.body, { foreach: 'items' });
  }
  @step async body() {
    // Two splits run at once and interleave their output: each log holds only its own lines.
    for (let i = 0; i < 3; i++) {
      process.stdout.write(`${this.input} line ${i}\n`);
      await sleep(1);
    }
    process.stderr.write(`${this.input} warns\n`);
    this.next(this.join);
  }
  @step join(_inputs: Inputs<LogFlow>) {
    this.next(this.end);
  }
  @retry({ times: 1 })
  @step
  end() {
    process.stdout.write(`end attempt ${this.current.attempt}\n`);
    if (this.current.attempt === 0) throw new RangeError('first end attempt fails');
  }
}

class EmptyForeachFlow extends FlowSpec {
  items!: number[];
  @step start() {
    this.items = [];
    this.next(this.body, { foreach: 'items' });
  }
  @step body() {
    this.next(this.join);
  }
  @step join(_inputs: Inputs<EmptyForeachFlow>) {
    this.next(this.end);
  }
  @step end() {}
}

class CatchForeachFlow extends FlowSpec {
  items!: number[];
  v!: number;
  err!: { message: string } | undefined;
  out!: unknown[];
  @step start() {
    this.items = [1, 2, 3];
    this.next(this.body, { foreach: 'items' });
  }
  @catchFailure({ var: 'err', printException: false })
  @step
  body() {
    if (this.input === 2) throw new Error('two is unlucky');
    this.v = this.input * 10;
    this.next(this.join);
  }
  @step join(inputs: Inputs<CatchForeachFlow>) {
    this.out = inputs.map((i) => i.err?.message ?? i.v);
    this.next(this.end);
  }
  @step end() {}
}

class RetryDelayFlow extends FlowSpec {
  items!: number[];
  tries!: number;
  @step start() {
    this.items = [0, 1, 2];
    this.next(this.body, { foreach: 'items' });
  }
  @retry({ times: 2, minutesBetween: 0.0002 })
  @step
  body() {
    if (this.current.attempt === 0) throw new Error(`split ${this.index} fails once`);
    this.tries = this.current.attempt + 1;
    this.next(this.join);
  }
  @step join(inputs: Inputs<RetryDelayFlow>) {
    this.tries = inputs.reduce((s, i) => s + i.tries, 0);
    this.next(this.end);
  }
  @step end() {}
}

class EchoFlow extends FlowSpec {
  @step start() {
    process.stdout.write('echo me\n');
    this.next(this.end);
  }
  @step end() {}
}

class ConcurrentLogFlow extends FlowSpec {
  @step async start() {
    for (let i = 0; i < 3; i++) {
      process.stdout.write(`run ${this.current.runId} line ${i}\n`);
      await sleep(1);
    }
    this.next(this.end);
  }
  @step end() {}
}

/** Attempt 0 times out, then (still running in this process) saves a checkpoint. */
class ZombieCheckpointFlow extends FlowSpec {
  @retry({ times: 1, only: 'system' })
  @timeout({ seconds: 0.02 })
  @step
  async start() {
    if (this.current.attempt === 0) {
      await sleep(60, undefined, { ref: false });
      await this.checkpoint.save({ from: 'the timed-out attempt' }).catch(() => undefined);
      inject.log.push('zombie saved');
    }
    this.next(this.end);
  }
  @step end() {}
}

// ---------------------------------------------------------------------------------------------

describe('issue 11 item 2: every graph shape runs in-process and delivers its artifacts', () => {
  test('issue 11 item 2: linear (declare fields, params, in-place change of a loaded artifact)', async () => {
    expect(await endData(LinearFlow, { factor: 5 })).toEqual({ factor: 5, value: 6, trail: ['start', 'double', 'addOne', 'end'] });
  });

  test('issue 11 item 2: branch + join: inputs by step name and in order, mergeArtifacts of equal values', async () => {
    expect(await endData(BranchFlow)).toEqual({ base: 10, shared: 'same everywhere', total: 23, names: ['left', 'right'] });
  });

  test('issue 11 item 2: mergeArtifacts of values that differ between inputs fails the join with CONFLICT', async () => {
    const r = await run(ConflictFlow);
    expect(r.status).toBe('failed');
    const cause = r.error!.cause as TributaryError;
    expect(cause.code).toBe('CONFLICT');
    expect(cause.message).toMatch(/^Step join cannot merge artifact 'v': its value differs between inputs \(from left, right\)/);
    await expectAllFinal(r);
  });

  test('issue 11 item 2: nested branches', async () => {
    expect(await endData(NestedBranchFlow)).toEqual({ result: 103 });
  });

  test('issue 11 item 2: foreach: this.input and this.index per split, join inputs in split order', async () => {
    const r = await run(ForeachFlow, { maxWorkers: 5 });
    expect(r.status).toBe('succeeded');
    expect(await r.data()).toEqual({ items: [3, 1, 4, 1, 5], squares: [9, 1, 16, 1, 25], positions: [0, 1, 2, 3, 4] });
    const bodies = await tasksOf(r, 'body');
    expect(bodies.map((t) => t.key)).toEqual(['body[0]', 'body[1]', 'body[2]', 'body[3]', 'body[4]']);
    // The splits really ran at once and finished in another order than their index.
    expect(executions()).not.toEqual(['body[0]', 'body[1]', 'body[2]', 'body[3]', 'body[4]']);
  });

  test('issue 11 item 2: nested foreach (foreachStack, one task per cell, joins in order)', async () => {
    const r = await run(NestedForeachFlow);
    expect(r.status).toBe('succeeded');
    expect((await r.data()).grid).toEqual([
      ['a1@0,0', 'a2@0,1'],
      ['b1@1,0', 'b2@1,1'],
      ['c1@2,0', 'c2@2,1'],
    ]);
    expect(await tasksOf(r, 'perCell')).toHaveLength(6);
    expect(await tasksOf(r, 'joinCells')).toHaveLength(3);
  });

  test('issue 11 item 2: foreach inside a branch', async () => {
    expect(await endData(ForeachInBranchFlow)).toEqual({ summary: 'plain:20' });
  });

  test('issue 11 item 2: a foreach over an empty array fails its step (zero splits)', async () => {
    const r = await run(EmptyForeachFlow);
    expect(r.status).toBe('failed');
    expect(r.error!.cause).toMatchObject({
      code: 'TRANSITION_MISMATCH',
      message: "Foreach iterator over 'items' in step start produced zero splits.",
    });
    expect(await tasksOf(r, 'body')).toEqual([]);
    await expectAllFinal(r);
  });

  test('issue 11 item 2: a switch runs exactly one case', async () => {
    for (const [n, taken, skipped] of [
      [7, 'onOdd', 'onEven'],
      [8, 'onEven', 'onOdd'],
    ] as const) {
      const r = await run(SwitchRouteFlow, { params: { n } });
      expect(r.status).toBe('succeeded');
      expect((await r.data()).message).toBe(`${n} is ${n % 2 ? 'odd' : 'even'}`);
      expect(await tasksOf(r, taken)).toHaveLength(1);
      expect(await tasksOf(r, skipped)).toHaveLength(0);
      const [start] = await tasksOf(r, 'start');
      expect((await r.metadata.getMetadata({ flow: r.flow, runId: r.runId, taskId: start!.taskId }))['switch-case']).toBe(
        n % 2 ? 'odd' : 'even',
      );
    }
  });

  test('issue 11 item 2: a switch loop runs one task per iteration', async () => {
    const r = await run(SwitchLoopFlow, { params: { target: 4 } });
    expect(r.status).toBe('succeeded');
    expect(await r.data()).toEqual({ target: 4, count: 4, more: false, visits: [1, 2, 3, 4] });
    expect((await tasksOf(r, 'loop')).map((t) => t.key)).toEqual(['loop', 'loop#1', 'loop#2', 'loop#3']);
    // Each iteration's task takes the previous one as its input.
    const loops = await tasksOf(r, 'loop');
    for (let i = 1; i < loops.length; i++) expect(loops[i]!.parents).toEqual([loops[i - 1]!.taskId]);
  });
});

describe('issue 11 item 2: parameters', () => {
  test('issue 11 item 2: defaults, given values, strings parsed by type, visible in every step and in Run.data()', async () => {
    const r = await run(ParamFlow, { params: { who: 'ada', times: '3', loud: 'true' } });
    expect(r.error?.message).toBeUndefined();
    expect(await r.data()).toEqual({
      who: 'ada',
      times: 3,
      loud: true,
      grid: { lr: [0.1] },
      greeting: 'HELLO ADA HELLO ADA HELLO ADA',
      seenInEnd: 'ada/3/true/0.1',
    });
    expect((await r.metadata.getRun(r.flow, r.runId)).params).toEqual({ who: 'ada', times: 3, loud: true, grid: { lr: [0.1] } });
    // The _parameters pseudo-task holds them, and the start step takes it as its input.
    const [params] = await tasksOf(r, '_parameters');
    const [start] = await tasksOf(r, 'start');
    expect(start!.parents).toEqual([params!.taskId]);
    expect(await r.data('_parameters')).toEqual({ who: 'ada', times: 3, loud: true, grid: { lr: [0.1] } });
  });

  test('issue 11 item 2: a missing, unknown or ill-typed parameter is refused before any run is recorded', async () => {
    const stores = freshStores();
    await expect(run(ParamFlow, { ...stores })).rejects.toMatchObject({ code: 'PARAM_INVALID' });
    await expect(run(ParamFlow, { ...stores, params: { who: 'x', size: 1 } })).rejects.toThrow(
      'Unknown parameter --size for ParamFlow. Its parameters are: --who, --times, --loud, --grid.',
    );
    await expect(run(ParamFlow, { ...stores, params: { who: 'x', times: 'lots' } })).rejects.toThrow(
      'Parameter --times of ParamFlow must be a number, got "lots".',
    );
    expect((await stores.metadata.listRuns({ flow: 'ParamFlow' })).items).toEqual([]);
  });

  test('issue 11 item 2: assigning a parameter in a step fails the task', async () => {
    const r = await run(ParamWriteFlow);
    expect(r.status).toBe('failed');
    expect((r.error!.cause as Error).message).toMatch(/Parameter 'times' is read-only/);
  });
});

describe('issue 11 item 2: retries, @catch and @timeout', () => {
  test('issue 11 item 2: @retry re-runs a failed task with the same task id; every attempt is recorded', async () => {
    const r = await run(RetryFlow);
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    expect((await r.data('flaky')).succeededAt).toBe(2);
    const flaky = await tasksOf(r, 'flaky');
    expect(flaky).toHaveLength(1);
    expect(flaky[0]).toMatchObject({ status: 'succeeded', attempts: 3 });
    const attempts = await attemptsOf(r, 'flaky');
    expect(attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
      [0, 'failed', 'USER_CODE'],
      [1, 'failed', 'USER_CODE'],
      [2, 'succeeded', undefined],
    ]);
    expect(attempts[0]!.error!.message).toBe('Error: attempt 0 failed');
    // Only the successful attempt's artifacts count.
    expect(await r.metadata.listArtifacts({ flow: r.flow, runId: r.runId, taskId: flaky[0]!.taskId })).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'succeededAt', attempt: 2 })]),
    );
  });

  test('issue 11 item 2: when retries are spent the run fails with the last error', async () => {
    const r = await run(RetrySpentFlow);
    expect(r.status).toBe('failed');
    expect(r.error!.code).toBe('RUN_FAILED');
    expect(r.error!.message).toMatch(/^Task RetrySpentFlow\/\d+\/start\/\d+ failed: Error: attempt 1 failed$/);
    expect((await attemptsOf(r, 'start')).map((a) => a.status)).toEqual(['failed', 'failed']);
    await expectAllFinal(r);
  });

  test("issue 11 item 2: @retry({ only: 'system' }) does not retry a user-code error", async () => {
    const r = await run(SystemRetryFlow);
    expect(r.status).toBe('failed');
    expect(await attemptsOf(r, 'start')).toMatchObject([{ attempt: 0, status: 'failed', error: { code: 'USER_CODE' } }]);
    await expectAllFinal(r);
  });

  test('issue 11 item 2: @catchFailure stores the error once retries are spent, and the flow goes on', async () => {
    const r = await run(CatchFlow);
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    const data = await r.data();
    expect(data.after).toBe('reached end after Error: attempt 1 failed');
    expect(data.failure).toMatchObject({ code: 'USER_CODE', name: 'Error', message: 'Error: attempt 1 failed' });
    expect((await attemptsOf(r, 'start')).map((a) => [a.status, a.error?.code])).toEqual([
      ['failed', 'USER_CODE'],
      ['failed', 'USER_CODE'],
      ['succeeded', undefined],
    ]);
  });

  test('issue 11 item 2: @catchFailure without a var stores the error as _exception', async () => {
    const r = await run(CatchDefaultVarFlow);
    expect(r.status).toBe('succeeded');
    expect((await r.data()).seen).toBe('TypeError: no luck');
    expect((await r.data('risky'))._exception).toMatchObject({ code: 'USER_CODE', name: 'TypeError' });
  });

  test('issue 11 item 2: @catchFailure in a foreach split: the failed split carries the error to the join, the others their values', async () => {
    const r = await run(CatchForeachFlow);
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    expect((await r.data()).out).toEqual([10, 'Error: two is unlucky', 30]);
  });

  test('issue 11 item 2: @retry with minutesBetween waits, then retries every failed split', async () => {
    const r = await run(RetryDelayFlow, { maxWorkers: 1 });
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    expect((await r.data()).tries).toBe(6);
    for (const t of await tasksOf(r, 'body')) expect(t).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  test('issue 11 item 2: an abort while a retry waits for its delay ends the run aborted, nothing unfinished', async () => {
    const ac = new AbortController();
    const r = await run(RetryDelayFlow, {
      maxWorkers: 3,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'task-failed') ac.abort();
      },
    });
    expect(r.status).toBe('aborted');
    await expectAllFinal(r);
    expect(await tasksOf(r, 'join')).toEqual([]);
  });

  test('issue 11 item 2: @timeout ends an attempt that runs too long as TIMEOUT (in-process: the attempt ends, the code is not stopped)', async () => {
    const r = await run(TimeoutFlow);
    expect(r.status).toBe('failed');
    const attempts = await attemptsOf(r, 'start');
    expect(attempts).toMatchObject([{ attempt: 0, status: 'failed', error: { code: 'TIMEOUT' } }]);
    expect(attempts[0]!.error!.message).toMatch(/^TimeoutFlow\/\d+\/start\/\d+ ran longer than its @timeout of 0.05s/);
    expect((r.error!.cause as TributaryError).code).toBe('TIMEOUT');
    await expectAllFinal(r);
  });

  test('issue 11 item 2: @retry (only system failures) recovers from a TIMEOUT', async () => {
    const r = await run(TimeoutRetryFlow);
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    expect((await r.data('start')).attemptThatFinished).toBe(1);
    expect((await attemptsOf(r, 'start')).map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
      [0, 'failed', 'TIMEOUT'],
      [1, 'succeeded', undefined],
    ]);
  });
});

describe('issue 11 item 2: resume', () => {
  test('issue 11 item 2: a run failing in one foreach split is resumed: the other splits are cloned, the end equals an uninterrupted run', async () => {
    const clean = await run(ResumeForeach);
    expect(clean.status).toBe('succeeded');
    const expected = await endHashes(clean);
    const all = executions();
    expect(all).toHaveLength(6 + 3);

    const stores = freshStores();
    inject.fail.add('body[2]');
    inject.gate = { metadata: stores.metadata, others: 5 };
    const failed = await run(ResumeForeach, { ...stores, maxWorkers: 6 });
    expect(failed.status).toBe('failed');
    expect((failed.error!.cause as Error).message).toBe('Error: injected failure in body[2]');
    await expectAllFinal(failed);
    const before = executions();
    expect(before.sort()).toEqual(['body[0]', 'body[1]', 'body[3]', 'body[4]', 'body[5]', 'start']);
    inject.fail.clear();

    const resumed = await resume(ResumeForeach, stores);
    expect(resumed.error?.message).toBeUndefined();
    expect(resumed.status).toBe('succeeded');
    expect(resumed.originRunId).toBe(failed.runId);
    expect((await resumed.metadata.getRun(resumed.flow, resumed.runId)).originRunId).toBe(failed.runId);
    expect(executions()).toEqual(['body[2]', 'join', 'end']); // nothing that succeeded ran again
    expect(resumed.clonedTasks).toBe(6); // start and five splits (the parameters are cloned before any task)
    const bodies = await tasksOf(resumed, 'body');
    expect(bodies.map((t) => [t.key, t.originPathspec !== undefined])).toEqual([
      ['body[0]', true],
      ['body[1]', true],
      ['body[2]', false],
      ['body[3]', true],
      ['body[4]', true],
      ['body[5]', true],
    ]);
    const originBodies = await tasksOf(failed, 'body');
    expect(bodies[0]!.originPathspec).toBe(`ResumeForeach/${failed.runId}/body/${originBodies[0]!.taskId}`);
    expect(await endHashes(resumed)).toEqual(expected);
    expect(await resumed.data()).toEqual(await clean.data());
    expect((await resumed.data()).all).toEqual([1, 4, 9, 16, 25, 36]);
  });

  test('issue 11 item 2: resume from a given step re-runs it and everything after it', async () => {
    const stores = freshStores();
    const first = await run(ResumeLinear, stores);
    expect(first.status).toBe('succeeded');
    expect(executions()).toEqual(['start', 'a', 'b', 'c', 'end']);
    const again = await resume(ResumeLinear, stores, { step: 'b', originRunId: first.runId });
    expect(again.status).toBe('succeeded');
    expect(executions()).toEqual(['b', 'c', 'end']);
    expect(again.clonedTasks).toBe(2);
    expect(await endHashes(again)).toEqual(await endHashes(first));
    expect((await again.data()).v).toBe(((1 * 3 + 1) * 3 + 2) * 3 + 3);
  });

  test('issue 11 item 2: a resume of a run that failed in a linear step clones the steps before it', async () => {
    const stores = freshStores();
    inject.fail.add('c');
    const failed = await run(ResumeLinear, stores);
    expect(failed.status).toBe('failed');
    expect(executions()).toEqual(['start', 'a', 'b']);
    inject.fail.clear();
    const resumed = await resume(ResumeLinear, stores);
    expect(resumed.status).toBe('succeeded');
    expect(executions()).toEqual(['c', 'end']);
    expect(resumed.clonedTasks).toBe(3);
    expect((await resumed.data()).v).toBe(((1 * 3 + 1) * 3 + 2) * 3 + 3);
  });

  test('issue 11 item 2 (property): any foreach width and failing split, split order or not: resume gives the uninterrupted result', async () => {
    const reference = new Map<string, Record<string, string>>();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 7 }),
        fc.nat(),
        fc.integer({ min: -3, max: 3 }),
        fc.boolean(),
        async (n, k, offset, allAtOnce) => {
          const failAt = k % n;
          inject.fail.clear();
          executions();
          const key = `${n}/${offset}`;
          if (!reference.has(key)) {
            const clean = await run(ResumeForeach, { params: { n, offset } });
            expect(clean.status).toBe('succeeded');
            reference.set(key, await endHashes(clean));
            executions();
          }
          const stores = freshStores();
          inject.fail.add(`body[${failAt}]`);
          // Either every split runs at once and the failing one fails last, or they run one at a
          // time and the splits after the failing one never start.
          if (allAtOnce) inject.gate = { metadata: stores.metadata, others: n - 1 };
          const failed = await run(ResumeForeach, { ...stores, params: { n, offset }, maxWorkers: allAtOnce ? n : 1 });
          expect(failed.status).toBe('failed');
          await expectAllFinal(failed);
          const before = executions();
          inject.fail.clear();
          inject.gate = undefined;

          const resumed = await resume(ResumeForeach, stores);
          expect(resumed.status).toBe('succeeded');
          const after = executions();
          expect(after.filter((id) => before.includes(id))).toEqual([]);
          const everyTask = ['start', ...Array.from({ length: n }, (_, i) => `body[${i}]`), 'join', 'end'];
          expect([...before, ...after].sort()).toEqual(everyTask.sort());
          expect(resumed.clonedTasks).toBe(before.length);
          expect(after).toContain(`body[${failAt}]`);
          expect(await endHashes(resumed)).toEqual(reference.get(key));
          const items = Array.from({ length: n }, (_, i) => i + offset);
          expect((await resumed.data()).all).toEqual(items.map((x) => x * x));
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('issue 11 item 2: aborts', () => {
  test('issue 11 item 2: an AbortSignal stops the run: status aborted, nothing left running or pending, late results ignored', async () => {
    hold();
    const ac = new AbortController();
    const r = await run(SlowForeach, {
      maxWorkers: 2,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'task-started' && e.step === 'body') ac.abort();
      },
    });
    expect(r.status).toBe('aborted');
    expect(r.error!.code).toBe('ABORTED');
    expect((await r.metadata.getRun(r.flow, r.runId)).status).toBe('aborted');
    await expectAllFinal(r);
    const bodies = await tasksOf(r, 'body');
    expect(bodies).toHaveLength(6);
    for (const t of bodies) {
      expect(t.status).toBe('failed');
      const attempts = await r.metadata.listAttempts({ flow: r.flow, runId: r.runId, taskId: t.taskId });
      expect(attempts).toMatchObject([{ status: 'failed', error: { code: 'ABORTED' } }]);
    }
    expect(await tasksOf(r, 'join')).toEqual([]);
    // The cancelled attempts' code still runs in this process (it cannot be stopped); when it
    // finishes, nothing of the finished run changes.
    const snapshot = await tasksOf(r, 'body');
    held.release();
    await sleep(10);
    expect(executions().length).toBeGreaterThan(0);
    expect(await tasksOf(r, 'body')).toEqual(snapshot);
    expect(await tasksOf(r, 'join')).toEqual([]);
  });

  test('issue 11 item 2: a run whose signal is already aborted is recorded aborted, with no unfinished task', async () => {
    const r = await run(ResumeLinear, { signal: AbortSignal.abort() });
    expect(r.status).toBe('aborted');
    await expectAllFinal(r);
    expect(await tasksOf(r, 'a')).toEqual([]);
    executions();
  });

  // Product bug (reported): with a signal that is already aborted, the start step is still
  // submitted, and in-process its code runs to completion (side effects included).
  test('issue 11 item 2: a run whose signal is already aborted runs no user code', async () => {
    const r = await run(ResumeLinear, { signal: AbortSignal.abort() });
    expect(r.status).toBe('aborted');
    await sleep(5);
    expect(executions()).toEqual([]);
  });
});

describe('issue 11 item 2: checkpoints', () => {
  test('issue 11 item 2: checkpoints saved by a failed attempt are what its retry gets back', async () => {
    const r = await run(CheckpointRetryFlow);
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    expect(await r.data('start')).toEqual({ resumedFrom: { step: 3 }, seen: 3 });
    expect((await attemptsOf(r, 'start')).map((a) => [a.status, a.error?.code])).toEqual([
      ['failed', 'USER_CODE'],
      ['succeeded', undefined],
    ]);
    const [start] = await tasksOf(r, 'start');
    const meta = await r.metadata.getMetadata({ flow: r.flow, runId: r.runId, taskId: start!.taskId });
    const records = Object.entries(meta)
      .filter(([k]) => k.startsWith('checkpoint:'))
      .map(([, v]) => JSON.parse(v) as { attempt: number; kind: string; name: string });
    expect(records.map((c) => [c.attempt, c.kind, c.name])).toEqual([
      [0, 'value', 'default'],
      [0, 'value', 'default'],
      [0, 'value', 'default'],
    ]);
  });

  test('issue 11 item 2: a resumed task gets the checkpoints its failed namesake saved in the origin run', async () => {
    const stores = freshStores();
    inject.fail.add('work');
    const failed = await run(CheckpointResumeFlow, stores);
    expect(failed.status).toBe('failed');
    inject.fail.clear();
    const resumed = await resume(CheckpointResumeFlow, stores);
    expect(resumed.status).toBe('succeeded');
    expect((await resumed.data('work')).resumedFrom).toEqual({ i: 3 });
  });
});

describe('issue 11 item 2: Run.data() and task logs', () => {
  test("issue 11 item 2: Run.data() decodes the end step's artifacts by default, a named step's otherwise, NOT_FOUND without a successful task", async () => {
    const r = await run(SwitchRouteFlow, { params: { n: 4 } });
    expect(r.status).toBe('succeeded');
    expect(await r.data()).toEqual({ n: 4, parity: 'even', message: '4 is even' });
    expect(await r.data('start')).toEqual({ n: 4, parity: 'even' });
    await expect(r.data('onOdd')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const fe = await run(ForeachFlow);
    // A step with several tasks gives its first.
    expect(await fe.data('body')).toMatchObject({ square: 9, position: 0 });
    executions();
  });

  test('issue 11 item 2: each attempt stores its own stdout/stderr in the datastore at <flow>/<runId>/<step>/<taskId>/<attempt>.<stream>.log', async () => {
    const stores = freshStores();
    const r = await run(LogFlow, { ...stores, maxWorkers: 2 });
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe('succeeded');
    const text = async (step: string, index: number, name: string) => {
      const t = (await tasksOf(r, step))[index]!;
      const key = `${r.flow}/${r.runId}/${step}/${t.taskId}/${name}`;
      return (await stores.datastore.head(key)) ? Buffer.from(await stores.datastore.get(key)).toString('utf8') : undefined;
    };
    expect(await text('start', 0, '0.stdout.log')).toBe('start says hi\n');
    expect(await text('start', 0, '0.stderr.log')).toBeUndefined(); // an empty log is not written
    expect(await text('body', 0, '0.stdout.log')).toBe('x line 0\nx line 1\nx line 2\n');
    expect(await text('body', 1, '0.stdout.log')).toBe('y line 0\ny line 1\ny line 2\n');
    expect(await text('body', 0, '0.stderr.log')).toBe('x warns\n');
    expect(await text('body', 1, '0.stderr.log')).toBe('y warns\n');
    expect(await text('join', 0, '0.stdout.log')).toBeUndefined();
    expect(await text('end', 0, '0.stdout.log')).toBe('end attempt 0\n');
    expect(await text('end', 0, '0.stderr.log')).toMatch(/^RangeError: first end attempt fails\n\s+at /);
    expect(await text('end', 0, '1.stdout.log')).toBe('end attempt 1\n');
    expect(await text('end', 0, '1.stderr.log')).toBeUndefined();
  });
});

describe('issue 11 item 2: in-process output and late work', () => {
  test('issue 11 item 2: two runs at once on the same stores keep their task logs apart', async () => {
    const stores = freshStores();
    const both = await Promise.all([run(ConcurrentLogFlow, stores), run(ConcurrentLogFlow, stores)]);
    for (const r of both) {
      expect(r.status).toBe('succeeded');
      const [start] = await tasksOf(r, 'start');
      const log = Buffer.from(await stores.datastore.get(`${r.flow}/${r.runId}/start/${start!.taskId}/0.stdout.log`)).toString('utf8');
      expect(log).toBe([0, 1, 2].map((i) => `run ${r.runId} line ${i}\n`).join(''));
    }
  });

  test('issue 11 item 2: echoLogs with onTaskOutput hands task output to onTaskOutput', async () => {
    const got: string[] = [];
    const r = await run(EchoFlow, { echoLogs: true, onTaskOutput: (stream, text) => got.push(`${stream}:${text}`) });
    expect(r.status).toBe('succeeded');
    expect(got.join('')).toContain('echo me');
  });

  // Product bug (reported): a timed-out in-process attempt keeps running (documented), but what
  // it does afterwards is still recorded: its checkpoint lands in the task's metadata after the
  // attempt was recorded TIMEOUT (and after the task succeeded), where a later attempt or a resume
  // would take it as the newest state.
  test('issue 11 item 2: an attempt that timed out records no checkpoint afterwards', async () => {
    const r = await run(ZombieCheckpointFlow);
    expect(r.status).toBe('succeeded');
    for (let i = 0; i < 500 && !inject.log.includes('zombie saved'); i++) await sleep(2);
    expect(inject.log).toContain('zombie saved');
    const [start] = await tasksOf(r, 'start');
    const meta = await r.metadata.getMetadata({ flow: r.flow, runId: r.runId, taskId: start!.taskId });
    expect(Object.keys(meta).filter((k) => k.startsWith('checkpoint:'))).toEqual([]);
  });
});

describe('issue 11 item 2: escaped errors in-process', () => {
  class EscapeFlow extends FlowSpec {
    @step async start() {
      void Promise.reject(new Error('escaped from start'));
      await sleep(20);
      this.next(this.end);
    }
    @step end() {}
  }

  // An escaped promise rejection is the step's USER_CODE failure in-process too.
  test('issue 11 item 2: a promise rejection that escapes a step fails that task with USER_CODE', async () => {
    const saved = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    const escaped: unknown[] = [];
    process.on('unhandledRejection', (reason) => escaped.push(reason));
    try {
      const r = await run(EscapeFlow);
      // The service's own listener hears it too (Node calls every listener); the task fails.
      expect(r.status).toBe('failed');
      expect(await attemptsOf(r, 'start')).toMatchObject([{ status: 'failed', error: { code: 'USER_CODE' } }]);
    } finally {
      process.removeAllListeners('unhandledRejection');
      for (const l of saved) process.on('unhandledRejection', l);
    }
  });
});
