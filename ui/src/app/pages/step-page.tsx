import { useState } from 'preact/hooks';
import { getJson, path, type TaskRow } from '../api.ts';
import { duration, when } from '../format.ts';
import { href } from '../router.ts';
import { useData } from '../use-data.ts';
import { Crumbs, Failure, Loading, Status, StatusFilter } from '../widgets.tsx';

interface TasksReply {
  tasks: TaskRow[];
  cursor?: string;
}

const PAGE = 50;

/** A step's tasks, a page at a time (a 10,000-split step is 200 pages, never loaded at once). */
export function StepPage({ flow, runId, step }: { flow: string; runId: string; step: string }) {
  const [status, setStatus] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const q = new URLSearchParams({ pageSize: String(PAGE) });
  if (status) q.set('status', status);
  if (cursor) q.set('cursor', cursor);
  const { data, error } = useData(
    () => getJson<TasksReply>(`/api/runs/${path(flow, runId)}/steps/${path(step)}/tasks?${q}`),
    [flow, runId, step, status, cursor],
    (d) => d.tasks.some((t) => t.status === 'running' || t.status === 'pending') || (!!d.cursor === false && d.tasks.length === 0),
    1500,
  );
  return (
    <>
      <Crumbs>
        <a href={href.flows()}>Flows</a> / <a href={href.runs(flow)}>{flow}</a> / <a href={href.run(flow, runId)}>{runId}</a> / {step}
      </Crumbs>
      <h1>Step {step}</h1>
      <div class="filters">
        <StatusFilter
          value={status}
          statuses={['pending', 'running', 'succeeded', 'failed']}
          onPick={(s) => {
            setStatus(s);
            setCursors([]);
          }}
        />
        <span class="muted" data-testid="page-info">
          page {cursors.length + 1} · {PAGE} tasks per page
        </span>
      </div>
      {error ? (
        <Failure error={error} />
      ) : !data ? (
        <Loading />
      ) : data.tasks.length === 0 ? (
        <p class="muted">No tasks{status ? ` with status ${status}` : ' yet'}.</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="tasks">
            <thead>
              <tr>
                <th>task</th>
                <th>key</th>
                <th>status</th>
                <th class="num">attempts</th>
                <th>created</th>
                <th class="num">duration</th>
              </tr>
            </thead>
            <tbody>
              {data.tasks.map((t) => (
                <tr class="clickable" key={t.taskId} data-task={t.taskId} onClick={() => (location.hash = href.task(t.pathspec))}>
                  <td>
                    <a href={href.task(t.pathspec)}>{t.taskId}</a>
                    {t.originPathspec ? <span class="muted"> (cloned)</span> : null}
                  </td>
                  <td>{t.key}</td>
                  <td>
                    <Status status={t.status} />
                  </td>
                  <td class="num">{t.attempts}</td>
                  <td>{when(t.createdAt)}</td>
                  <td class="num">{t.finishedAt ? duration(t.finishedAt - t.createdAt) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="pager">
        <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← previous
        </button>
        <button data-testid="next-page" disabled={!data?.cursor} onClick={() => data?.cursor && setCursors([...cursors, data.cursor])}>
          next →
        </button>
      </div>
    </>
  );
}
