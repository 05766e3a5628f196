import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { environmentResolverConformance } from '@tributary/conformance';
import { createCondaResolver } from '../src/index.ts';
import { CONDA_FIXTURE_PLACEHOLDER, makeCondaChannel, serveCondaChannel, type ServedCondaChannel } from '../src/testing/index.ts';

// The shared EnvironmentResolver suite on the conda resolver (rattler's solver, the built-in
// installer), against a channel built here and served on loopback (no conda channel needed).
// The specs lock to different environments (confa 2.0.0 pulls in confb: naming confb too would be
// the same lock).
const channel = join(mkdtempSync(join(tmpdir(), 'tributary-conda-conf-')), 'channel');
makeCondaChannel(channel, [
  {
    name: 'confa',
    version: '1.0.0',
    files: { 'bin/hello': `#!/bin/sh\necho "a1 ${CONDA_FIXTURE_PLACEHOLDER}"\n` },
    executables: ['bin/hello'],
    prefixFiles: { 'bin/hello': 'text' },
  },
  { name: 'confa', version: '2.0.0', depends: ['confb'], files: { 'share/confa.txt': 'a2' }, format: 'tar.bz2' },
  { name: 'confb', version: '0.1.0', files: { 'share/confb.txt': 'b' } },
]);

let served: ServedCondaChannel;
beforeAll(async () => {
  served = await serveCondaChannel(channel);
});
afterAll(() => served.close());

environmentResolverConformance({
  name: 'conda',
  factory: () => createCondaResolver({ channels: [served.url], micromamba: false }),
  specs: [
    { kind: 'conda', packages: { confa: '1.0.0' } },
    { kind: 'conda', packages: { confa: '2.0.0' } },
    { kind: 'conda', packages: { confa: '1.0.0', confb: '0.1.0' } },
  ],
  unsatisfiable: { kind: 'conda', packages: { confa: '9.9.9' } },
  verify: (_spec, dir) => {
    const out = execFileSync(join(dir, 'bin', 'hello'), { encoding: 'utf8' });
    if (out.trim() !== `a1 ${dir}`) throw new Error(`bin/hello printed ${out}`);
  },
  properties: { numRuns: 4 },
});
