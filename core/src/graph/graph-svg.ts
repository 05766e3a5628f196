/** A flow graph as a self-contained SVG (cards; the same layout the UI draws). */
import { layoutGraph } from './graph-layout.ts';
import type { FlowGraph } from './ir.ts';

/** What to show on a step. @public */
export interface StepBadge {
  status?: 'pending' | 'running' | 'succeeded' | 'failed' | 'mixed';
  /** A second line, e.g. `12/100 tasks`. */
  label?: string;
}

/** @public */
export interface GraphSvgOptions {
  /** The step to outline (e.g. the task's own step in its card). */
  highlight?: string;
  steps?: Record<string, StepBadge>;
}

const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Colours per status: fill and border. @internal */
export const STATUS_COLOURS: Record<NonNullable<StepBadge['status']>, { fill: string; stroke: string }> = {
  pending: { fill: '#f4f5f7', stroke: '#b8bec8' },
  running: { fill: '#e3efff', stroke: '#2f6fdb' },
  succeeded: { fill: '#e6f4ea', stroke: '#2e8b57' },
  failed: { fill: '#fde8e8', stroke: '#d14343' },
  mixed: { fill: '#fff4e0', stroke: '#d18a00' },
};

/**
 * Draw a flow graph (top to bottom) with optional per-step status and labels.
 * @public
 */
export function renderGraphSvg(graph: FlowGraph, options: GraphSvgOptions = {}): string {
  const labels: Record<string, string> = {};
  for (const [step, badge] of Object.entries(options.steps ?? {})) if (badge.label) labels[step] = badge.label;
  const layout = layoutGraph(graph, { labels });
  const parts: string[] = [];
  parts.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">' +
      '<path d="M0,0 L10,5 L0,10 z" fill="#7a8494"/></marker></defs>',
  );
  for (const e of layout.edges) {
    const dash = e.kind === 'loop' ? ' stroke-dasharray="4 3"' : '';
    const width = e.kind === 'foreach' ? 2.5 : 1.5;
    parts.push(`<path class="g-edge" d="${e.d}" fill="none" stroke="#7a8494" stroke-width="${width}"${dash} marker-end="url(#arrow)"/>`);
    if (e.label) parts.push(`<text class="g-edge-label" x="${e.label.x}" y="${e.label.y}">${esc(e.label.text)}</text>`);
  }
  for (const s of layout.steps) {
    const badge = options.steps?.[s.name];
    const hi = options.highlight === s.name;
    const colours = badge?.status ? STATUS_COLOURS[badge.status] : hi ? { fill: '#dbe8ff', stroke: '#1f2937' } : STATUS_COLOURS.pending;
    const stroke = hi ? '#1f2937' : colours.stroke;
    const sw = hi ? 3 : 1.5;
    const rect = (dx: number, dy: number) =>
      `<rect x="${s.x + dx}" y="${s.y + dy}" width="${s.width}" height="${s.height}" rx="8" fill="${colours.fill}" stroke="${stroke}" stroke-width="${sw}"/>`;
    parts.push(`<g class="g-step" data-step="${esc(s.name)}" data-status="${badge?.status ?? 'pending'}">`);
    if (s.fanned) parts.push(rect(6, -6), rect(3, -3));
    parts.push(rect(0, 0));
    parts.push(
      `<text class="g-name" x="${s.x + s.width / 2}" y="${s.y + (badge?.label ? 19 : 28)}" text-anchor="middle">${esc(s.name)}</text>`,
    );
    if (badge?.label)
      parts.push(`<text class="g-sub" x="${s.x + s.width / 2}" y="${s.y + 36}" text-anchor="middle">${esc(badge.label)}</text>`);
    parts.push('</g>');
  }
  const style =
    '<style>.g-name{font:600 13px system-ui,sans-serif;fill:#1f2937}.g-sub{font:11px system-ui,sans-serif;fill:#4b5563}' +
    '.g-edge-label{font:11px system-ui,sans-serif;fill:#6b7280}</style>';
  return (
    `<svg class="flow-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${layout.width} ${layout.height}" ` +
    `width="${layout.width}" height="${layout.height}" role="img" aria-label="graph of ${esc(graph.flow)}">${style}${parts.join('')}</svg>`
  );
}
