import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSqliteMetadataStore } from '../src/index.ts';
import { safeJson, safeText } from '../src/cli/safe-text.ts';
import { runCli } from './cli-process.ts';
import { tempHome } from './helpers.ts';
import { join } from 'node:path';

const { home, cleanup } = tempHome();
afterAll(cleanup);

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const EVIL = '\x1b]0;pwned\x07\x1b[2J\x1b[H\u009b31m\u202e';

describe('issue 9 item 16: stored text is escaped before it reaches the terminal', () => {
  let runId = '';
  beforeAll(async () => {
    // Written straight into the store: anyone who can write metadata can leave such values.
    const md = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
    const run = await md.createRun({
      flow: 'EvilFlow',
      user: `mallory${EVIL}`,
      params: {},
      tags: [`release${EVIL}`, 'plain'],
      systemTags: [],
      codeHash: '',
      graph: { flow: 'EvilFlow', start: 'start', end: 'end', order: ['start', 'end'], nodes: {} },
    });
    runId = run.runId;
    await md.finishRun('EvilFlow', runId, 'succeeded');
    await md.close();
  });

  test('issue 9 item 16: safeText escapes C0, DEL, C1 and bidi controls, keeps newlines only in multiline mode', () => {
    expect(safeText('a\x1b[2Jb\x07c\x7f\u009b\u202ed\te\nf\r')).toBe('a\\x1b[2Jb\\x07c\\x7f\\x9b\\u202ed\\te\\nf\\r');
    expect(safeText('line 1\n\tline 2\x1b', { multiline: true })).toBe('line 1\n\tline 2\\x1b');
    expect(safeText('naïve 名前 ✓')).toBe('naïve 名前 ✓');
    const json = safeJson(JSON.stringify({ v: EVIL }));
    expect(CONTROL.test(json)).toBe(false);
    expect(JSON.parse(json)).toEqual({ v: EVIL });
  });

  test('issue 9 item 16: tributary runs prints a tag with escape sequences escaped', () => {
    const r = runCli(home, ['runs', 'EvilFlow']);
    expect(r.code).toBe(0);
    expect(CONTROL.test(r.stdout)).toBe(false);
    expect(r.stdout).toContain(`EvilFlow/${runId}`);
    expect(r.stdout).toContain('tags: release\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x9b31m\\u202e, plain');
  });

  test('issue 9 item 16: an artifact and a task error with escape sequences are escaped by dump and by the run report; task logs stay raw', () => {
    const run = runCli(home, ['run', 'cli/test/fixtures/issue9-cli.ts', '--flow', 'EscapesFlow', '--no-progress']);
    expect(run.code).toBe(0);
    const pathspec = run.stdout.trim().split('\n').pop()!;
    const dump = runCli(home, ['dump', `${pathspec}/start`]);
    expect(dump.code).toBe(0);
    expect(CONTROL.test(dump.stdout)).toBe(false);
    expect(dump.stdout).toMatch(/evil: string.*\n.*\\x1b\]0;pwned\\x07\\x1b\[2J/i);
    const json = runCli(home, ['dump', `${pathspec}/start`, '--json']);
    expect(JSON.parse(json.stdout).artifacts.evil.value).toBe('\x1b]0;pwned\x07\x1b[2J');
    // The task's own output is the user's: printed as it was printed (colours included).
    const logs = runCli(home, ['logs', `${pathspec}/start`]);
    expect(logs.stdout).toBe('\x1b[32mgreen output\x1b[0m\n');

    const failed = runCli(home, ['run', 'cli/test/fixtures/issue9-cli.ts', '--flow', 'EscapesFlow', '--fail', '--no-progress', '--quiet']);
    expect(failed.code).toBe(1);
    expect(CONTROL.test(failed.stderr)).toBe(false);
    expect(failed.stderr).toContain('error [RUN_FAILED]: Task EscapesFlow/');
    expect(failed.stderr).toContain('Error: bad \\x1b[2J\\x1b]0;title\\x07 thing');
    // The stored attempt error, as dump shows it.
    const task = /Task (EscapesFlow\/\d+\/start\/\d+) failed/.exec(failed.stderr)![1]!;
    const failedDump = runCli(home, ['dump', task]);
    expect(CONTROL.test(failedDump.stdout)).toBe(false);
    expect(failedDump.stdout).toContain('attempt 0 failed: [USER_CODE] Error: bad \\x1b[2J\\x1b]0;title\\x07 thing');
  });
});
