/** What the UI's API sends: plain JSON views of client objects (dates as epoch ms). */
import { runLiveness, type Card, type MetadataStore, type Run, type Task } from '@tributary/core';
import type { CardView, RunView, TaskRow } from '../shared/api-types.ts';

export async function runView(run: Run, metadata: MetadataStore): Promise<RunView> {
  const live = run.status === 'running' ? await runLiveness(metadata, run.record) : undefined;
  const finishedAt = run.finishedAt?.getTime();
  return {
    flow: run.flow,
    runId: run.runId,
    pathspec: run.pathspec,
    status: run.status,
    ...(live && !live.alive ? { stale: live.why } : {}),
    user: run.user,
    tags: run.tags,
    systemTags: run.systemTags,
    params: jsonSafe(run.params, 2000) as Record<string, unknown>,
    createdAt: run.createdAt.getTime(),
    ...(finishedAt !== undefined ? { finishedAt, durationMs: finishedAt - run.createdAt.getTime() } : {}),
    ...(run.originRunId ? { originRunId: run.originRunId } : {}),
  };
}

export function taskRow(t: Task): TaskRow {
  return {
    taskId: t.id,
    pathspec: t.pathspec,
    key: t.key,
    status: t.status,
    attempts: t.attemptCount,
    createdAt: t.createdAt.getTime(),
    ...(t.finishedAt ? { finishedAt: t.finishedAt.getTime() } : {}),
    ...(t.originPathspec ? { originPathspec: t.originPathspec } : {}),
  };
}

export function cardView(c: Card, index: number): CardView {
  return {
    index,
    id: c.id,
    type: c.type,
    status: c.status,
    size: c.size,
    attempt: c.attempt,
    renderedAt: c.renderedAt.getTime(),
    ...(c.error ? { error: c.error } : {}),
  };
}

/** A value made JSON-safe and bounded: bigints, typed arrays, Maps, Sets, Dates, cycles, long strings. */
export function jsonSafe(value: unknown, maxString = 10_000, maxEntries = 1000, depth = 0): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return value.length > maxString ? `${value.slice(0, maxString)}… (${value.length} characters)` : value;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return null;
  if (typeof value !== 'object') return String(value);
  if (depth > 20) return '…';
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value)) {
    const arr = value as unknown as ArrayLike<unknown>;
    const n = arr.length ?? value.byteLength;
    const head = Array.from({ length: Math.min(n, 100) }, (_, i) => jsonSafe(arr[i], maxString, maxEntries, depth + 1));
    return { [`${value.constructor.name}(${n})`]: n > 100 ? [...head, `… ${n - 100} more`] : head };
  }
  const entries: Array<[string, unknown]> =
    value instanceof Map
      ? [...value.entries()].map(([k, v]) => [String(k), v])
      : value instanceof Set
        ? [...value].map((v, i) => [String(i), v])
        : Array.isArray(value)
          ? value.map((v, i) => [String(i), v])
          : Object.entries(value);
  const shown = entries.slice(0, maxEntries).map(([k, v]) => [k, jsonSafe(v, maxString, maxEntries, depth + 1)] as const);
  const more = entries.length > maxEntries ? `… ${entries.length - maxEntries} more` : undefined;
  if (Array.isArray(value) || value instanceof Set) return more ? [...shown.map(([, v]) => v), more] : shown.map(([, v]) => v);
  const obj = Object.fromEntries(shown);
  if (more) obj['…'] = more;
  return value instanceof Map ? { 'Map()': obj } : obj;
}
