import { useState } from 'preact/hooks';
import { getJson, path, type RunView } from '../api.ts';
import { duration, when } from '../format.ts';
import { href } from '../router.ts';
import { useData } from '../use-data.ts';
import { Crumbs, Failure, Loading, Status, StatusFilter, Tags } from '../widgets.tsx';

interface RunsReply {
  runs: RunView[];
  cursor?: string;
}

export function RunsPage({ flow }: { flow: string }) {
  const [status, setStatus] = useState('');
  const [tag, setTag] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const query = new URLSearchParams({ pageSize: '25' });
  if (status) query.set('status', status);
  if (tag.trim()) query.set('tag', tag.trim());
  if (cursor) query.set('cursor', cursor);
  const { data, error } = useData(
    () => getJson<RunsReply>(`/api/flows/${path(flow)}/runs?${query}`),
    [flow, status, tag, cursor],
    (d) => d.runs.some((r) => r.status === 'running' && !r.stale),
    2000,
  );
  return (
    <>
      <Crumbs>
        <a href={href.flows()}>Flows</a> / {flow}
      </Crumbs>
      <h1>{flow}</h1>
      <div class="filters">
        <StatusFilter
          testid="status-filter"
          value={status}
          statuses={['running', 'succeeded', 'failed', 'aborted']}
          onPick={(s) => {
            setStatus(s);
            setCursors([]);
          }}
        />
        <label>
          tag{' '}
          <input
            data-testid="tag-filter"
            placeholder="e.g. nightly"
            value={tag}
            onChange={(e) => {
              setTag((e.target as HTMLInputElement).value);
              setCursors([]);
            }}
          />
        </label>
      </div>
      {error ? (
        <Failure error={error} />
      ) : !data ? (
        <Loading />
      ) : data.runs.length === 0 ? (
        <p class="muted">No runs match.</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="runs">
            <thead>
              <tr>
                <th>run</th>
                <th>status</th>
                <th>user</th>
                <th>started</th>
                <th class="num">duration</th>
                <th>tags</th>
              </tr>
            </thead>
            <tbody>
              {data.runs.map((r) => (
                <tr class="clickable" key={r.runId} data-run={r.runId} onClick={() => (location.hash = href.run(flow, r.runId))}>
                  <td>
                    <a href={href.run(flow, r.runId)}>{r.pathspec}</a>
                    {r.originRunId ? <span class="muted"> (resumed {r.originRunId})</span> : null}
                  </td>
                  <td>
                    <Status status={r.status} stale={r.stale} />
                  </td>
                  <td>{r.user}</td>
                  <td>{when(r.createdAt)}</td>
                  <td class="num">{r.durationMs !== undefined ? duration(r.durationMs) : <span class="live">running</span>}</td>
                  <td>
                    <Tags tags={r.tags} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="pager">
        <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← newer
        </button>
        <button disabled={!data?.cursor} onClick={() => data?.cursor && setCursors([...cursors, data.cursor])}>
          older →
        </button>
      </div>
    </>
  );
}
