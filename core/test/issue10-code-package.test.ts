/**
 * Issue 10 item 3: workers do not transpile. A TypeScript flow module and its local imports are
 * built once into one JavaScript module, named by the SHA-256 of its bytes, deterministic, and
 * reused while the sources are unchanged.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { prepareFlowCode, sha256 } from '../src/index.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
// A project of its own under the gitignored .generated/, so its cache is its own too.
const project = join(here, '.generated', 'code-package');
const cache = join(project, 'node_modules', '.cache', 'tributary');
afterAll(() => rmSync(project, { recursive: true, force: true }));

function setup(): string {
  rmSync(project, { recursive: true, force: true });
  mkdirSync(join(project, 'lib'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'code-package-test', type: 'module' }));
  writeFileSync(join(project, 'lib', 'double.ts'), 'export const double = (x: number): number => x * 2;\n');
  writeFileSync(
    join(project, 'flow.ts'),
    "import { double } from './lib/double.ts';\nexport const where: string = import.meta.url;\nexport const four: number = double(2);\n",
  );
  return pathToFileURL(join(project, 'flow.ts')).href;
}

describe('issue 10 item 3: the flow as plain JavaScript, built once', () => {
  test('issue 10 item 3: the bundle is content-addressed, deterministic, and includes local imports', async () => {
    const url = setup();
    const first = await prepareFlowCode(url);
    expect(first.built).toBe(true);
    const file = fileURLToPath(first.url);
    expect(file.startsWith(cache)).toBe(true);
    const bytes = readFileSync(file);
    expect(sha256(bytes)).toBe(first.sha);
    expect(file.endsWith(`${first.sha}.mjs`)).toBe(true);
    // Built again from nothing: the same bytes.
    rmSync(cache, { recursive: true, force: true });
    const again = await prepareFlowCode(url);
    expect(again.sha).toBe(first.sha);
    // Plain JavaScript that imports without a loader, with its local import inside it and
    // import.meta.url still naming the source file.
    const mod = (await import(again.url)) as { four: number; where: string };
    expect(mod.four).toBe(4);
    expect(mod.where).toBe(url);
  });

  test('issue 10 item 3: unchanged sources reuse the build; a changed local import makes a new one', async () => {
    const url = setup();
    const first = await prepareFlowCode(url);
    const reused = await prepareFlowCode(url);
    expect(reused).toEqual(first);
    writeFileSync(join(project, 'lib', 'double.ts'), 'export const double = (x: number): number => x + x;\n');
    const changed = await prepareFlowCode(url);
    expect(changed.sha).not.toBe(first.sha);
  });

  test('issue 10 item 3: a JavaScript flow module is used as it is', async () => {
    setup();
    cpSync(join(project, 'flow.ts'), join(project, 'plain.mjs'));
    writeFileSync(join(project, 'plain.mjs'), 'export const x = 1;\n');
    const url = pathToFileURL(join(project, 'plain.mjs')).href;
    const code = await prepareFlowCode(url);
    expect(code).toEqual({ url, sha: sha256(readFileSync(join(project, 'plain.mjs'))), built: false });
  });

  test('issue 10 item 3: a source that does not build is FLOW_LOAD naming the place', async () => {
    setup();
    writeFileSync(join(project, 'broken.ts'), 'export const x: number = ;\n');
    await expect(prepareFlowCode(pathToFileURL(join(project, 'broken.ts')).href)).rejects.toMatchObject({
      code: 'FLOW_LOAD',
      message: expect.stringMatching(/broken\.ts:1:\d+: /),
    });
  });
});
