import { useState } from 'preact/hooks';
import { getJson, getText, path, type TaskDetail } from '../api.ts';
import { bytes, duration, when } from '../format.ts';
import { href } from '../router.ts';
import { useData } from '../use-data.ts';
import { Crumbs, Failure, Loading, Status } from '../widgets.tsx';

type Tab = 'cards' | 'logs' | 'artifacts';

/** A task: its attempts (with typed errors), cards, logs and artifacts. */
export function TaskPage(props: { flow: string; runId: string; step: string; taskId: string; tab?: string }) {
  const { flow, runId, step, taskId } = props;
  const base = `/api/tasks/${path(flow, runId, step, taskId)}`;
  const { data, error, version } = useData(
    () => getJson<TaskDetail>(base),
    [base],
    (d) => d.task.status === 'running' || d.task.status === 'pending',
    1500,
  );
  if (error) return <Failure error={error} />;
  if (!data) return <Loading />;
  const tab: Tab =
    props.tab === 'logs' || props.tab === 'artifacts' || props.tab === 'cards' ? props.tab : data.cards.length ? 'cards' : 'logs';
  const pathspec = data.task.pathspec;
  return (
    <>
      <Crumbs>
        <a href={href.flows()}>Flows</a> / <a href={href.runs(flow)}>{flow}</a> / <a href={href.run(flow, runId)}>{runId}</a> /{' '}
        <a href={href.step(flow, runId, step)}>{step}</a> / {taskId}
      </Crumbs>
      <h1>
        {pathspec} <Status status={data.task.status} />
      </h1>
      <div class="meta">
        <span>
          key <b>{data.task.key}</b>
        </span>
        {data.index !== undefined ? (
          <span>
            foreach index <b>{data.index}</b>
          </span>
        ) : null}
        <span>
          run time <b>{duration(data.timings.runMs)}</b>
        </span>
        <span>
          queued <b>{duration(data.timings.queueMs)}</b>
        </span>
        {data.task.originPathspec ? (
          <span>
            cloned from <a href={href.task(data.task.originPathspec)}>{data.task.originPathspec}</a>
          </span>
        ) : null}
        {data.parentCount ? (
          <span>
            inputs:{' '}
            {data.parents.map((p) => (
              <a key={p.pathspec} href={href.task(p.pathspec)} style="margin-right:6px">
                {p.key}
              </a>
            ))}
            {data.parentCount > data.parents.length ? <span class="muted">and {data.parentCount - data.parents.length} more</span> : null}
          </span>
        ) : null}
      </div>
      {data.exception ? (
        <div class="error-box" data-testid="exception">
          {`${data.exception.code}: ${data.exception.message}${data.exception.artifact ? ` (stored by @catch in ${data.exception.artifact})` : ''}`}
        </div>
      ) : null}
      <h2>Attempts</h2>
      <div class="table-wrap">
        <table data-testid="attempts">
          <thead>
            <tr>
              <th class="num">attempt</th>
              <th>status</th>
              <th>started</th>
              <th class="num">duration</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {data.attempts.map((a) => (
              <tr key={a.attempt}>
                <td class="num">{a.attempt}</td>
                <td>
                  <Status status={a.status} />
                </td>
                <td>{when(a.startedAt)}</td>
                <td class="num">{a.finishedAt ? duration(a.finishedAt - a.startedAt) : ''}</td>
                <td>{a.error ? `${a.error.code}: ${a.error.message}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="tabs">
        {(['cards', 'logs', 'artifacts'] as Tab[]).map((t) => (
          <a key={t} href={href.task(pathspec, t)}>
            <button class={tab === t ? 'active' : ''} data-tab={t}>
              {t === 'cards' ? `Cards (${data.cards.length})` : t === 'artifacts' ? `Artifacts (${data.artifacts.length})` : 'Logs'}
            </button>
          </a>
        ))}
      </div>
      {tab === 'cards' ? <Cards base={base} data={data} version={version} /> : null}
      {tab === 'logs' ? <Logs base={base} attempts={data.attempts.length} version={version} /> : null}
      {tab === 'artifacts' ? <Artifacts base={base} data={data} /> : null}
    </>
  );
}

function Cards({ base, data, version }: { base: string; data: TaskDetail; version: number }) {
  const [selected, setSelected] = useState(0);
  if (data.cards.length === 0) return <p class="muted">This task has no cards. Decorate its step with @card to give it one.</p>;
  const card = data.cards[Math.min(selected, data.cards.length - 1)]!;
  const src = `${base}/cards/${card.index}?v=${version}-${card.renderedAt}`;
  return (
    <>
      <div class="filters">
        {data.cards.map((c) => (
          <button
            key={c.index}
            class={c.index === card.index ? 'active' : ''}
            data-card={c.id ?? 'default'}
            onClick={() => setSelected(c.index)}
          >
            {c.id ?? 'default'} <span class="muted">({c.type})</span>
          </button>
        ))}
        <span class="muted">
          {card.status === 'running' ? '● live · ' : ''}rendered {when(card.renderedAt)} · {bytes(card.size)}
        </span>
        <a href={`${base}/cards/${card.index}`} target="_blank" rel="noopener">
          open alone ↗
        </a>
      </div>
      {card.error ? <div class="error-box">{card.error}</div> : null}
      {/* sandbox="": the card runs no script and cannot reach this page. */}
      <iframe class="card" sandbox="" src={src} title={`card ${card.id ?? 'default'}`} data-testid="card-frame" />
    </>
  );
}

function Logs({ base, attempts, version }: { base: string; attempts: number; version: number }) {
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');
  const [attempt, setAttempt] = useState<number | undefined>(undefined);
  const q = new URLSearchParams({ stream });
  if (attempt !== undefined) q.set('attempt', String(attempt));
  const { data, error } = useData(() => getText(`${base}/log?${q}`), [base, stream, attempt, version]);
  return (
    <>
      <div class="filters">
        <button class={stream === 'stdout' ? 'active' : ''} onClick={() => setStream('stdout')}>
          stdout
        </button>
        <button class={stream === 'stderr' ? 'active' : ''} onClick={() => setStream('stderr')}>
          stderr
        </button>
        {attempts > 1 ? (
          <label>
            attempt{' '}
            <select
              value={attempt === undefined ? '' : String(attempt)}
              onChange={(e) => {
                const v = (e.target as HTMLSelectElement).value;
                setAttempt(v === '' ? undefined : Number(v));
              }}
            >
              <option value="">last</option>
              {Array.from({ length: attempts }, (_, i) => (
                <option key={i} value={String(i)}>
                  {i}
                </option>
              ))}
            </select>
          </label>
        ) : null}
      </div>
      {error ? (
        <Failure error={error} />
      ) : (
        <pre class="log" data-testid="log">
          {data === undefined ? 'Loading…' : data || `(no ${stream})`}
        </pre>
      )}
    </>
  );
}

function Artifacts({ base, data }: { base: string; data: TaskDetail }) {
  const [open, setOpen] = useState<string | undefined>(undefined);
  return (
    <>
      <div class="table-wrap">
        <table data-testid="artifacts">
          <thead>
            <tr>
              <th>name</th>
              <th>type</th>
              <th class="num">size</th>
              <th>sha256</th>
            </tr>
          </thead>
          <tbody>
            {data.artifacts.map((a) => (
              <tr class="clickable" key={a.name} data-artifact={a.name} onClick={() => setOpen(open === a.name ? undefined : a.name)}>
                <td>
                  <a>{a.name}</a>
                </td>
                <td>{a.type}</td>
                <td class="num">{bytes(a.size)}</td>
                <td class="muted">{a.sha.slice(0, 16)}…</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open ? <ArtifactValue base={base} name={open} /> : <p class="muted">Click an artifact to see its value.</p>}
    </>
  );
}

function ArtifactValue({ base, name }: { base: string; name: string }) {
  const { data, error } = useData(() => getJson<{ value: unknown }>(`${base}/artifacts/${path(name)}`), [base, name]);
  if (error) return <Failure error={error} />;
  return (
    <>
      <h2>{name}</h2>
      <pre class="value" data-testid="artifact-value">
        {data ? JSON.stringify(data.value, null, 2) : 'Loading…'}
      </pre>
    </>
  );
}
