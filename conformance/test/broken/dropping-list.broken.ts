import { datastoreConformance, MemoryDatastore } from '../../src/index.ts';
import type { ListOptions, ListPage } from '@tributary/core';

/** Broken on purpose: the last page of every listing is lost. */
class DroppingListDatastore extends MemoryDatastore {
  override async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const page = await super.list(prefix, options);
    return page.cursor ? page : { keys: options.cursor ? [] : page.keys };
  }
}

datastoreConformance({ name: 'drops the last page', factory: () => new DroppingListDatastore() });
