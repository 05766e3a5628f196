import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datastoreConformance } from '@tributary/conformance';
import { FlatDirDatastore } from './flat-dir-datastore.ts';

datastoreConformance({
  name: 'flat-dir (third-party example)',
  factory: () => new FlatDirDatastore(mkdtempSync(join(tmpdir(), 'flat-dir-'))),
});
