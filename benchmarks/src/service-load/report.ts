/** The tables of a phase: per operation against the seed's targets, sustained throughput, CPU, errors. */
import { availableParallelism } from 'node:os';
import { printTable } from '../table.ts';
import { fmt, ms, times } from './format.ts';
import type { GeneratorResult } from './generator-messages.ts';
import type { PhaseCpu } from './phase.ts';
import { stats, type Stats } from './stats.ts';
import { isWrite, OPS, READ_OPS, WRITE_OPS, type Op } from './workload.ts';

/** The seed's targets (the issue), ms and ops/s. */
const TARGET = {
  read: { p50: 20, p95: 50, p99: 100, peak: 2100 },
  write: { p50: 30, p95: 80, p99: 150, peak: 700 },
} as const;
const AIM = 10;

const targetOf = (op: Op) => (isWrite(op) ? TARGET.write : TARGET.read);

export function opTable(title: string, results: GeneratorResult[], from: number, to: number): { reads: Stats; writes: Stats } {
  const rows: string[][] = [];
  const row = (label: string, kind: string, s: Stats, t: { p50: number; p95: number; p99: number }) => [
    label,
    kind,
    fmt(s.count),
    fmt(s.perSec),
    ms(s.p50),
    ms(s.p95),
    ms(s.p99),
    `${t.p50}/${t.p95}/${t.p99}`,
    fmt(s.errors),
  ];
  for (const op of OPS) rows.push(row(op, isWrite(op) ? 'write' : 'read', stats(results, [op], from, to), targetOf(op)));
  const reads = stats(results, READ_OPS, from, to);
  const writes = stats(results, WRITE_OPS, from, to);
  for (const [name, s, t] of [
    ['all reads', reads, TARGET.read],
    ['all writes', writes, TARGET.write],
  ] as const)
    rows.push(row(`**${name}**`, '', s, t));
  printTable(title, ['operation', 'kind', 'count', 'ops/s', 'P50 ms', 'P95 ms', 'P99 ms', 'seed target P50/P95/P99 ms', 'errors'], rows);
  return { reads, writes };
}

export function sustainedTable(title: string, reads: Stats, writes: Stats): void {
  const row = (name: string, s: Stats, t: { p99: number; peak: number }) => [
    name,
    fmt(s.perSec),
    ms(s.p99),
    `${t.p99}`,
    s.p99 <= t.p99 ? 'within' : `${times(s.p99, t.p99)} over`,
    fmt(t.peak),
    `${times(s.perSec, t.peak)} the seed's peak`,
    fmt(t.peak * AIM),
    times(s.perSec, t.peak * AIM),
  ];
  printTable(
    title,
    [
      'kind',
      'sustained ops/s',
      'P99 ms',
      'P99 target ms',
      'P99 vs target',
      "seed's peak ops/s",
      'vs seed peak',
      `aim (${AIM}x) ops/s`,
      'vs aim',
    ],
    [row('reads', reads, TARGET.read), row('writes', writes, TARGET.write)],
  );
}

export function cpuTable(title: string, cpu: PhaseCpu, generators: number): void {
  const ours = cpu.services + cpu.postgres + cpu.generators + cpu.main;
  const other = Math.max(0, cpu.machine - cpu.softirq - ours);
  const row = (name: string, s: number) => [name, s.toFixed(1), (s / cpu.wall).toFixed(2)];
  printTable(
    title,
    ['processes', 'CPU s', `cores busy (of ${availableParallelism()})`],
    [
      row('3 service instances', cpu.services),
      row('Postgres (all backends)', cpu.postgres),
      row(`${generators} load generators`, cpu.generators),
      row('this process (orchestrator)', cpu.main),
      row('whole machine (/proc/stat)', cpu.machine),
      row('  of which softirq (loopback TCP)', cpu.softirq),
      row('  of which not this benchmark (other processes)', other),
    ],
  );
}

export function printErrors(results: GeneratorResult[]): void {
  const lines: string[] = [];
  for (const op of OPS) {
    const n = results.reduce((a, r) => a + r.ops[op].errorEnds.length, 0);
    if (n === 0) continue;
    const samples = [...new Set(results.flatMap((r) => r.ops[op].errorSamples))].slice(0, 3);
    lines.push(`  ${op}: ${n} error(s), e.g. ${samples.join(' | ')}`);
  }
  if (lines.length > 0) console.log(`\nErrors seen by the generators (after the client's retries):\n${lines.join('\n')}`);
}
