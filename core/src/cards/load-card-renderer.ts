/**
 * Load what card rendering needs (marked, d3-scale) on first use: `import 'tributary'` and task
 * workers without cards never pay for them (about 30 ms of module loading).
 */
import { renderDepsLoaded, setRenderDeps } from './render-deps.ts';

let loading: Promise<void> | undefined;

/**
 * Load what rendering cards needs. The runtime calls it before a task's cards are rendered; call
 * it yourself before `component.toHtml()` outside a task.
 * @public
 */
export function loadCardRenderer(): Promise<void> {
  if (renderDepsLoaded()) return Promise.resolve();
  return (loading ??= Promise.all([import('marked'), import('d3-scale')]).then(([m, scales]) =>
    setRenderDeps({ marked: m.marked, scales }),
  ));
}
