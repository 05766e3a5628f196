/**
 * The libraries cards render with (marked, d3-scale), once loaded (see load-card-renderer.ts).
 * Internal: its declarations name d3-scale's types, which published packages do not ship, so no
 * public module re-exports from here.
 */
import type * as D3Scale from 'd3-scale';
import type { marked as Marked } from 'marked';

/** @internal */
export interface RenderDeps {
  marked: typeof Marked;
  scales: typeof D3Scale;
}

let deps: RenderDeps | undefined;

/** @internal */
export function setRenderDeps(loaded: RenderDeps): void {
  deps = loaded;
}

/** @internal */
export function renderDepsLoaded(): boolean {
  return deps !== undefined;
}

/** @internal */
export function renderDeps(): RenderDeps {
  if (!deps) throw new Error('Card components render after `await loadCardRenderer()` (the runtime does it for @card steps).');
  return deps;
}
