import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { environmentResolverConformance } from '@tributary/conformance';
import { createNpmResolver } from '../src/index.ts';
import { makeNpmPackages } from '../src/testing/index.ts';

// The shared EnvironmentResolver suite on real npm, against tarballs packed here (no registry
// needed: the folder is the source). The specs lock to different environments (conf-a 2.0.0
// with and without its dependency conf-b named would be one lock, and one environment).
const root = mkdtempSync(join(tmpdir(), 'tributary-npm-conf-'));
const tarballs = join(root, 'tarballs');
makeNpmPackages(tarballs, [
  ['conf-a', '1.0.0'],
  ['conf-a', '2.0.0', {}, { 'conf-b': '^0.1.0' }],
  ['conf-b', '0.1.0'],
]);

afterAll(() => rmSync(root, { recursive: true, force: true }));

environmentResolverConformance({
  name: 'npm',
  factory: () => createNpmResolver({ sources: [tarballs] }),
  specs: [
    { kind: 'npm', packages: { 'conf-a': '1.0.0' } },
    { kind: 'npm', packages: { 'conf-a': '2.0.0' } },
    { kind: 'npm', packages: { 'conf-a': '1.0.0', 'conf-b': '0.1.0' } },
  ],
  unsatisfiable: { kind: 'npm', packages: { 'conf-a': '9.9.9' } },
  verify: (_spec, dir, activation) => {
    const out = execFileSync(process.execPath, ['-e', "console.log(require('conf-a').version, require.resolve('conf-a'))"], {
      cwd: tmpdir(),
      encoding: 'utf8',
      env: { ...process.env, ...activation.env },
    });
    if (out.trim() !== `1.0.0 ${join(dir, 'node_modules', 'conf-a', 'index.js')}`) throw new Error(`node printed ${out}`);
  },
  properties: { numRuns: 4 },
});
