/** The tables of the fault phase: throughput, latency and errors before and after the kill. */
import { printTable } from '../table.ts';
import { fmt, ms, times } from './format.ts';
import type { GeneratorResult } from './generator-messages.ts';
import { failedTries, stats } from './stats.ts';
import { OPS, READ_OPS, WRITE_OPS } from './workload.ts';

export function beforeAndAfterTable(results: GeneratorResult[], from: number, killAt: number, to: number): void {
  const windows: Array<[string, number, number]> = [
    ['before the kill (3 instances)', from, killAt],
    ['after the kill (2 instances)', killAt, to],
    ['first second after the kill', killAt, Math.min(to, killAt + 1000)],
    ['after the kill, from +1 s', Math.min(to, killAt + 1000), to],
  ];
  printTable(
    'Phase 2: before and after the kill',
    [
      'window',
      'reads/s',
      'read P50/P95/P99 ms',
      'writes/s',
      'write P50/P95/P99 ms',
      'calls/s vs before',
      'errors seen by generators',
      'failed tries (retried)',
    ],
    windows.map(([name, a, b]) => {
      const r = stats(results, READ_OPS, a, b);
      const w = stats(results, WRITE_OPS, a, b);
      const before = stats(results, OPS, from, killAt).perSec;
      return [
        name,
        fmt(r.perSec),
        `${ms(r.p50)}/${ms(r.p95)}/${ms(r.p99)}`,
        fmt(w.perSec),
        `${ms(w.p50)}/${ms(w.p95)}/${ms(w.p99)}`,
        times(r.perSec + w.perSec, before),
        fmt(r.errors + w.errors),
        fmt(failedTries(results, a, b)),
      ];
    }),
  );
}

export function secondBySecondTable(results: GeneratorResult[], from: number, killAt: number, to: number): void {
  const rows: string[][] = [];
  for (let a = from, i = 1; a + 500 < to; a += 1000, i++) {
    const b = Math.min(to, a + 1000);
    const r = stats(results, READ_OPS, a, b);
    const w = stats(results, WRITE_OPS, a, b);
    const mark = killAt >= a && killAt < b ? ' (kill)' : '';
    rows.push([
      `${i}${mark}`,
      fmt(r.perSec),
      ms(r.p99),
      fmt(w.perSec),
      ms(w.p99),
      fmt(r.errors + w.errors),
      fmt(failedTries(results, a, b)),
    ]);
  }
  printTable(
    'Phase 2: second by second',
    ['second', 'reads/s', 'read P99 ms', 'writes/s', 'write P99 ms', 'errors', 'failed tries (retried)'],
    rows,
  );
}

export function printFailedTriesByCause(results: GeneratorResult[]): void {
  const kinds: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.failedTries.kinds)) kinds[k] = (kinds[k] ?? 0) + n;
  console.log(
    `\nFailed tries by cause (each retried by the client on the next instance): ${
      Object.entries(kinds)
        .map(([k, n]) => `${k} ${fmt(n)}`)
        .join(', ') || 'none'
    }.`,
  );
}
