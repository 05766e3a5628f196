/** Small pieces every page uses. */
import type { ComponentChildren } from 'preact';
import { ApiError } from './api.ts';

export function Status({ status, stale }: { status: string; stale?: string | undefined }) {
  if (stale)
    return (
      <span class="badge stale" title={stale}>
        stale
      </span>
    );
  return <span class={`badge ${status}`}>{status}</span>;
}

export function Tags({ tags, system }: { tags: string[]; system?: string[] }) {
  return (
    <span>
      {tags.map((t) => (
        <span class="tag" key={t}>
          {t}
        </span>
      ))}
      {(system ?? []).map((t) => (
        <span class="tag system" key={t}>
          {t}
        </span>
      ))}
    </span>
  );
}

export function Failure({ error }: { error: Error }) {
  const code = error instanceof ApiError ? `${error.code}: ` : '';
  return <div class="error-box">{`${code}${error.message}`}</div>;
}

/** A status filter: `any` or one of `statuses`; picking one calls `onPick`. */
export function StatusFilter(props: { value: string; statuses: string[]; onPick: (status: string) => void; testid?: string }) {
  return (
    <label>
      status{' '}
      <select data-testid={props.testid} value={props.value} onChange={(e) => props.onPick((e.target as HTMLSelectElement).value)}>
        <option value="">any</option>
        {props.statuses.map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
    </label>
  );
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

export function Crumbs({ children }: { children: ComponentChildren }) {
  return <div class="crumbs">{children}</div>;
}
