import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

// Tests of the suite itself: run it against deliberately broken adapters and check that the
// right tests fail (and that the rest of the suite still passes).
const root = fileURLToPath(new URL('../../', import.meta.url));
const vitestBin = join(dirname(createRequire(join(root, 'package.json')).resolve('vitest/package.json')), 'vitest.mjs');

function runBroken(file: string): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-broken-'));
  try {
    const out = join(dir, 'report.json');
    spawnSync(
      process.execPath,
      [
        vitestBin,
        'run',
        '--config',
        'conformance/test/broken/vitest.broken.config.ts',
        `conformance/test/broken/${file}`,
        '--reporter=json',
        `--outputFile=${out}`,
      ],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, CI: 'true' },
      },
    );
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      testResults: Array<{ assertionResults: Array<{ title: string; status: string }> }>;
    };
    return new Map(report.testResults.flatMap((f) => f.assertionResults.map((a) => [a.title, a.status] as [string, string])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function failed(results: Map<string, string>): string[] {
  return [...results].filter(([, s]) => s === 'failed').map(([t]) => t);
}

describe('the conformance suites catch broken adapters', () => {
  test('a datastore whose list drops the last page', () => {
    const r = runBroken('dropping-list.broken.ts');
    expect(failed(r)).toContain('list by prefix is complete, ordered and free of duplicates across pages');
    expect(failed(r).some((t) => t.startsWith('random sequences of operations behave like the reference datastore'))).toBe(true);
    expect(r.get('put with ifAbsent never replaces')).toBe('passed');
  });

  test('a datastore that keeps working after close', () => {
    const r = runBroken('leaky-close.broken.ts');
    expect(failed(r)).toEqual(['every method of a closed datastore rejects with CLOSED']);
  });

  test('a metadata store that lets a task complete twice', () => {
    const r = runBroken('double-complete.broken.ts');
    expect(failed(r)).toContain('a task completes exactly once');
    expect(r.get('attempts are numbered in order; failure then success')).toBe('passed');
  });
});
