import { getJson, type RunView } from '../api.ts';
import { duration, when } from '../format.ts';
import { href } from '../router.ts';
import { useData } from '../use-data.ts';
import { Failure, Loading, Status } from '../widgets.tsx';

interface FlowsReply {
  namespace: string | null;
  flows: Array<{ name: string; latest: RunView | null }>;
}

export function FlowsPage() {
  const { data, error } = useData(
    () => getJson<FlowsReply>('/api/flows'),
    [],
    (d) => d.flows.some((f) => f.latest?.status === 'running'),
    3000,
  );
  if (error) return <Failure error={error} />;
  if (!data) return <Loading />;
  return (
    <>
      <h1>Flows</h1>
      {data.flows.length === 0 ? (
        <p class="muted">No runs yet{data.namespace ? ` in namespace ${data.namespace}` : ''}. Run a flow with `tributary run flow.ts`.</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="flows">
            <thead>
              <tr>
                <th>flow</th>
                <th>latest run</th>
                <th>status</th>
                <th>started</th>
                <th class="num">duration</th>
              </tr>
            </thead>
            <tbody>
              {data.flows.map((f) => (
                <tr class="clickable" key={f.name} onClick={() => (location.hash = href.runs(f.name))}>
                  <td>
                    <a href={href.runs(f.name)}>{f.name}</a>
                  </td>
                  <td>{f.latest ? <a href={href.run(f.name, f.latest.runId)}>{f.latest.runId}</a> : '—'}</td>
                  <td>{f.latest ? <Status status={f.latest.status} stale={f.latest.stale} /> : null}</td>
                  <td>{f.latest ? when(f.latest.createdAt) : ''}</td>
                  <td class="num">{f.latest ? duration(f.latest.durationMs) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
