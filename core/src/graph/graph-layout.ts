/**
 * A layered layout of a flow graph (top to bottom) for pictures: cards, the UI. Steps get a rank
 * (longest path from the start, loops of a recursive switch ignored), then an order in their rank
 * that keeps edges short (barycenter sweeps). Pure and deterministic: no DOM, no Node APIs, so the
 * browser app draws the same layout.
 */
import type { FlowGraph, StepType } from './ir.ts';

/** @public */
export interface LaidOutStep {
  name: string;
  type: StepType;
  /** Top-left corner and size, in pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
  rank: number;
  /** Its tasks fan out (the step is the body of a foreach): drawn as a stack. */
  fanned: boolean;
}

/** @public */
export interface LaidOutEdge {
  from: string;
  to: string;
  /** SVG path data. */
  d: string;
  kind: 'next' | 'foreach' | 'switch' | 'loop';
  /** Where a label goes (switch case, foreach variable). */
  label?: { text: string; x: number; y: number };
}

/** @public */
export interface GraphLayout {
  width: number;
  height: number;
  steps: LaidOutStep[];
  edges: LaidOutEdge[];
}

const NODE_H = 46;
const RANK_GAP = 44;
const COL_GAP = 28;
const MARGIN = 16;

/** @public */
export interface GraphLayoutOptions {
  /** A second line of text per step (e.g. task counts): steps are made wide enough for it. */
  labels?: Record<string, string>;
}

