import fc from 'fast-check';
import type { AttemptOutcome, MetadataStore, RunStatus, TaskRef } from '@tributary/core';
import { outcome, type Outcome } from '../common.ts';
import { MemoryMetadataStore } from '../reference/memory-metadata-store.ts';

/** Ids differ between the reference and the adapter; commands address runs and tasks by creation order. */
interface World {
  model: MemoryMetadataStore;
  real: MetadataStore;
  runs: Array<{ model: string; real: string; flow: string }>;
  tasks: Array<{ model: TaskRef; real: TaskRef; key: string }>;
}

function compare(a: Outcome<unknown>, b: Outcome<unknown>, what: string): void {
  const x = JSON.stringify(a.ok ? { ok: true } : a);
  const y = JSON.stringify(b.ok ? { ok: true } : b);
  if (x !== y) throw new Error(`${what}: the reference gave ${x} but the adapter gave ${y}`);
}

abstract class Cmd implements fc.AsyncCommand<World, World> {
  check(): boolean {
    return true;
  }
  abstract run(world: World): Promise<void>;
}

class CreateRun extends Cmd {
  constructor(readonly flow: string) {
    super();
  }
  override async run(w: World) {
    const run = { flow: this.flow, user: 'u', params: {}, tags: [], systemTags: ['user:u'], codeHash: '', graph: null };
    const [m, r] = [await w.model.createRun(run), await w.real.createRun(run)];
    w.runs.push({ model: m.runId, real: r.runId, flow: this.flow });
  }
  override toString() {
    return `createRun(${this.flow})`;
  }
}

class FinishRun extends Cmd {
  constructor(
    readonly runIndex: number,
    readonly status: Exclude<RunStatus, 'running'>,
  ) {
    super();
  }
  override async run(w: World) {
    const r = w.runs[this.runIndex % Math.max(1, w.runs.length)];
    if (!r) return;
    compare(
      await outcome(() => w.model.finishRun(r.flow, r.model, this.status)),
      await outcome(() => w.real.finishRun(r.flow, r.real, this.status)),
      this.toString(),
    );
  }
  override toString() {
    return `finishRun(#${this.runIndex}, ${this.status})`;
  }
}

class RegisterTask extends Cmd {
  constructor(
    readonly runIndex: number,
    readonly key: string,
  ) {
    super();
  }
  override async run(w: World) {
    const r = w.runs[this.runIndex % Math.max(1, w.runs.length)];
    if (!r) return;
    const t = { flow: r.flow, step: this.key.replace(/\W.*/, ''), key: this.key, parents: [] };
    const a = await outcome(() => w.model.registerTask({ ...t, runId: r.model }));
    const b = await outcome(() => w.real.registerTask({ ...t, runId: r.real }));
    compare(a, b, this.toString());
    if (a.ok && b.ok)
      w.tasks.push({
        model: { flow: r.flow, runId: r.model, taskId: a.value.taskId },
        real: { flow: r.flow, runId: r.real, taskId: b.value.taskId },
        key: this.key,
      });
  }
  override toString() {
    return `registerTask(run #${this.runIndex}, ${this.key})`;
  }
}

class StartAttempt extends Cmd {
  constructor(
    readonly task: number,
    readonly attempt: number,
  ) {
    super();
  }
  override async run(w: World) {
    const t = w.tasks[this.task % Math.max(1, w.tasks.length)];
    if (!t) return;
    compare(
      await outcome(() => w.model.startAttempt(t.model, this.attempt)),
      await outcome(() => w.real.startAttempt(t.real, this.attempt)),
      this.toString(),
    );
  }
  override toString() {
    return `startAttempt(task #${this.task}, ${this.attempt})`;
  }
}

class FinishAttempt extends Cmd {
  constructor(
    readonly task: number,
    readonly attempt: number,
    readonly ok: boolean,
  ) {
    super();
  }
  override async run(w: World) {
    const t = w.tasks[this.task % Math.max(1, w.tasks.length)];
    if (!t) return;
    const o: AttemptOutcome = this.ok
      ? { status: 'succeeded', artifacts: [{ name: 'x', sha: 'a'.repeat(64), size: 1, type: 'number', encoding: 'msgpack' }] }
      : { status: 'failed', error: { code: 'USER_CODE', message: 'no' } };
    compare(
      await outcome(() => w.model.finishAttempt(t.model, this.attempt, o)),
      await outcome(() => w.real.finishAttempt(t.real, this.attempt, o)),
      this.toString(),
    );
  }
  override toString() {
    return `finishAttempt(task #${this.task}, ${this.attempt}, ${this.ok ? 'ok' : 'failed'})`;
  }
}

class Inspect extends Cmd {
  override async run(w: World) {
    for (const t of w.tasks) {
      const [a, b] = [await w.model.getTask(t.model), await w.real.getTask(t.real)];
      const pick = (x: typeof a) => ({ key: x.key, status: x.status, attempts: x.attempts });
      if (JSON.stringify(pick(a)) !== JSON.stringify(pick(b)))
        throw new Error(`task ${t.key}: reference ${JSON.stringify(pick(a))}, adapter ${JSON.stringify(pick(b))}`);
      const [aa, ba] = [await w.model.listArtifacts(t.model), await w.real.listArtifacts(t.real)];
      if (JSON.stringify(aa) !== JSON.stringify(ba))
        throw new Error(`artifacts of ${t.key}: reference ${JSON.stringify(aa)}, adapter ${JSON.stringify(ba)}`);
    }
    for (const r of w.runs) {
      const [a, b] = [await w.model.getRun(r.flow, r.model), await w.real.getRun(r.flow, r.real)];
      if (a.status !== b.status) throw new Error(`run status: reference ${a.status}, adapter ${b.status}`);
      const [ta, tb] = [await w.model.listTasks({ flow: r.flow, runId: r.model }), await w.real.listTasks({ flow: r.flow, runId: r.real })];
      if (JSON.stringify(ta.items.map((x) => x.key)) !== JSON.stringify(tb.items.map((x) => x.key))) throw new Error('listTasks differs');
    }
  }
  override toString() {
    return 'inspect()';
  }
}

/** Random operation sequences: the adapter must agree with the reference at every step. @internal */
export function metadataModelProperty(
  factory: () => MetadataStore | Promise<MetadataStore>,
  cleanup?: (s: MetadataStore) => void | Promise<void>,
) {
  const idx = fc.nat({ max: 5 });
  const commands = [
    fc.constantFrom('FlowA', 'FlowB').map((f) => new CreateRun(f)),
    fc.tuple(idx, fc.constantFrom<Exclude<RunStatus, 'running'>>('succeeded', 'failed', 'aborted')).map(([r, s]) => new FinishRun(r, s)),
    fc.tuple(idx, fc.constantFrom('start', 'a[0]', 'a[1]', 'join', 'end')).map(([r, k]) => new RegisterTask(r, k)),
    fc.tuple(idx, fc.nat({ max: 2 })).map(([t, a]) => new StartAttempt(t, a)),
    fc.tuple(idx, fc.nat({ max: 2 }), fc.boolean()).map(([t, a, ok]) => new FinishAttempt(t, a, ok)),
    fc.constant(new Inspect()),
  ];
  return fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
    const real = await factory();
    try {
      const world: World = { model: new MemoryMetadataStore(), real, runs: [], tasks: [] };
      await fc.asyncModelRun(() => ({ model: world, real: world }), cmds);
      await new Inspect().run(world);
    } finally {
      await real.close().catch(() => undefined);
      await cleanup?.(real);
    }
  });
}
