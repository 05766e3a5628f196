/** What the orchestrator tells a generator process, and what a generator sends back. */
import type { Op } from './workload.ts';

export interface GeneratorConfig {
  id: number;
  phase: string;
  urls: string[];
  token: string;
  writers: number;
  readers: number;
  connections: number;
  tasksPerRun: number;
  drainMs: number;
}

export interface OpSamples {
  /** End time (epoch ms) and latency (ms) of each successful call. */
  ends: Float64Array;
  lats: Float64Array;
  /** End time of each failed call (after the client's own retries). */
  errorEnds: Float64Array;
  errorSamples: string[];
}

export interface GeneratorResult {
  type: 'result';
  id: number;
  ops: Record<Op, OpSamples>;
  acked: { runs: string[]; tasks: string[]; started: string[]; finished: string[] };
  /** Writes whose outcome is unknown: failed after retries, or still in flight at exit. */
  doubt: { errored: Record<Op, number>; inflight: Record<Op, number> };
  /** Tries of a call that failed and that the client retried or gave up on (from undici's diagnostics channels). */
  failedTries: { ends: Float64Array; kinds: Record<string, number> };
}

export type ToGenerator = { type: 'start' } | { type: 'stop' };
export type FromGenerator = { type: 'ready' } | GeneratorResult | { type: 'fatal'; message: string };
