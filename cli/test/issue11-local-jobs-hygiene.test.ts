import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { createLocalCompute, runFlow, type ComputeBackend, type LaunchSpec } from '../src/index.ts';
import { SleepyFanFlow } from './fixtures/issue11-hygiene.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-jobs-hygiene-');
afterAll(cleanup);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('issue 11 item 8: concurrent runs on local jobs share one process budget (cores, or the largest maxWorkers)', async () => {
  const local = createLocalCompute({ jobsOnly: true });
  let alive = 0;
  let peak = 0;
  const compute: ComputeBackend = {
    name: 'counting-local-jobs',
    capabilities: local.capabilities,
    launch: async (spec: LaunchSpec, options?: { signal?: AbortSignal }) => {
      const job = await local.launch(spec, options);
      peak = Math.max(peak, ++alive);
      void job.result.then(() => alive--);
      return job;
    },
    close: () => local.close(),
  };
  try {
    const runs = await Promise.all(
      Array.from({ length: 3 }, () => runFlow(SleepyFanFlow, { home, compute, maxWorkers: 2, params: { splits: 2, ms: 50 } })),
    );
    for (const r of runs) expect(r.error?.message ?? r.status).toBe('succeeded');
    expect(peak).toBeLessThanOrEqual(Math.max(availableParallelism(), 2));
  } finally {
    await compute.close();
  }
});

test('issue 11 item 8: local jobs stop when their orchestrator is killed (SIGKILL)', async () => {
  const pids = join(home, 'pids');
  mkdirSync(pids, { recursive: true });
  const script = join(home, 'orchestrator.mts');
  writeFileSync(
    script,
    [
      `import { runFlow } from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};`,
      `import { SleepyFanFlow } from ${JSON.stringify(fileURLToPath(new URL('./fixtures/issue11-hygiene.ts', import.meta.url)))};`,
      `await runFlow(SleepyFanFlow, { home: ${JSON.stringify(join(home, 'orphans'))}, compute: 'local-jobs://', maxWorkers: 2, params: { splits: 2, ms: 60000, pidDir: ${JSON.stringify(pids)} } });`,
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--conditions=tributary-source', '--import', import.meta.resolve('tsx'), script], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 300 && readdirSync(pids).length < 2; i++) await sleep(100);
    const jobs = readdirSync(pids).map(Number);
    expect(jobs).toHaveLength(2);
    child.kill('SIGKILL');
    for (let i = 0; i < 50 && jobs.some(alive); i++) await sleep(100);
    expect(jobs.filter(alive)).toEqual([]);
  } finally {
    child.kill('SIGKILL');
  }
}, 60_000);
