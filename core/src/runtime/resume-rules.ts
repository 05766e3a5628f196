/**
 * When a task of the origin run can be cloned into a resumed run whose flow may have changed
 * since. One set of rules, used by the resume planner (`--dry-run`) and by the orchestrator, so
 * the plan says exactly what the resume does.
 */
import type { FlowGraph, GraphNode } from '../graph/ir.ts';

/**
 * Why a successful origin task cannot be cloned into a node of the current graph, or undefined
 * when it can. A clone takes its successors from the current graph; what the origin decided at
 * run time (a foreach's items, a switch's case) must still fit it.
 * @internal
 */
export function transitionBlocker(node: GraphNode, meta: Record<string, string>, originRunId: string): string | undefined {
  if (node.type === 'foreach') {
    const f = meta.foreach ? (JSON.parse(meta.foreach) as { var: string; index?: string }) : undefined;
    if (!f) return `it was not a foreach in run ${originRunId}; now it fans out over '${node.foreachVar}'`;
    if (f.var !== node.foreachVar) return `its foreach variable changed since run ${originRunId} ('${f.var}' → '${node.foreachVar}')`;
    if (!f.index) return `run ${originRunId} was recorded before foreach item lists were stored`;
  }
  if (node.type === 'switch') {
    const chosen = meta['switch-case'];
    if (chosen === undefined) return `it was not a switch in run ${originRunId}`;
    if (!node.switchCases || !(chosen in node.switchCases)) {
      return `the case it took in run ${originRunId} ('${chosen}') is not a case of the switch any more`;
    }
  }
  return undefined;
}

/** The steps whose tasks' transitions need the origin task's metadata to be checked. @internal */
export function needsOriginMetadata(node: GraphNode): boolean {
  return node.type === 'foreach' || node.type === 'switch';
}

/** Successor steps of a cloned task, from the current graph. @internal */
export function clonedTargets(node: GraphNode, meta: Record<string, string>): string[] {
  if (node.type === 'switch') return [node.switchCases![meta['switch-case']!]!];
  return [...node.next];
}

/**
 * Steps whose code changed since the origin run (their method's source hash differs). Steps the
 * origin graph does not know, or that it recorded without a hash, are not listed.
 * @internal
 */
export function changedSteps(originGraph: FlowGraph | undefined, graph: FlowGraph): Set<string> {
  const out = new Set<string>();
  for (const [name, node] of Object.entries(graph.nodes)) {
    const before = originGraph?.nodes?.[name]?.codeHash;
    if (before !== undefined && node.codeHash !== undefined && before !== node.codeHash) out.add(name);
  }
  return out;
}
