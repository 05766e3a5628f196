import type { ArtifactRecord, ArtifactRef } from '../ports/metadata-store.ts';
import type { Frame, InputSource } from '../flow/task-state.ts';
import type { TaskSpec } from '../runtime/protocol.ts';

/** A successful task of the origin run, by key. @internal */
export interface OriginTask {
  taskId: string;
  step: string;
  key: string;
  pathspec: string;
  status: string;
  /** Task ids (in the origin run) of its inputs. */
  parents: string[];
}

/** @internal */
export interface ResumeOrigin {
  runId: string;
  /** Every task of the origin run, by key. */
  tasks: Map<string, OriginTask>;
  /** Steps to re-run even where the origin succeeded (a given step). Their descendants re-run too. */
  rerunSteps: Set<string>;
}

/** A task the scheduler knows about, before and while it runs. @internal */
export interface PlannedTask {
  step: string;
  key: string;
  frames: Frame[];
  iteration: number;
  parents: string[];
  manifest: ArtifactRef[];
  inputs?: InputSource[];
  taskId?: string;
  attempt: number;
  readyAt: number;
  dispatchedAt?: number;
  enteredAt?: number;
  caught?: TaskSpec['caught'];
  /** How this task's earlier attempts failed (for its cards). */
  failures?: TaskSpec['failures'];
  /** The metadata write recording this attempt's start (not awaited before the attempt runs). */
  started?: Promise<void>;
  /** Resume: the origin task this one is cloned from, with what it recorded. */
  cloneOf?: { origin: OriginTask; artifacts: ArtifactRecord[]; meta: Record<string, string> };
}

/** A finished task, as its successors see it. @internal */
export interface FinishedTask {
  taskId: string;
  step: string;
  pathspec: string;
  manifest: ArtifactRef[];
}