/** Lay a flow graph out (see the module comment). @public */
export function layoutGraph(graph: FlowGraph, options: GraphLayoutOptions = {}): GraphLayout {
  const names = graph.order.filter((n) => graph.nodes[n]);
  const index = new Map(names.map((n, i) => [n, i]));
  // Back edges (a switch that loops back) are found by DFS from start; ranks ignore them.
  const back = new Set<string>();
  const state = new Map<string, 1 | 2>();
  const dfs = (n: string) => {
    state.set(n, 1);
    for (const t of graph.nodes[n]?.next ?? []) {
      if (!graph.nodes[t]) continue;
      if (state.get(t) === 1) back.add(`${n}>${t}`);
      else if (!state.has(t)) dfs(t);
    }
    state.set(n, 2);
  };
  dfs(graph.start);
  for (const n of names) if (!state.has(n)) dfs(n);

  const rank = new Map<string, number>();
  const preds = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const n of names)
    for (const t of graph.nodes[n]!.next) if (graph.nodes[t] && !back.has(`${n}>${t}`) && t !== n) preds.get(t)!.push(n);
  const visit = (n: string, seen: Set<string>): number => {
    const known = rank.get(n);
    if (known !== undefined) return known;
    if (seen.has(n)) return 0;
    seen.add(n);
    const r = Math.max(-1, ...preds.get(n)!.map((p) => visit(p, seen))) + 1;
    rank.set(n, r);
    return r;
  };
  for (const n of names) visit(n, new Set());

  const ranks: string[][] = [];
  for (const n of names) (ranks[rank.get(n)!] ??= []).push(n);
  for (const r of ranks) r?.sort((a, b) => index.get(a)! - index.get(b)!);
  // Barycenter sweeps: down by predecessors, then up by successors.
  const pos = () => new Map(ranks.flatMap((r) => (r ?? []).map((n, i) => [n, i] as const)));
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    let p = pos();
    const order = down ? ranks.keys() : [...ranks.keys()].reverse().values();
    for (const ri of order) {
      const r = ranks[ri];
      if (!r || r.length < 2) continue;
      const bary = new Map<string, number>();
      for (const n of r) {
        const near = down
          ? preds.get(n)!
          : graph.nodes[n]!.next.filter((t) => graph.nodes[t] && !back.has(`${n}>${t}`) && rank.get(t)! > rank.get(n)!);
        bary.set(n, near.length ? near.reduce((s, q) => s + p.get(q)!, 0) / near.length : p.get(n)!);
      }
      r.sort((a, b) => bary.get(a)! - bary.get(b)! || index.get(a)! - index.get(b)!);
      p = pos();
    }
  }

  const widthOf = (n: string) =>
    Math.max(120, Math.min(260, n.length * 8 + 36), Math.min(320, (options.labels?.[n]?.length ?? 0) * 6.4 + 24));
  const rowWidths = ranks.map((r) => (r ?? []).reduce((s, n) => s + widthOf(n), 0) + COL_GAP * Math.max(0, (r ?? []).length - 1));
  const inner = Math.max(...rowWidths, 120);
  const hasLoops = back.size > 0;
  // Edge labels sit right of the edge's middle: leave room for the longest.
  let labelRoom = 0;
  for (const n of names) {
    const node = graph.nodes[n]!;
    const text =
      node.type === 'foreach'
        ? `foreach ${node.foreachVar ?? ''}`
        : node.type === 'switch'
          ? Object.keys(node.switchCases ?? {}).join('')
          : '';
    labelRoom = Math.max(labelRoom, text.length * 6.5 + 10);
  }
  const width = inner + MARGIN * 2 + (hasLoops ? 40 : 0) + labelRoom / 2 + 10;
  const fanned = new Set<string>();
  for (const n of names) {
    const node = graph.nodes[n]!;
    if (node.type === 'foreach') for (const t of node.next) fanned.add(t);
  }
  // A step inside a foreach (not just its first) also has many tasks; so does a join that an outer foreach still encloses.
  for (const n of names) if (graph.nodes[n]!.insideForeach) fanned.add(n);

  const steps: LaidOutStep[] = [];
  const at = new Map<string, LaidOutStep>();
  ranks.forEach((r, ri) => {
    let x = MARGIN + (inner - rowWidths[ri]!) / 2;
    for (const n of r ?? []) {
      const s: LaidOutStep = {
        name: n,
        type: graph.nodes[n]!.type,
        x,
        y: MARGIN + ri * (NODE_H + RANK_GAP),
        width: widthOf(n),
        height: NODE_H,
        rank: ri,
        fanned: fanned.has(n),
      };
      steps.push(s);
      at.set(n, s);
      x += s.width + COL_GAP;
    }
  });
  const height = MARGIN * 2 + ranks.length * NODE_H + Math.max(0, ranks.length - 1) * RANK_GAP;

  const edges: LaidOutEdge[] = [];
  for (const n of names) {
    const node = graph.nodes[n]!;
    const a = at.get(n)!;
    for (const t of node.next) {
      const b = at.get(t);
      if (!b) continue;
      const caseOf = node.type === 'switch' ? Object.entries(node.switchCases ?? {}).find(([, v]) => v === t)?.[0] : undefined;
      if (back.has(`${n}>${t}`) || t === n) {
        // A loop goes out of the right side and back in above the target.
        const x1 = a.x + a.width;
        const y1 = a.y + a.height / 2;
        const x2 = b.x + b.width;
        const y2 = b.y + b.height / 2;
        const out = Math.max(x1, x2) + 30;
        edges.push({
          from: n,
          to: t,
          kind: 'loop',
          d: `M${x1},${y1} C${out},${y1} ${out},${y2} ${x2 + 6},${y2}`,
          ...(caseOf !== undefined ? { label: { text: caseOf, x: out - 4, y: (y1 + y2) / 2 } } : {}),
        });
        continue;
      }
      const x1 = a.x + a.width / 2;
      const y1 = a.y + a.height;
      const x2 = b.x + b.width / 2;
      const y2 = b.y - (b.fanned ? 6 : 0);
      const my = (y1 + y2) / 2;
      const kind = node.type === 'foreach' ? 'foreach' : node.type === 'switch' ? 'switch' : 'next';
      const text = kind === 'foreach' ? `foreach ${node.foreachVar ?? ''}`.trim() : caseOf;
      edges.push({
        from: n,
        to: t,
        kind,
        d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`,
        ...(text ? { label: { text, x: (x1 + x2) / 2 + 6, y: my + 4 } } : {}),
      });
    }
  }
  return { width, height, steps, edges };
}
