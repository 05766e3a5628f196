import type { FlowGraph, GraphNode } from './ir.ts';

/** @public */
export type GraphFormat = 'text' | 'mermaid' | 'dot' | 'json';

function edgeLabel(node: GraphNode, target: string): string | undefined {
  if (node.type === 'foreach') return `foreach ${node.foreachVar}`;
  if (node.type === 'switch') {
    const cases = Object.entries(node.switchCases ?? {})
      .filter(([, t]) => t === target)
      .map(([k]) => k);
    return `${node.condition} = ${cases.join(' | ')}`;
  }
  return undefined;
}

function describe(node: GraphNode): string {
  switch (node.type) {
    case 'foreach':
      return `foreach over '${node.foreachVar}' → ${node.next[0]}`;
    case 'switch':
      return `switch on '${node.condition}': ${Object.entries(node.switchCases!)
        .map(([k, v]) => `${k} → ${v}`)
        .join(', ')}`;
    case 'split':
      return `split → ${node.next.join(', ')}`;
    case 'end':
      return 'end of flow';
    default:
      return `→ ${node.next.join(', ')}`;
  }
}

/**
 * Render a flow graph as text (for people), Mermaid or DOT (for pictures) or JSON (for tools).
 * @public
 */
export function renderGraph(graph: FlowGraph, format: GraphFormat = 'text'): string {
  const nodes = graph.order.map((n) => graph.nodes[n]!);
  switch (format) {
    case 'json':
      return JSON.stringify(
        {
          flow: graph.flow,
          start: graph.start,
          end: graph.end,
          steps: nodes.map((n) => ({
            name: n.name,
            type: n.name === graph.start && n.type === 'linear' ? 'start' : n.type,
            next: n.next,
            ...(n.foreachVar ? { foreach: n.foreachVar } : {}),
            ...(n.condition ? { condition: n.condition, cases: n.switchCases } : {}),
            ...(n.matchingJoin ? { matchingJoin: n.matchingJoin } : {}),
            inFuncs: n.inFuncs,
            splitParents: n.splitParents,
            decorators: n.decorators,
          })),
        },
        null,
        2,
      );
    case 'mermaid': {
      // Ids are prefixed: Mermaid treats a bare `end` as a keyword.
      const id = (name: string) => `s_${name}`;
      const lines = ['flowchart TD'];
      for (const n of nodes) {
        const label = JSON.stringify(n.name);
        const shape =
          n.type === 'switch'
            ? `{${label}}`
            : n.type === 'join'
              ? `[/${label}\\]`
              : n.type === 'foreach' || n.type === 'split'
                ? `[\\${label}/]`
                : `[${label}]`;
        lines.push(`  ${id(n.name)}${shape}`);
      }
      for (const n of nodes) {
        for (const t of n.next) {
          const label = edgeLabel(n, t);
          lines.push(label ? `  ${id(n.name)} -->|${JSON.stringify(label)}| ${id(t)}` : `  ${id(n.name)} --> ${id(t)}`);
        }
      }
      return lines.join('\n');
    }
    case 'dot': {
      const lines = [`digraph ${JSON.stringify(graph.flow)} {`, '  rankdir=TB;', '  node [shape=box, style=rounded];'];
      for (const n of nodes) {
        const shape =
          n.type === 'switch'
            ? 'diamond'
            : n.type === 'foreach' || n.type === 'split'
              ? 'trapezium'
              : n.type === 'join'
                ? 'invtrapezium'
                : 'box';
        lines.push(`  ${JSON.stringify(n.name)} [shape=${shape}];`);
      }
      for (const n of nodes) {
        for (const t of n.next) {
          const label = edgeLabel(n, t);
          lines.push(`  ${JSON.stringify(n.name)} -> ${JSON.stringify(t)}${label ? ` [label=${JSON.stringify(label)}]` : ''};`);
        }
      }
      lines.push('}');
      return lines.join('\n');
    }
    default: {
      const width = Math.max(...nodes.map((n) => n.name.length));
      const lines = [`${graph.flow}`];
      for (const n of nodes) {
        const indent = '  '.repeat(n.splitParents.length + 1);
        lines.push(`${indent}${n.name.padEnd(width)}  ${describe(n)}`);
      }
      return lines.join('\n');
    }
  }
}
