/**
 * Cold start through the CLI, as a user meets it: every figure is a fresh `tributary` process
 * (the built package, no loader), shown as a multiple of a bare `node -e 0` measured in the same
 * run. Targets (issue 10): `show` <= 3, a 5-step linear flow <= 4, a 100-split foreach + join
 * with 2 workers <= 6. Also the time a plain Node program takes to `import('tributary')`.
 *
 * The first CLI call on a TypeScript flow builds it with esbuild (then cached by content): that
 * first call is shown on its own row; the medians are of the calls after it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, printTable } from './table.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'cli/bin/tributary.js');
const flows = join(root, 'benchmarks/src/flows.ts');
const runs = Number(process.env.BENCH_RUNS ?? 7);
const cache = join(root, 'benchmarks/node_modules/.cache/tributary');

function time(args: string[], cwd = root): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function timed(label: string, target: number | undefined, args: () => string[]): Array<string | number> {
  const samples = Array.from({ length: runs }, () => time(args()));
  return [label, median(samples).toFixed(0), Math.min(...samples).toFixed(0), '', target === undefined ? '' : `<= ${target}`];
}

const home = () => mkdtempSync(join(tmpdir(), 'tributary-cli-bench-'));
const homes: string[] = [];
const fresh = () => {
  const h = home();
  homes.push(h);
  return h;
};

// The baseline, measured in this run.
const nodeSamples = Array.from({ length: runs }, () => time(['-e', '0']));
const node = median(nodeSamples);

rmSync(cache, { recursive: true, force: true });
const firstShow = time([bin, 'show', flows, '--flow', 'FiveStepFlow']);

const rows = [
  ['node -e 0 (reference)', node.toFixed(0), Math.min(...nodeSamples).toFixed(0), '1.00', ''],
  ['tributary show (first call: builds the flow with esbuild)', firstShow.toFixed(0), firstShow.toFixed(0), '', ''],
  timed('tributary show flows.ts', 3, () => [bin, 'show', flows, '--flow', 'FiveStepFlow']),
  timed('tributary run: 5-step linear flow', 4, () => [bin, 'run', flows, '--flow', 'FiveStepFlow', '--home', fresh(), '--quiet']),
  timed('tributary run: 100-split foreach + join, 2 workers', 6, () => [
    bin,
    'run',
    flows,
    '--flow',
    'FanOutFlow',
    '--max-workers',
    '2',
    '--home',
    fresh(),
    '--quiet',
  ]),
];
for (const r of rows.slice(2)) r[3] = (Number(r[1]) / node).toFixed(2);

// import('tributary') from a plain Node program: the time of the import itself, in that process.
const importMs = Array.from({ length: runs }, () => {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "const t = performance.now(); await import('tributary'); console.log(performance.now() - t);"],
    { cwd: root, encoding: 'utf8' },
  );
  return Number(r.stdout.trim());
});

printTable(
  `CLI cold start (built packages, no loader; median of ${runs} fresh processes each)`,
  ['command', 'median ms', 'best ms', 'x node -e 0', 'target'],
  rows,
);
printTable(
  'Embedding',
  ['measure', 'median ms', 'best ms'],
  [["import('tributary') in a plain Node process", median(importMs).toFixed(1), Math.min(...importMs).toFixed(1)]],
);
for (const h of homes) rmSync(h, { recursive: true, force: true });
