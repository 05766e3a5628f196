import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { tempHome } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const { home, cleanup } = tempHome();
afterAll(cleanup);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, TRIBUTARY_HOME: home },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tributary CLI', () => {
  let trainRun = '';

  test('run examples/train.ts prints the best alpha and the run pathspec', () => {
    const r = cli('run', 'examples/train.ts');
    expect(r.stderr).toMatch(/Run TrainFlow\/\d+ succeeded/);
    expect(r.stdout).toMatch(/\[TrainFlow\/\d+\/end\/\d+\] best alpha: 10 \(validation MSE \d+\.\d+\)/);
    expect(r.code).toBe(0);
    trainRun = r.stdout.trim().split('\n').pop()!;
    expect(trainRun).toMatch(/^TrainFlow\/\d+$/);
  });

  test('show --format json prints steps, types, next and the foreach variable', () => {
    const r = cli('show', 'examples/train.ts', '--format', 'json');
    expect(r.code).toBe(0);
    const g = JSON.parse(r.stdout);
    expect(g.flow).toBe('TrainFlow');
    expect(g.steps.map((s: { name: string; type: string; next: string[] }) => [s.name, s.type, s.next])).toEqual([
      ['start', 'foreach', ['fit']],
      ['fit', 'linear', ['pick']],
      ['pick', 'join', ['end']],
      ['end', 'end', []],
    ]);
    expect(g.steps[0].foreach).toBe('alphas');
  });

  test('show renders text, mermaid and dot', () => {
    expect(cli('show', 'examples/switch.ts').stdout).toContain("switch on 'status': again → refine, done → classify");
    expect(cli('show', 'examples/switch.ts', '--format', 'mermaid').stdout).toContain('s_refine -->|"status = again"| s_refine');
    expect(cli('show', 'examples/branches.ts', '--format', 'dot').stdout).toContain('"start" -> "add";');
  });

  test('dump --json prints a task’s artifacts, decoded', () => {
    const r = cli('dump', trainRun, '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.pathspec).toMatch(/^TrainFlow\/\d+\/end\/\d+$/);
    expect(d.artifacts.bestAlpha.value).toBe(10);
    expect(d.artifacts.rows).toMatchObject({ type: 'number', value: 400 }); // parameters reach every step
    expect(d.artifacts.results.value.map((r: { alpha: number }) => r.alpha)).toEqual([0.001, 0.01, 0.1, 1, 3, 10, 30, 100, 300, 1000]);
    const start = cli('dump', `${trainRun}/start`, '--json');
    expect(JSON.parse(start.stdout).artifacts.X).toMatchObject({ type: 'Float64Array', value: { $typed: 'Float64Array', length: 12000 } });
    const one = cli('dump', `${d.pathspec}/bestMse`, '--json');
    expect(Object.keys(JSON.parse(one.stdout).artifacts)).toEqual(['bestMse']);
  });

  test('logs prints a task’s stdout', () => {
    const fit = JSON.parse(cli('dump', trainRun, '--json').stdout).pathspec.replace(/\/end\/\d+$/, '/pick');
    const r = cli('logs', fit);
    expect(r.code).toBe(0);
    const end = cli('logs', `${trainRun}/end`);
    expect(end.stdout).toMatch(/^best alpha: 10 /);
  });

  test('parameters from the command line are parsed by type; unknown ones exit 2', () => {
    const r = cli('run', 'examples/hello.ts', '--name', 'CLI', '--quiet');
    expect(r.code).toBe(0);
    const bad = cli('run', 'examples/hello.ts', '--nmae', 'CLI');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Unknown parameter --nmae for HelloFlow. Its parameters are: --name.');
    const help = cli('run', 'examples/train.ts', '--help');
    expect(help.stdout).toContain('--rows <number> (default 400)  rows in the generated data set');
  });

  test('an invalid graph fails before anything runs, naming the step', () => {
    const r = cli('run', 'cli/test/fixtures/invalid-flow.ts');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [GRAPH_INVALID]: Step *orphan* is unreachable from the start step *start*.');
  });

  test('a failed run exits non-zero and says which task failed', () => {
    const r = cli('run', 'cli/test/fixtures/behaviours.ts', '--flow', 'FailingFlow');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Task FailingFlow\/\d+\/boom\/\d+ failed: RangeError: the model diverged/);
  });
});
