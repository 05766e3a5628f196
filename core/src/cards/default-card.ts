/** The sections of a `default` card: what Metaflow's default card shows, from what the task's process already holds. */
import { renderGraphSvg } from '../graph/graph-svg.ts';
import type { FlowGraph } from '../graph/ir.ts';
import { escapeHtml, formatBytes, formatDuration, formatNumber, shortText } from './html.ts';

/** What a card knows about its task. @internal */
export interface CardTaskFacts {
  graph: FlowGraph;
  pathspec: string;
  step: string;
  status: 'running' | 'succeeded' | 'failed';
  attempt: number;
  /** Attempts the step may make (1 + @retry times). */
  maxAttempts: number;
  /** This attempt is the @catch fallback (it runs no step code, after the others failed). */
  caught?: boolean;
  /** How the task's earlier attempts failed. */
  failures?: Array<{ attempt: number; code: string; message: string }>;
  startedAt: number;
  finishedAt?: number;
  foreach?: Array<{ step: string; index: number; count: number }>;
  params: Array<{ name: string; value: unknown }>;
  artifacts: Array<{ name: string; type: string; size: number; sha: string; value?: { v: unknown } }>;
  error?: { code: string; message: string };
}

/** A short summary of a value for the artifacts table: its shape, not all of it. @internal */
export function summarize(value: unknown): string {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const arr = value as unknown as ArrayLike<number | bigint>;
    const n = arr.length;
    if (n > 0 && typeof arr[0] === 'number') {
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const v = arr[i] as number;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      return `${value.constructor.name}(${n}) min ${formatNumber(min)}, mean ${formatNumber(sum / n)}, max ${formatNumber(max)}`;
    }
    return `${value.constructor.name}(${n})`;
  }
  if (Array.isArray(value) && value.length > 5) return `Array(${value.length}) ${shortText(value.slice(0, 5), 120).replace(/\]$/, ', …]')}`;
  if (value instanceof Map) return `Map(${value.size}) ${shortText(Object.fromEntries([...value.entries()].slice(0, 5)), 120)}`;
  if (value instanceof Set) return `Set(${value.size}) ${shortText([...value].slice(0, 5), 120)}`;
  return shortText(value, 160);
}

const kv = (rows: Array<[string, string]>) =>
  `<dl class="kv">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;

/** The default card's sections, before the step's own components. @internal */
export function defaultCardSections(f: CardTaskFacts): string {
  const out: string[] = [];
  const overview: Array<[string, string]> = [
    ['task', f.pathspec],
    ['status', f.status === 'running' ? 'running (live card)' : f.status],
    [
      'attempt',
      f.caught
        ? `${f.attempt} (the @catch fallback, after ${f.attempt} failed attempt${f.attempt === 1 ? '' : 's'})`
        : `${f.attempt} (${f.attempt + 1} of at most ${f.maxAttempts})`,
    ],
    ['started', new Date(f.startedAt).toISOString()],
    [
      'duration',
      f.finishedAt !== undefined ? formatDuration(f.finishedAt - f.startedAt) : `${formatDuration(Date.now() - f.startedAt)} so far`,
    ],
  ];
  for (const fr of f.foreach ?? []) overview.push([`foreach ${fr.step}`, `split ${fr.index + 1} of ${fr.count} (index ${fr.index})`]);
  out.push(`<section class="overview"><h2>Task</h2>${kv(overview)}</section>`);
  if (f.failures?.length)
    out.push(
      `<section class="attempts"><h2>Earlier attempts</h2><div class="table-wrap"><table><thead><tr><th class="num">attempt</th><th>failed with</th></tr></thead><tbody>${f.failures
        .map((a) => `<tr><td class="num">${a.attempt}</td><td>${escapeHtml(`${a.code}: ${a.message}`)}</td></tr>`)
        .join('')}</tbody></table></div></section>`,
    );
  if (f.error)
    out.push(
      `<section class="error"><h2>Error</h2><div class="card-error">${escapeHtml(`${f.error.code}: ${f.error.message}`)}</div></section>`,
    );
  if (f.params.length)
    out.push(
      `<section class="parameters"><h2>Parameters</h2><div class="table-wrap"><table><thead><tr><th>name</th><th>value</th></tr></thead><tbody>${f.params
        .map((p) => `<tr><td>${escapeHtml(p.name)}</td><td>${escapeHtml(shortText(p.value, 300))}</td></tr>`)
        .join('')}</tbody></table></div></section>`,
    );
  const arts = f.artifacts.filter((a) => !a.name.startsWith('_') && !f.params.some((p) => p.name === a.name));
  out.push(
    `<section class="artifacts"><h2>Artifacts (${arts.length})</h2>${
      arts.length === 0
        ? '<p class="muted">This task has no artifacts.</p>'
        : `<div class="table-wrap"><table><thead><tr><th>name</th><th>type</th><th class="num">size</th><th>value</th></tr></thead><tbody>${arts
            .map(
              (a) =>
                `<tr><td>${escapeHtml(a.name)}</td><td>${escapeHtml(a.type)}</td><td class="num">${formatBytes(a.size)}</td><td>${
                  a.value
                    ? escapeHtml(summarize(a.value.v))
                    : `<span class="muted">from an earlier step (sha256 ${escapeHtml(a.sha.slice(0, 12))}…)</span>`
                }</td></tr>`,
            )
            .join('')}</tbody></table></div>`
    }</section>`,
  );
  out.push(`<section class="graph"><h2>Graph</h2>${renderGraphSvg(f.graph, { highlight: f.step })}</section>`);
  return out.join('');
}
