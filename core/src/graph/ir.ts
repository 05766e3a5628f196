/** The static graph of a flow, known before any task runs. */

/** @public */
export type StepType = 'linear' | 'join' | 'split' | 'foreach' | 'switch' | 'end';

/** @public */
export interface GraphNode {
  name: string;
  type: StepType;
  /** Successor step names, in `this.next(...)` order (switch: case order). */
  next: string[];
  /** Predecessor step names. */
  inFuncs: string[];
  /** The artifact a foreach fans out over. */
  foreachVar?: string;
  /** The artifact whose value picks a switch case. */
  condition?: string;
  /** Switch case value → step. */
  switchCases?: Record<string, string>;
  /** The split/foreach steps enclosing this step, outermost first. */
  splitParents: string[];
  /** For a split/foreach: the join that closes it. */
  matchingJoin?: string;
  /** The step sits inside at least one foreach. */
  insideForeach: boolean;
  /** Decorators that apply to the step (JSON-safe). */
  decorators: Record<string, unknown>;
  /** The step body uses `this.checkpoint` (its tasks get their earlier checkpoints at dispatch). */
  usesCheckpoint?: boolean;
  /** SHA-256 of the step method's source text (absent in graphs recorded by older versions). */
  codeHash?: string;
  /** Property names the step body accesses: artifacts by these names are prefetched from remote datastores. */
  reads?: string[];
}

/** @public */
export interface FlowGraph {
  flow: string;
  start: string;
  end: string;
  /** Steps in a topological-ish order (depth-first from start). */
  order: string[];
  nodes: Record<string, GraphNode>;
}
