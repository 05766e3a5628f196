import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentResolverConformance } from '@tributary/conformance';
import { createPypiResolver } from '../src/index.ts';
import { makeWheels } from '../src/testing/make-wheels.ts';

// The shared EnvironmentResolver suite on real pip, against wheels built here (no PyPI needed).
// The specs lock to different environments (confa 2.0.0 with and without its dependency confb
// named would be one lock, and one environment: ids hash locks, not specs).
const wheels = join(mkdtempSync(join(tmpdir(), 'tributary-pypi-conf-')), 'wheels');
if (spawnSync('python3', ['-m', 'pip', '--version']).status === 0)
  makeWheels(wheels, [
    ['confa', '1.0.0', 'a1', []],
    ['confa', '2.0.0', 'a2', ['confb']],
    ['confb', '0.1.0', 'b', []],
  ]);

environmentResolverConformance({
  name: 'pypi',
  factory: () => createPypiResolver({ sources: [wheels] }),
  specs: [
    { kind: 'pypi', packages: { confa: '1.0.0' } },
    { kind: 'pypi', packages: { confa: '2.0.0' } },
    { kind: 'pypi', packages: { confa: '1.0.0', confb: '0.1.0' } },
  ],
  unsatisfiable: { kind: 'pypi', packages: { confa: '9.9.9' } },
  verify: (_spec, dir) => {
    const out = execFileSync(join(dir, 'bin', 'python'), ['-c', 'import confa, sys; print(confa.VALUE, sys.prefix)'], { encoding: 'utf8' });
    if (out.trim() !== `a1 ${dir}`) throw new Error(`the venv's python printed ${out}`);
  },
  properties: { numRuns: 4 },
});
