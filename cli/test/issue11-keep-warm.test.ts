import { afterAll, expect, test } from 'vitest';
import { createLocalCompute, runFlow, WarmPool, type ComputeBackend, type LaunchSpec } from '../src/index.ts';
import { LinearFlow } from './fixtures/shapes.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-keep-warm-');
afterAll(cleanup);

/** Counts worker launches; delegates everything to a local backend. */
function counting(): ComputeBackend & { launches: number } {
  const local = createLocalCompute();
  const c = {
    name: 'counting',
    capabilities: local.capabilities,
    launches: 0,
    launch: (spec: LaunchSpec, options?: { signal?: AbortSignal }) => {
      c.launches++;
      return local.launch(spec, options);
    },
    close: () => local.close(),
  };
  return c;
}

test('issue 11 item 7: a pool with keepWarmMs serves the next run with the workers of the last one', async () => {
  const compute = counting();
  const pool = new WarmPool({ compute, keepWarmMs: 60_000, size: 1 });
  try {
    const first = await runFlow(LinearFlow, { home, executor: pool, maxWorkers: 1 });
    expect(first.status).toBe('succeeded');
    expect(compute.launches).toBe(1);
    expect(pool.size).toBe(1); // kept
    const second = await runFlow(LinearFlow, { home, executor: pool, maxWorkers: 1 });
    expect(second.status).toBe('succeeded');
    expect(compute.launches).toBe(1); // no new process
  } finally {
    await pool.close();
    await compute.close();
  }
  expect(pool.size).toBe(0);
});

test('issue 11 item 7: without keepWarmMs the workers exit with the last run', async () => {
  const compute = counting();
  const pool = new WarmPool({ compute, size: 1 });
  try {
    expect((await runFlow(LinearFlow, { home, executor: pool, maxWorkers: 1 })).status).toBe('succeeded');
    expect(pool.size).toBe(0);
    expect((await runFlow(LinearFlow, { home, executor: pool, maxWorkers: 1 })).status).toBe('succeeded');
    expect(compute.launches).toBe(2);
  } finally {
    await pool.close();
    await compute.close();
  }
});
