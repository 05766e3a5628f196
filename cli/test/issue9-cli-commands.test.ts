import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSqliteMetadataStore } from '../src/index.ts';
import { bin, root, runCli } from './cli-process.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome();
afterAll(cleanup);
const FLOWS = 'cli/test/fixtures/issue9-cli.ts';
const cli = (...args: string[]) => runCli(home, args);

let splits = ''; // SplitsFlow/<id>: a foreach of three tasks; join prints to stderr only
let flags = ''; // FlagsFlow/<id>: start prints one line, end prints nothing

beforeAll(() => {
  splits = cli('run', FLOWS, '--flow', 'SplitsFlow', '--quiet').stdout.trim();
  flags = cli('run', FLOWS, '--flow', 'FlagsFlow', '--quiet').stdout.trim();
  expect(splits).toMatch(/^SplitsFlow\/\d+$/);
  expect(flags).toMatch(/^FlagsFlow\/\d+$/);
});

describe('issue 9 item 20: CLI commands are strict and say what happened', () => {
  test('issue 9 item 20: pathspecs are strict: extra segments, "..", empty segments and non-numeric ids are errors', () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['dump', `${flags}/start/1/summary/extra`],
        /has 6 segments; this command takes Flow\/run\[\/step\[\/task\[\/artifact\]\]\] \(at most 5\)/,
      ],
      [['logs', `${flags}/start/1/summary`], /has 5 segments; this command takes Flow\/run\/step\[\/task\] \(at most 4\)/],
      [['dump', `${flags}/start/../x`], /the task segment is "\.\."; pathspecs are not paths/],
      [['logs', `${flags}/../x`], /the step segment is "\.\."/],
      [['dump', `${flags}//start`], /the step segment is empty/],
      [['dump', 'FlagsFlow/-1'], /the run segment "-1" is not a run id/],
      [['logs', flags], /is incomplete; this command takes Flow\/run\/step\[\/task\]/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^error \[PARAM_INVALID\]: Pathspec "/);
      expect(r.stderr).toMatch(message);
    }
  });

  test('issue 9 item 20: --attempt 7 on a task with one attempt, -1 and ../x are errors, not an empty success', () => {
    const seven = cli('logs', `${flags}/start`, '--attempt', '7');
    expect(seven.code).toBe(1);
    expect(seven.stderr).toMatch(/^error \[NOT_FOUND\]: Task FlagsFlow\/\d+\/start\/\d+ has 1 attempt \(0\); there is no attempt 7\./);
    for (const bad of ['-1', '../x', '1.5']) {
      const r = cli('logs', `${flags}/start`, '--attempt', bad);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`error [PARAM_INVALID]: --attempt must be an attempt number (0, 1, ...), got "${bad}".`);
    }
    expect(cli('logs', `${flags}/start`, '--attempt', '0').stdout).toBe('dry=false epochs=10 optimizer=adam\n');
  });

  test('issue 9 item 20: control characters in names and options get a typed error that shows them escaped', () => {
    // (A NUL cannot be passed in argv at all; the API-side check is the core's.)
    const homeOpt = cli('runs', 'FlagsFlow', '--home', '/tmp/x\x01y');
    expect(homeOpt.code).toBe(2);
    expect(homeOpt.stderr).toBe(
      'error [PARAM_INVALID]: Option --home of tributary runs contains a control character: "/tmp/x\\x01y". Remove it.\n',
    );
    const tag = cli('run', FLOWS, '--flow', 'FlagsFlow', '--tag', 'a\x1b]0;t\x07');
    expect(tag.code).toBe(2);
    expect(tag.stderr).toContain('Option --tag of tributary run contains a control character: "a\\x1b]0;t\\x07"');
    const name = cli('dump', 'Flags\x1bFlow/1');
    expect(name.code).toBe(2);
    expect(name.stderr).toContain('"Flags\\x1bFlow/1"');
    const env = runCli(home, ['runs', 'FlagsFlow'], { TRIBUTARY_HOME: '/tmp/a\x7fb' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('TRIBUTARY_HOME contains a control character: "/tmp/a\\x7fb"');
  });

  test('issue 9 item 20: dump of a step with several tasks lists them (text and JSON)', () => {
    const text = cli('dump', `${splits}/body`);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SplitsFlow\/\d+\/body has 3 tasks; dump one with tributary dump SplitsFlow\/\d+\/body\/<task>:$/);
    expect(lines.slice(1).map((l) => l.replace(/\/\d+\//, '/N/').replace(/body\/\d+/, 'body/T'))).toEqual([
      '  SplitsFlow/N/body/T  body[0]  succeeded',
      '  SplitsFlow/N/body/T  body[1]  succeeded',
      '  SplitsFlow/N/body/T  body[2]  succeeded',
    ]);
    const json = JSON.parse(cli('dump', `${splits}/body`, '--json').stdout);
    expect(json.tasks.map((t: { key: string; status: string }) => [t.key, t.status])).toEqual([
      ['body[0]', 'succeeded'],
      ['body[1]', 'succeeded'],
      ['body[2]', 'succeeded'],
    ]);
    // One of them is then named by its pathspec.
    expect(JSON.parse(cli('dump', json.tasks[1].pathspec, '--json').stdout).artifacts.item.value).toBe(20);
    // logs cannot pick one either; it lists them.
    const logs = cli('logs', `${splits}/body`);
    expect(logs.code).toBe(2);
    expect(logs.stderr).toMatch(
      /has 3 tasks; name one: tributary logs SplitsFlow\/\d+\/body\/<task>\n {2}SplitsFlow\/\d+\/body\/\d+ {2}body\[0\]/,
    );
  });

  test('issue 9 item 20: logs --stderr writes to stdout, so it can be piped', () => {
    const r = cli('logs', `${splits}/join`, '--stderr');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('total 60\n');
    expect(r.stderr).toBe('');
  });

  test('issue 9 item 20: logs of a task with no stored output says why', async () => {
    const nothing = cli('logs', `${flags}/end`);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toBe('');
    expect(nothing.stderr).toMatch(/^\(no output stored for attempt 0 of task FlagsFlow\/\d+\/end\/\d+: the task printed nothing\)\n$/);
    const onlyStdout = cli('logs', `${splits}/join`, '--stdout');
    expect(onlyStdout.stderr).toMatch(/the task printed nothing to stdout\)/);

    // A task cloned by resume: its output is the origin's, shown with a note.
    const failed = runCli(home, ['run', FLOWS, '--flow', 'PrintThenFailFlow', '--env-pass', 'TRIB_FAIL_MIDDLE', '--quiet'], {
      TRIB_FAIL_MIDDLE: '1',
    });
    expect(failed.code).toBe(1);
    const resumed = cli('resume', FLOWS, '--flow', 'PrintThenFailFlow', '--quiet');
    expect(resumed.code).toBe(0);
    const clone = cli('logs', `${resumed.stdout.trim()}/start`);
    expect(clone.code).toBe(0);
    expect(clone.stdout).toBe('hello from start\n');
    expect(clone.stderr).toMatch(/it was cloned from PrintThenFailFlow\/\d+\/start\/\d+; showing that task's output/);

    // A task that never started (registered, no attempt).
    const md = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
    const run = await md.createRun({
      flow: 'PendingFlow',
      user: 'u',
      params: {},
      tags: [],
      systemTags: [],
      codeHash: '',
      graph: { end: 'end', order: ['start', 'end'] },
    });
    await md.registerTask({ flow: 'PendingFlow', runId: run.runId, step: 'start', key: 'start', parents: [] });
    await md.close();
    const pending = cli('logs', `PendingFlow/${run.runId}/start`);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toMatch(
      /^error \[NOT_FOUND\]: Task PendingFlow\/\d+\/start\/\d+ has not started \(it is pending\): it has no attempt, so no output\./,
    );
  });

  test('issue 9 item 20: --help exits 0 for every command, with or without a flow file', () => {
    for (const args of [
      ['--help'],
      ['-h'],
      ['help'],
      ['help', 'logs'],
      ['run', '--help'],
      ['resume', '--help'],
      ['show', '--help'],
      ['runs', '--help'],
      ['logs', '--help'],
      ['dump', '--help'],
      ['run', FLOWS, '--flow', 'FlagsFlow', '--help'],
    ]) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/Usage/);
      expect(r.stderr, args.join(' ')).toBe('');
    }
  });

  test('issue 9 item 20: a closed stdout (tributary runs | head -1) ends quietly with exit 0', async () => {
    for (let i = 0; i < 2; i++) cli('run', FLOWS, '--flow', 'FlagsFlow', '--quiet');
    const child = spawn(process.execPath, [bin, 'runs', 'FlagsFlow'], {
      cwd: root,
      env: { ...process.env, TRIBUTARY_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before the first line is written
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  test('issue 9 item 20: usage errors carry the error code and exit 2', () => {
    const unknown = cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'error [PARAM_INVALID]: Unknown command frobnicate. Commands: run, resume, show, runs, logs, bootstrap, dump, ui, service, card, tag (see tributary --help).\n',
    );
    const none = cli();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage:[\s\S]*error \[PARAM_INVALID\]: No command given\.\n$/);
    const option = cli('logs', `${flags}/start`, '--strerr');
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(
      /^error \[PARAM_INVALID\]: Unknown option --strerr for tributary logs\. Its options are: --stdout, --stderr, --attempt/,
    );
    const missing = cli('dump', `${flags}/start/1`);
    expect(missing.stderr).toMatch(/^error \[NOT_FOUND\]: /);
    const notDir = runCli(home, ['runs', 'FlagsFlow', '--home', join(root, 'package.json')]);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr).toMatch(/^error \[CONFIG\]: The Tributary home .*package\.json is not a directory/);
  });
});
