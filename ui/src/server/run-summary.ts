/** A run's steps with task counts by status: what the run graph shows, live. */
import { renderGraphSvg, type Run, type StepBadge } from '@tributary/core';
import type { StepSummary } from '../shared/api-types.ts';

/**
 * Count each step's tasks by status (a page of 1000 per query: a 10,000-split step is 10 queries),
 * and draw the graph with them.
 */
export async function summarizeRun(run: Run): Promise<{ steps: StepSummary[]; graphSvg: string }> {
  const graph = run.graph;
  const order = graph.order ?? Object.keys(graph.nodes ?? {});
  const steps = await Promise.all(
    order.map(async (name): Promise<StepSummary> => {
      const s: StepSummary = {
        name,
        type: graph.nodes[name]?.type ?? 'linear',
        total: 0,
        pending: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        status: 'pending',
      };
      let cursor: string | undefined;
      do {
        const page = await run.step(name).listTasks({ pageSize: 1000, ...(cursor ? { cursor } : {}) });
        for (const t of page.items) {
          s.total++;
          s[t.status]++;
        }
        cursor = page.cursor;
      } while (cursor);
      s.status =
        s.total === 0
          ? 'pending'
          : s.failed > 0 && s.running === 0 && s.pending === 0 && s.succeeded === 0
            ? 'failed'
            : s.failed > 0
              ? 'mixed'
              : s.running > 0 || s.pending > 0
                ? 'running'
                : 'succeeded';
      return s;
    }),
  );
  const badges: Record<string, StepBadge> = {};
  for (const s of steps) {
    const label =
      s.total === 0
        ? undefined
        : s.total === 1
          ? s.status === 'running'
            ? 'running'
            : undefined
          : `${s.succeeded}/${s.total} done${s.running ? ` · ${s.running} running` : ''}${s.failed ? ` · ${s.failed} failed` : ''}`;
    badges[s.name] = { status: s.status, ...(label ? { label } : {}) };
  }
  return { steps, graphSvg: renderGraphSvg(graph, { steps: badges }) };
}
