import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createFsDatastore, type Datastore } from '../src/index.ts';
import { createTributaryContainer, runFlowIn, TRIBUTARY } from '../src/container.ts';
import { HelloFlow } from '../../examples/hello.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-container-');
afterAll(cleanup);

test('an embedding service runs flows from an inversify container and can rebind an adapter', async () => {
  const container = createTributaryContainer({ home });
  const first = await runFlowIn(container, HelloFlow, { params: { name: 'container' } });
  expect(first.status).toBe('succeeded');
  expect((await first.data()).greeting).toBe('HELLO, CONTAINER!');

  // The service swaps the datastore (here: files elsewhere) without touching anything else.
  const elsewhere = createFsDatastore({ root: join(home, 'elsewhere') });
  (await container.rebind<Datastore>(TRIBUTARY.Datastore)).toConstantValue(elsewhere);
  const second = await runFlowIn(container, HelloFlow, { params: { name: 'rebound' } });
  expect(second.datastore).toBe(elsewhere);
  expect((await elsewhere.list('HelloFlow/data/')).keys.length).toBeGreaterThan(0);
  expect(Number(second.runId)).toBeGreaterThan(Number(first.runId)); // same metadata store
});
