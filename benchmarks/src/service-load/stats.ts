/** Counts, rates and latency percentiles over the generators' samples, in a time window. */
import { percentile } from '../table.ts';
import type { GeneratorResult } from './generator-messages.ts';
import type { Op } from './workload.ts';

export interface Stats {
  count: number;
  perSec: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

export function stats(results: GeneratorResult[], ops: readonly Op[], from: number, to: number): Stats {
  const lats: number[] = [];
  let errors = 0;
  for (const r of results)
    for (const op of ops) {
      const s = r.ops[op];
      for (let i = 0; i < s.ends.length; i++) if (s.ends[i]! >= from && s.ends[i]! < to) lats.push(s.lats[i]!);
      for (const e of s.errorEnds) if (e >= from && e < to) errors++;
    }
  const sorted = Float64Array.from(lats).sort();
  const pct = (p: number) => percentile(sorted, p);
  return { count: sorted.length, perSec: sorted.length / ((to - from) / 1000), p50: pct(50), p95: pct(95), p99: pct(99), errors };
}

/** Tries that failed and were retried by the client (or given up on), in a time window. */
export function failedTries(results: GeneratorResult[], from: number, to: number): number {
  let n = 0;
  for (const r of results) for (const e of r.failedTries.ends) if (e >= from && e < to) n++;
  return n;
}
