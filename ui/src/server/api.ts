/** The UI's JSON API: read-only views over a Client. Each handler answers one route. */
import { TributaryError, type Client, type RunStatus } from '@tributary/core';
import { summarizeRun } from './run-summary.ts';
import { cardView, jsonSafe, runView, taskRow } from './views.ts';

/** What a handler answers with. */
export type ApiReply =
  { kind: 'json'; body: unknown; status?: number } | { kind: 'text'; body: string; status?: number } | { kind: 'card'; html: string };

const STATUSES = new Set<RunStatus>(['running', 'succeeded', 'failed', 'aborted']);
const MAX_LOG_BYTES = 1024 * 1024;

function pageSize(q: URLSearchParams, fallback: number, max: number): number {
  const v = q.get('pageSize');
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new TributaryError('PARAM_INVALID', `pageSize must be an integer from 1 to ${max}.`);
  return n;
}

/** Route an API path (segments after /api/, decoded) to its handler. */
export async function handleApi(client: Client, segs: string[], q: URLSearchParams): Promise<ApiReply> {
  const [head, flow, runId, a, b, c, d] = segs;
  if (head === 'flows' && segs.length === 1) {
    const names = await client.flows();
    const flows = await Promise.all(
      names.map(async (f) => {
        const latest = await f.latestRun();
        return { name: f.name, latest: latest ? await runView(latest, client.metadata) : null };
      }),
    );
    return { kind: 'json', body: { namespace: client.namespace, flows } };
  }
  if (head === 'flows' && flow && runId === 'runs' && segs.length === 3) {
    const status = q.get('status');
    if (status && !STATUSES.has(status as RunStatus))
      throw new TributaryError('PARAM_INVALID', `status must be one of ${[...STATUSES].join(', ')}.`);
    const tags = q.getAll('tag').filter(Boolean);
    const cursor = q.get('cursor');
    const page = await client.flow(flow).listRuns({
      pageSize: pageSize(q, 25, 200),
      ...(tags.length ? { tags } : {}),
      ...(status ? { status: status as RunStatus } : {}),
      ...(cursor ? { cursor } : {}),
    });
    return {
      kind: 'json',
      body: {
        runs: await Promise.all(page.items.map((r) => runView(r, client.metadata))),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      },
    };
  }
  if (head === 'runs' && flow && runId) {
    const run = await client.run(`${flow}/${runId}`);
    if (segs.length === 3) {
      const { steps, graphSvg } = await summarizeRun(run);
      return { kind: 'json', body: { run: await runView(run, client.metadata), steps, graphSvg } };
    }
    if (a === 'steps' && b && c === 'tasks' && segs.length === 6) {
      const status = q.get('status');
      const cursor = q.get('cursor');
      const page = await run.step(b).listTasks({
        pageSize: pageSize(q, 50, 1000),
        ...(status ? { status: status as 'pending' } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return { kind: 'json', body: { tasks: page.items.map(taskRow), ...(page.cursor ? { cursor: page.cursor } : {}) } };
    }
  }
  if (head === 'tasks' && flow && runId && a && b) {
    const task = await client.task(`${flow}/${runId}/${a}/${b}`);
    if (segs.length === 5) {
      const [attempts, artifacts, cards, timings, exception, index, parents] = await Promise.all([
        task.attempts(),
        task.artifacts(),
        task.cards(),
        task.timings(),
        task.exception(),
        task.index(),
        task.parents(),
      ]);
      return {
        kind: 'json',
        body: {
          task: taskRow(task),
          attempts: attempts.map((x) => ({
            attempt: x.attempt,
            status: x.status,
            startedAt: x.startedAt.getTime(),
            ...(x.finishedAt ? { finishedAt: x.finishedAt.getTime() } : {}),
            ...(x.error ? { error: { code: x.error.code, message: x.error.message } } : {}),
          })),
          artifacts: artifacts.map((x) => ({ name: x.name, type: x.type, size: x.size, sha: x.sha, encoding: x.encoding })),
          cards: cards.map(cardView),
          timings,
          ...(exception ? { exception } : {}),
          ...(index !== undefined ? { index } : {}),
          parents: parents.slice(0, 20).map(taskRow),
          parentCount: parents.length,
        },
      };
    }
    if (c === 'log' && segs.length === 6) {
      const stream = q.get('stream') === 'stderr' ? 'stderr' : 'stdout';
      const at = q.get('attempt');
      const bytes = await task.log(stream, at === null ? undefined : Number(at));
      if (!bytes) return { kind: 'text', body: '' };
      const text =
        bytes.length > MAX_LOG_BYTES
          ? `… (first ${bytes.length - MAX_LOG_BYTES} bytes not shown)\n${bytes.subarray(bytes.length - MAX_LOG_BYTES).toString('utf8')}`
          : bytes.toString('utf8');
      return { kind: 'text', body: text };
    }
    if (c === 'artifacts' && d && segs.length === 7) {
      const artifact = await task.artifact(d);
      const value = await artifact.get();
      return {
        kind: 'json',
        body: { name: artifact.name, type: artifact.type, size: artifact.size, sha: artifact.sha, value: jsonSafe(value) },
      };
    }
    if (c === 'cards' && d !== undefined && segs.length === 7) {
      const cards = await task.cards();
      const card = cards[Number(d)];
      if (!card || !/^\d+$/.test(d))
        throw new TributaryError('NOT_FOUND', `Task ${task.pathspec} has no card #${d} (it has ${cards.length}).`);
      return { kind: 'card', html: await card.html() };
    }
  }
  throw new TributaryError('NOT_FOUND', `No API route /api/${segs.join('/')}.`);
}
