import { TributaryError } from '../errors.ts';

/** Which validation rule a graph broke. @public */
export type GraphRule =
  | 'reserved-name'
  | 'step-name'
  | 'no-start'
  | 'no-end'
  | 'param-clash'
  | 'too-many-args'
  | 'missing-next'
  | 'end-has-next'
  | 'end-is-join'
  | 'invalid-next'
  | 'inconsistent-next'
  | 'unknown-target'
  | 'foreach-var'
  | 'switch-cases'
  | 'switch-condition'
  | 'start-incoming'
  | 'cycle'
  | 'unreachable'
  | 'empty-foreach'
  | 'split-not-joined'
  | 'join-arity'
  | 'join-without-split'
  | 'unrelated-join'
  | 'switch-into-join'
  | 'missing-join'
  | 'catch-on-split'
  | 'unreadable-source';

/**
 * A flow's graph breaks a validity rule. Raised before any task runs.
 * @public
 */
export class GraphError extends TributaryError {
  readonly rule: GraphRule;
  constructor(flow: string, rule: GraphRule, message: string, step?: string) {
    super('GRAPH_INVALID', message, { context: { flow, step, rule } });
    this.name = 'GraphError';
    this.rule = rule;
  }
}
