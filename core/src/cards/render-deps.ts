/**
 * The libraries cards render with (marked, d3-scale), loaded on first use: `import 'tributary'`
 * and task workers without cards never pay for them (about 30 ms of module loading).
 */
import type * as D3Scale from 'd3-scale';
import type { marked as Marked } from 'marked';

interface RenderDeps {
  marked: typeof Marked;
  scales: typeof D3Scale;
}

let deps: RenderDeps | undefined;
let loading: Promise<void> | undefined;

/**
 * Load what rendering cards needs. The runtime calls it before a task's cards are rendered; call
 * it yourself before `component.toHtml()` outside a task.
 * @public
 */
export function loadCardRenderer(): Promise<void> {
  if (deps) return Promise.resolve();
  return (loading ??= Promise.all([import('marked'), import('d3-scale')]).then(([m, scales]) => {
    deps = { marked: m.marked, scales };
  }));
}

/** @internal */
export function renderDeps(): RenderDeps {
  if (!deps) throw new Error('Card components render after `await loadCardRenderer()` (the runtime does it for @card steps).');
  return deps;
}
