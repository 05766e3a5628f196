import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runCli } from './cli-process.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome();
afterAll(cleanup);

// Broken flow files live in a temporary package (they cannot be committed: they would break tsc).
const pkg = join(home, 'flows');
mkdirSync(join(pkg, 'a-directory'), { recursive: true });
writeFileSync(join(pkg, 'package.json'), '{ "type": "module" }\n');
const files: Record<string, string> = {
  'syntax.ts': 'export class A {\n  start() { return 1 }\n  end() {\n}\n  oops) {}\n',
  'missing-package.ts': "import { thing } from 'no-such-package-xyz/sub';\nexport const v = thing;\n",
  'missing-file.ts': "import { helper } from './lib/helper.ts';\nexport const v = helper;\n",
  'throws.ts': "const config = JSON.parse('{bad json');\nexport const v = config;\n",
  'plain.js': 'export const x = {\n  a: 1\n  b: 2 };\n',
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(pkg, name), text);
// Outside any "type": "module" package (the temp folder has no package.json above it).
writeFileSync(join(home, 'outside.ts'), 'export class A {}\n');

function show(file: string, env: Record<string, string> = {}) {
  return runCli(home, ['show', file], env);
}

function expectNoStack(stderr: string) {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr.trim().split('\n')[0]).toMatch(/^error \[FLOW_LOAD\]: /);
}

describe('issue 9 item 17: flow files that do not load give a typed FLOW_LOAD error', () => {
  test('issue 9 item 17: a syntax error shows file:line:column, the message and the line', () => {
    const r = show(join(pkg, 'syntax.ts'));
    expect(r.code).toBe(1);
    expectNoStack(r.stderr);
    expect(r.stderr).toMatch(/error \[FLOW_LOAD\]: Syntax error in .*syntax\.ts:5:7: Expected .*\n {4}oops\) \{\}\n {8}\^/);
  });

  test('issue 9 item 17: a plain JavaScript syntax error has its location too', () => {
    const r = show(join(pkg, 'plain.js'));
    expect(r.code).toBe(1);
    expectNoStack(r.stderr);
    expect(r.stderr).toMatch(/Syntax error in .*plain\.js:3:3: Unexpected identifier 'b'/);
  });

  test('issue 9 item 17: a missing import names the missing module and the file importing it', () => {
    const a = show(join(pkg, 'missing-package.ts'));
    expect(a.code).toBe(1);
    expectNoStack(a.stderr);
    expect(a.stderr).toMatch(
      /package 'no-such-package-xyz', imported from .*missing-package\.ts, cannot be found\. Install it \(npm install no-such-package-xyz\)/,
    );
    const b = show(join(pkg, 'missing-file.ts'));
    expect(b.code).toBe(1);
    expectNoStack(b.stderr);
    expect(b.stderr).toMatch(/module '.*lib\/helper\.ts', imported from .*missing-file\.ts, cannot be found/);
  });

  test('issue 9 item 17: a directory is refused as such', () => {
    const r = show(join(pkg, 'a-directory'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error \[FLOW_LOAD\]: .*a-directory is a directory, expected a \.ts\/\.js file/);
  });

  test('issue 9 item 17: a module that throws while loading names the error and where; the stack only with TRIBUTARY_DEBUG=1', () => {
    const r = show(join(pkg, 'throws.ts'));
    expect(r.code).toBe(1);
    expectNoStack(r.stderr);
    expect(r.stderr).toMatch(/throws\.ts threw while loading: SyntaxError: .*JSON.* \(at .*throws\.ts:1:\d+\)/);
    const debug = show(join(pkg, 'throws.ts'), { TRIBUTARY_DEBUG: '1' });
    expect(debug.stderr).toMatch(/Caused by: SyntaxError: .*\n\s+at /);
  });

  test('issue 9 item 17: a .ts file outside an ES module package says how to make it one', () => {
    const r = runCli(home, ['run', join(home, 'outside.ts')]);
    expect(r.code).toBe(1);
    expectNoStack(r.stderr);
    expect(r.stderr).toMatch(/loaded as CommonJS.*add a package\.json with \{"type": "module"\}, or name the file \.mts/);
  });
});
