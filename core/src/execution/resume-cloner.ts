import type { ArtifactStore, ItemRef } from '../artifacts/artifact-store.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { TaskOutcome } from '../runtime/protocol.ts';
import { clonedTargets, transitionBlocker } from '../runtime/resume-rules.ts';
import type { OriginTask, PlannedTask, ResumeOrigin } from './planned-task.ts';

function sameMembers(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(b);
  return a.every((x) => set.has(x));
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Resume: which ready tasks are cloned from the origin run, and the cloning itself (metadata and
 * artifact references only, no bytes). The rules (resume-rules.ts) are the planner's: the origin
 * task with the same key succeeded, its step is not re-run, its inputs are clones of its own
 * origin inputs, and what it decided at run time fits the current graph.
 * @internal
 */
export class ResumeCloner {
  /** Task id in this run → the origin task id it was cloned from. */
  private readonly clonedFrom = new Map<string, string>();
  cloned = 0;

  constructor(
    private readonly o: {
      flow: string;
      runId: string;
      graph: FlowGraph;
      metadata: MetadataStore;
      store: ArtifactStore;
      origin: ResumeOrigin | undefined;
      paramsTaskId: string;
    },
  ) {
    const originParams = o.origin?.tasks.get('_parameters');
    if (originParams) this.clonedFrom.set(o.paramsTaskId, originParams.taskId);
  }

  /** Mark the tasks among `fresh` that are cloned (sets `cloneOf`). */
  async mark(fresh: PlannedTask[]): Promise<void> {
    const origin = this.o.origin;
    if (!origin) return;
    const candidates: Array<{ t: PlannedTask; o: OriginTask }> = [];
    for (const t of fresh) {
      if (origin.rerunSteps.has(t.step)) continue;
      const o = origin.tasks.get(t.key);
      if (!o || o.status !== 'succeeded' || o.step !== t.step) continue;
      const from = t.parents.map((p) => this.clonedFrom.get(p));
      if (from.some((p) => p === undefined) || !sameMembers(from as string[], o.parents)) continue;
      candidates.push({ t, o });
    }
    await forEachLimit(candidates, 16, async ({ t, o }) => {
      const ref = { flow: this.o.flow, runId: origin.runId, taskId: o.taskId };
      const [artifacts, meta] = await Promise.all([this.o.metadata.listArtifacts(ref), this.o.metadata.getMetadata(ref)]);
      if (transitionBlocker(this.o.graph.nodes[t.step]!, meta, origin.runId) === undefined) t.cloneOf = { origin: o, artifacts, meta };
    });
  }

  /** Record a marked task as a finished clone of its origin; returns the outcome its successors follow. */
  async clone(t: PlannedTask): Promise<Pick<TaskOutcome, 'artifacts' | 'targets' | 'foreach'>> {
    const { origin: o, meta } = t.cloneOf!;
    const artifacts = t.cloneOf!.artifacts.map(({ attempt: _a, ...a }) => a);
    const node = this.o.graph.nodes[t.step]!;
    const metadata: Record<string, string> = { ...meta, 'origin-pathspec': o.pathspec };
    for (const k of Object.keys(metadata)) if (k.startsWith('checkpoint:')) delete metadata[k];
    // The clone goes where the current graph says (a renamed successor is a new step).
    const targets = clonedTargets(node, meta);
    metadata.targets = JSON.stringify(targets);
    const ref = { flow: this.o.flow, runId: this.o.runId, taskId: t.taskId! };
    await this.o.metadata.startAttempt(ref, 0);
    await this.o.metadata.finishAttempt(ref, 0, { status: 'succeeded', artifacts, metadata });
    this.cloned++;
    this.clonedFrom.set(t.taskId!, o.taskId);
    let foreach: TaskOutcome['foreach'];
    if (node.type === 'foreach') {
      const f = JSON.parse(meta.foreach!) as { var: string; count: number; index: string };
      const items = (await this.o.store.load({ name: '_foreach_index', sha: f.index, encoding: 'msgpack', type: 'Array' })) as ItemRef[];
      foreach = { var: f.var, count: f.count, items, index: f.index };
    }
    return { artifacts, targets, ...(foreach ? { foreach } : {}) };
  }
}
