import type { ArtifactStore, ItemRef } from '../artifacts/artifact-store.ts';
import type { FlowGraph, GraphNode } from '../graph/ir.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import type { CheckpointRecord } from '../runtime/protocol.ts';

/** One level of split nesting a task sits in. @public */
export interface Frame {
  /** The split or foreach step that opened this level. */
  split: string;
  kind: 'foreach' | 'static';
  /** Foreach index, or branch number of a static split. */
  slot: number;
  /** Number of splits / branches. */
  count: number;
  /** Foreach variable. */
  var?: string;
  /** Where this split's foreach item is stored. */
  item?: ItemRef;
}

/** What `this.next(...)` was called with at run time. @internal */
export interface Transition {
  targets: string[];
  foreachVar?: string;
  condition?: string;
  /** The switch case value taken. */
  caseValue?: string;
  /** For a foreach: the values to fan out over. */
  foreachValues?: unknown[];
}

/** A join input as the worker sees it. @internal */
export interface InputSource {
  step: string;
  pathspec: string;
  manifest: ArtifactRef[];
}

/** Facts about the running task, exposed as `this.current`. @public */
export interface CurrentTask {
  flow: string;
  runId: string;
  step: string;
  taskId: string;
  attempt: number;
  pathspec: string;
  /** The task's identity in its run: `step[foreach indices]#iteration` (the same in a resumed run). */
  key: string;
  /** Parameter values are readable as artifacts too; this lists their names. */
  parameterNames: readonly string[];
}

/** Per-task state behind a flow instance's proxy. @internal */
export interface TaskState {
  graph: FlowGraph;
  node: GraphNode;
  store: ArtifactStore;
  current: CurrentTask;
  /** Artifacts visible at step start (inherited refs; empty for a join until mergeArtifacts). */
  manifest: Map<string, ArtifactRef>;
  params: Set<string>;
  frames: Frame[];
  inputs?: InputSource[];
  maxNumSplits: number;
  assigned: Map<string, unknown>;
  loaded: Map<string, unknown>;
  deleted: Set<string>;
  transition?: Transition;
  itemCache?: { value: unknown };
  constructing: boolean;
  /** The object behind the flow instance's proxy: where field initializers put their values. */
  target?: object;
  /** Encoding (SHA-256) of each initialized field a step read, when first read (null: not storable, a helper). */
  fieldBaselines?: Map<string, string | null>;
  /** Checkpoints of this task identity so far, oldest first. */
  checkpoints: CheckpointRecord[];
  /** Durably record a checkpoint in metadata (through the orchestrator). */
  recordCheckpoint?: (record: CheckpointRecord) => Promise<void>;
  checkpointApi?: import('./checkpoints.ts').TaskCheckpoints;
  /** `this.card`: the step's cards (absent outside a task, e.g. in tests that build a state by hand). */
  cards?: import('../cards/task-cards.ts').TaskCards;
}
