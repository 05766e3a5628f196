import type { ItemRef } from '../artifacts/artifact-store.ts';
import type { Frame } from '../flow/task-state.ts';
import type { FlowGraph, GraphNode } from '../graph/ir.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import { preciseNow, type TaskOutcome } from '../runtime/protocol.ts';
import type { FinishedTask, PlannedTask } from './planned-task.ts';

interface PendingJoin {
  expected: number;
  arrived: number;
  slots: Array<FinishedTask | undefined>;
}

function frameKey(frames: Frame[]): string {
  return frames.length ? `[${frames.map((f) => f.slot).join(',')}]` : '';
}

/**
 * Where a finished task leads: the tasks that become ready (branches, foreach splits, the next
 * step, a switch case), and the joins that wait for their last input. Pure bookkeeping: no I/O.
 * @internal
 */
export class Successors {
  private readonly joins = new Map<string, PendingJoin>();
  /** True once an end task finished. */
  endReached = false;

  constructor(
    private readonly graph: FlowGraph,
    /** What a join inherits: the parameters (readable in every step, as in Metaflow). */
    private readonly paramsManifest: ArtifactRef[],
  ) {}

  of(task: PlannedTask, done: FinishedTask, outcome: Pick<TaskOutcome, 'targets' | 'foreach'>): PlannedTask[] {
    const node: GraphNode = this.graph.nodes[task.step]!;
    if (node.type === 'end') {
      this.endReached = true;
      return [];
    }
    const readyAt = preciseNow();
    const out: PlannedTask[] = [];
    if (node.type === 'foreach') {
      const f = outcome.foreach!;
      f.items.forEach((item: ItemRef, i: number) => {
        const frames: Frame[] = [...task.frames, { split: node.name, kind: 'foreach', slot: i, count: f.count, var: f.var, item }];
        out.push(...this.arrive(outcome.targets[0]!, frames, 0, done, readyAt));
      });
      return out;
    }
    if (node.type === 'split') {
      outcome.targets.forEach((t, i) => {
        const frames: Frame[] = [...task.frames, { split: node.name, kind: 'static', slot: i, count: outcome.targets.length }];
        out.push(...this.arrive(t, frames, 0, done, readyAt));
      });
      return out;
    }
    const target = outcome.targets[0]!;
    const iteration = node.type === 'switch' && target === node.name ? task.iteration + 1 : 0;
    return this.arrive(target, task.frames, iteration, done, readyAt);
  }

  private arrive(step: string, frames: Frame[], iteration: number, from: FinishedTask, readyAt: number): PlannedTask[] {
    const node = this.graph.nodes[step]!;
    if (node.type !== 'join') {
      const key = `${step}${frameKey(frames)}${iteration ? `#${iteration}` : ''}`;
      return [{ step, key, frames, iteration, parents: [from.taskId], manifest: from.manifest, attempt: 0, readyAt }];
    }
    const closing = frames[frames.length - 1]!;
    const outer = frames.slice(0, -1);
    const key = `${step}${frameKey(outer)}`;
    let pending = this.joins.get(key);
    if (!pending) {
      pending = { expected: closing.count, arrived: 0, slots: new Array(closing.count) };
      this.joins.set(key, pending);
    }
    pending.slots[closing.slot] = from;
    if (++pending.arrived < pending.expected) return [];
    this.joins.delete(key);
    const inputs = pending.slots as FinishedTask[];
    return [
      {
        step,
        key,
        frames: outer,
        iteration: 0,
        parents: inputs.map((i) => i.taskId),
        // A join inherits nothing but the parameters; everything else comes through `inputs` or mergeArtifacts.
        manifest: this.paramsManifest,
        inputs: inputs.map((i) => ({ step: i.step, pathspec: i.pathspec, manifest: i.manifest })),
        attempt: 0,
        readyAt,
      },
    ];
  }
}
