import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datastoreConformance } from '@tributary/conformance';
import { createFsDatastore, type FsDatastore } from '../src/index.ts';

const roots = new WeakMap<object, string>();

datastoreConformance({
  name: 'fs',
  factory: () => {
    const root = mkdtempSync(join(tmpdir(), 'tributary-fs-conf-'));
    const ds = createFsDatastore({ root });
    roots.set(ds, root);
    return ds;
  },
  cleanup: (ds) => rmSync(roots.get(ds)!, { recursive: true, force: true }),
  // Raw read: the file the key maps to, read with node:fs, not through the adapter.
  inspect: {
    async read(ds, key) {
      try {
        return readFileSync(`${join(roots.get(ds as FsDatastore)!, ...key.split('/'))}~`); // objects are stored as <name>~
      } catch {
        return undefined;
      }
    },
  },
});
