import { datastoreConformance, MemoryDatastore } from '../../src/index.ts';

/** Broken on purpose: close() does nothing, so a closed store keeps answering. */
class LeakyCloseDatastore extends MemoryDatastore {
  override async close(): Promise<void> {}
}

datastoreConformance({ name: 'ignores close', factory: () => new LeakyCloseDatastore() });
