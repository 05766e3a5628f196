/**
 * What `@pypi` costs: a 3-step flow whose middle step runs `python3` in its environment, run on a
 * fresh home (the environment is locked and built) and again on the same home (locked, then
 * reused from the cache), against the same flow without `@pypi`. Runs alternate; medians, with
 * ratios measured in this same process.
 *
 *   pnpm --filter @tributary/benchmarks bench:environments
 *   BENCH_RUNS=5 ...
 *
 * Packages come from a folder of wheels built here (no PyPI needed): 5 small packages, one
 * depending on the other four.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeWheels } from '@tributary/environment-pypi/testing';
import { runFlow, type FlowSpec } from 'tributary';
import { BENCH_WHEELS, PlainPythonFlow, PypiPythonFlow } from './environment-flows.ts';
import { median, printTable } from './table.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = mkdtempSync(join(tmpdir(), 'tributary-env-bench-'));
const wheels = BENCH_WHEELS;
makeWheels(wheels, [
  ['benchmain', '1.0.0', 'main', ['benchdep0', 'benchdep1', 'benchdep2', 'benchdep3']],
  ...[0, 1, 2, 3].map((i): [string, string, string, string[]] => [`benchdep${i}`, '1.0.0', `dep${i}`, []]),
]);

async function timed(flow: new () => FlowSpec, home: string): Promise<number> {
  const t0 = performance.now();
  const run = await runFlow(flow, { home });
  if (run.status !== 'succeeded') throw new Error(`${flow.name} ${run.status}: ${run.error?.message}`);
  return performance.now() - t0;
}

const samples = { plain: [] as number[], build: [] as number[], reuse: [] as number[] };
try {
  for (let i = 0; i < RUNS; i++) {
    samples.plain.push(await timed(PlainPythonFlow, mkdtempSync(join(root, 'plain-'))));
    const home = mkdtempSync(join(root, 'pypi-'));
    samples.build.push(await timed(PypiPythonFlow, home));
    samples.reuse.push(await timed(PypiPythonFlow, home));
  }
  const base = median(samples.plain);
  const row = (label: string, ms: number[]) => [
    label,
    median(ms).toFixed(0),
    `${(median(ms) / base).toFixed(2)}x`,
    (median(ms) - base).toFixed(0),
  ];
  printTable(
    `@pypi: a 3-step flow, the middle step runs python3; median of ${RUNS} runs each, alternating`,
    ['flow', 'run ms', 'vs no @pypi', 'extra ms'],
    [
      row('no @pypi (system python3)', samples.plain),
      row('@pypi, first run: lock + build the venv (5 wheels)', samples.build),
      row('@pypi, next run: lock, reuse the cached venv', samples.reuse),
    ],
  );
} finally {
  rmSync(root, { recursive: true, force: true });
  rmSync(wheels, { recursive: true, force: true });
}
