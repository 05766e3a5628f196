import { getJson, path, type RunView, type StepSummary } from '../api.ts';
import { duration, short, when } from '../format.ts';
import { href } from '../router.ts';
import { useData } from '../use-data.ts';
import { Crumbs, Failure, Loading, Status, Tags } from '../widgets.tsx';

interface RunReply {
  run: RunView;
  steps: StepSummary[];
  graphSvg: string;
}

/** A run: its graph coloured by step status with task counts, live while it runs. */
export function RunPage({ flow, runId }: { flow: string; runId: string }) {
  const { data, error, version } = useData(
    () => getJson<RunReply>(`/api/runs/${path(flow, runId)}`),
    [flow, runId],
    (d) => d.run.status === 'running' && !d.run.stale,
    1000,
  );
  if (error) return <Failure error={error} />;
  if (!data) return <Loading />;
  const { run, steps } = data;
  const live = run.status === 'running' && !run.stale;
  const openStep = (e: MouseEvent) => {
    const step = (e.target as Element).closest('[data-step]')?.getAttribute('data-step');
    if (step) location.hash = href.step(flow, runId, step);
  };
  return (
    <>
      <Crumbs>
        <a href={href.flows()}>Flows</a> / <a href={href.runs(flow)}>{flow}</a> / {runId}
      </Crumbs>
      <h1>
        {run.pathspec} <Status status={run.status} stale={run.stale} />
        {live ? (
          <span class="live" data-testid="live">
            ● live (updated {version}×)
          </span>
        ) : null}
      </h1>
      <div class="meta">
        <span>
          by <b>{run.user}</b>
        </span>
        <span>
          started <b>{when(run.createdAt)}</b>
        </span>
        <span>
          duration <b>{run.durationMs !== undefined ? duration(run.durationMs) : `${duration(Date.now() - run.createdAt)} so far`}</b>
        </span>
        {run.originRunId ? (
          <span>
            resumed from <a href={href.run(flow, run.originRunId)}>{run.originRunId}</a>
          </span>
        ) : null}
        <span>
          <Tags tags={run.tags} system={run.systemTags} />
        </span>
      </div>
      {Object.keys(run.params).length ? (
        <div class="meta">
          {Object.entries(run.params).map(([k, v]) => (
            <span key={k}>
              {k} = <b>{short(v, 60)}</b>
            </span>
          ))}
        </div>
      ) : null}
      {run.stale ? <div class="error-box">This run is marked running, but {run.stale}. Resume it to finish it.</div> : null}
      <div class="grid2">
        <div class="panel graph" data-testid="run-graph" onClick={openStep} dangerouslySetInnerHTML={{ __html: data.graphSvg }} />
        <div class="table-wrap" style="align-self:start">
          <table data-testid="steps">
            <thead>
              <tr>
                <th>step</th>
                <th>status</th>
                <th class="num">tasks</th>
                <th class="num">done</th>
                <th class="num">running</th>
                <th class="num">failed</th>
              </tr>
            </thead>
            <tbody>
              {steps.map((s) => (
                <tr class="clickable" key={s.name} data-step-row={s.name} onClick={() => (location.hash = href.step(flow, runId, s.name))}>
                  <td>
                    <a href={href.step(flow, runId, s.name)}>{s.name}</a> <span class="muted">{s.type}</span>
                  </td>
                  <td>
                    <Status status={s.total === 0 ? 'pending' : s.status} />
                  </td>
                  <td class="num" data-count="total">
                    {s.total}
                  </td>
                  <td class="num" data-count="succeeded">
                    {s.succeeded}
                  </td>
                  <td class="num" data-count="running">
                    {s.running}
                  </td>
                  <td class="num" data-count="failed">
                    {s.failed}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}
