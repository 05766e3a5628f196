/**
 * The embedded default: local files + SQLite + local processes under the Tributary home folder
 * (`$TRIBUTARY_HOME`, else `./.tributary`). Importing this package registers them.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerAdapter } from '@tributary/core';
import { createFsDatastore } from '@tributary/datastore-fs';
import { createSqliteMetadataStore } from '@tributary/metadata-sqlite';
import { createLocalCompute } from '@tributary/compute-local';

registerAdapter('datastore', 'file', (url) => createFsDatastore({ root: fileURLToPath(url) }), {
  default: (home) => pathToFileURL(join(home, 'datastore')).href,
});
registerAdapter('metadata', 'sqlite', (url) => createSqliteMetadataStore({ path: decodeURIComponent(url.pathname) }), {
  default: (home) => `sqlite://${pathToFileURL(join(home, 'metadata.sqlite')).pathname}`,
});
registerAdapter('compute', 'local', () => createLocalCompute(), { default: () => 'local://' });
