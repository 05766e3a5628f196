/** Hash routes: the app is one page, and every view has a URL that can be shared or reloaded. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'flows' }
  | { page: 'runs'; flow: string }
  | { page: 'run'; flow: string; runId: string }
  | { page: 'step'; flow: string; runId: string; step: string }
  | { page: 'task'; flow: string; runId: string; step: string; taskId: string; tab?: string };

export function parseRoute(hash: string): Route {
  const segs = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [kind, flow, runId, step, taskId, tab] = segs;
  if (kind === 'flows' && flow) return { page: 'runs', flow };
  if (kind === 'runs' && flow && runId && step) return { page: 'step', flow, runId, step };
  if (kind === 'runs' && flow && runId) return { page: 'run', flow, runId };
  if (kind === 'tasks' && flow && runId && step && taskId) return { page: 'task', flow, runId, step, taskId, ...(tab ? { tab } : {}) };
  return { page: 'flows' };
}

export const href = {
  flows: () => '#/',
  runs: (flow: string) => `#/flows/${encodeURIComponent(flow)}`,
  run: (flow: string, runId: string) => `#/runs/${encodeURIComponent(flow)}/${encodeURIComponent(runId)}`,
  step: (flow: string, runId: string, step: string) => `${href.run(flow, runId)}/${encodeURIComponent(step)}`,
  task: (pathspec: string, tab?: string) => `#/tasks/${pathspec.split('/').map(encodeURIComponent).join('/')}${tab ? `/${tab}` : ''}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
