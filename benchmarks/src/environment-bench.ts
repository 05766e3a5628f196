/**
 * What a step environment costs, for each kind: a 3-step flow whose middle step uses its
 * environment (`python3` of a `@pypi` venv, a command of a `@conda` prefix, an `import()` of an
 * `@npm` package), run on a fresh home (the spec is solved and the environment built) and again
 * on the same home (the lock is reused, the environment too), against the same flow without an
 * environment whose middle step does nothing. Runs alternate; medians, with ratios measured in
 * this same process. The extra time of a next run is the step's own work (starting python3, a
 * shell, loading a module) plus entering its environment.
 *
 *   pnpm --filter @tributary/benchmarks bench:environments
 *   BENCH_RUNS=5 ...
 *
 * Sources are built here (no PyPI, conda channel or registry needed): 5 packages each, one
 * depending on the other four.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONDA_FIXTURE_PLACEHOLDER, makeCondaChannel } from '@tributary/environment-conda/testing';
import { makeNpmPackages } from '@tributary/environment-npm/testing';
import { makeWheels } from '@tributary/environment-pypi/testing';
import { runFlow, type FlowSpec } from 'tributary';
import {
  BENCH_CHANNEL,
  BENCH_TARBALLS,
  BENCH_WHEELS,
  CondaCommandFlow,
  NpmImportFlow,
  PlainFlow,
  PypiPythonFlow,
} from './environment-flows.ts';
import { median, printTable } from './table.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = mkdtempSync(join(tmpdir(), 'tributary-env-bench-'));
const deps = [0, 1, 2, 3];
makeWheels(BENCH_WHEELS, [
  ['benchmain', '1.0.0', 'main', deps.map((i) => `benchdep${i}`)],
  ...deps.map((i): [string, string, string, string[]] => [`benchdep${i}`, '1.0.0', `dep${i}`, []]),
]);
makeCondaChannel(BENCH_CHANNEL, [
  {
    name: 'benchmain',
    version: '1.0',
    depends: deps.map((i) => `benchdep${i}`),
    files: { 'bin/benchmain': `#!/bin/sh\necho "${CONDA_FIXTURE_PLACEHOLDER}"\n` },
    executables: ['bin/benchmain'],
    prefixFiles: { 'bin/benchmain': 'text' },
  },
  ...deps.map((i) => ({ name: `benchdep${i}`, version: '1.0', noarch: 'generic' as const, files: { [`share/dep${i}`]: `dep${i}` } })),
]);
makeNpmPackages(BENCH_TARBALLS, [
  ['bench-main', '1.0.0', {}, Object.fromEntries(deps.map((i) => [`bench-dep${i}`, '1.0.0']))],
  ...deps.map((i): [string, string] => [`bench-dep${i}`, '1.0.0']),
]);

async function timed(flow: new () => FlowSpec, home: string): Promise<number> {
  const t0 = performance.now();
  const run = await runFlow(flow, { home });
  if (run.status !== 'succeeded') throw new Error(`${flow.name} ${run.status}: ${run.error?.message}`);
  return performance.now() - t0;
}

const kinds = [
  { label: '@pypi (venv, 5 wheels)', flow: PypiPythonFlow },
  { label: '@conda (prefix, 5 packages)', flow: CondaCommandFlow },
  { label: '@npm (node_modules, 5 tarballs)', flow: NpmImportFlow },
];
const plain = { build: [] as number[], reuse: [] as number[] };
const samples = kinds.map(() => ({ build: [] as number[], reuse: [] as number[] }));
try {
  for (let i = 0; i < RUNS; i++) {
    // The same two runs without an environment: a fresh home costs something of its own.
    const plainHome = mkdtempSync(join(root, 'plain-'));
    plain.build.push(await timed(PlainFlow, plainHome));
    plain.reuse.push(await timed(PlainFlow, plainHome));
    for (const [k, { flow }] of kinds.entries()) {
      const home = mkdtempSync(join(root, 'env-'));
      samples[k]!.build.push(await timed(flow, home));
      samples[k]!.reuse.push(await timed(flow, home));
    }
  }
  const row = (label: string, ms: number[], baseline: number[]) => [
    label,
    median(ms).toFixed(0),
    `${(median(ms) / median(baseline)).toFixed(2)}x`,
    (median(ms) - median(baseline)).toFixed(0),
  ];
  printTable(
    `Step environments: a 3-step flow, the middle step uses its environment; median of ${RUNS} runs each, alternating; each against the same run without one`,
    ['flow', 'run ms', 'vs none', 'extra ms'],
    [
      row('no environment (empty step), first run (fresh home)', plain.build, plain.build),
      row('no environment (empty step), next run', plain.reuse, plain.reuse),
      ...kinds.flatMap(({ label }, k) => [
        row(`${label}, first run: solve + build`, samples[k]!.build, plain.build),
        row(`${label}, next run: lock and build reused`, samples[k]!.reuse, plain.reuse),
      ]),
    ],
  );
  printTable(
    'Build vs reuse, per kind',
    ['kind', 'first run ms', 'next run ms', 'first / next'],
    kinds.map(({ label }, k) => {
      const b = median(samples[k]!.build);
      const r = median(samples[k]!.reuse);
      return [label, b.toFixed(0), r.toFixed(0), `${(b / r).toFixed(1)}x`];
    }),
  );
} finally {
  for (const dir of [root, BENCH_WHEELS, BENCH_CHANNEL, BENCH_TARBALLS]) rmSync(dir, { recursive: true, force: true });
}
