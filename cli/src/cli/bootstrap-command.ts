/**
 * `tributary bootstrap`: the task bootstrap file for a remote image (see build-task-bootstrap.ts),
 * with every datastore adapter and environment resolver installed here bundled in.
 */
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTaskBootstrap, type TaskBootstrap } from '@tributary/core';

const ADAPTERS: Record<string, string> = {
  createS3Datastore: '@tributary/datastore-s3',
  createGcsDatastore: '@tributary/datastore-gcs',
  createAzureDatastore: '@tributary/datastore-azure',
  createFsDatastore: '@tributary/datastore-fs',
  // Remote task jobs build their step's environment in the container from its stored lock.
  createPypiResolver: '@tributary/environment-pypi',
  createNpmResolver: '@tributary/environment-npm',
  createCondaResolver: '@tributary/environment-conda',
};

/** The adapters that resolve from this package. */
function installedAdapters(): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [factory, pkg] of Object.entries(ADAPTERS)) {
    try {
      import.meta.resolve(pkg);
      found[factory] = pkg;
    } catch {
      // not installed: jobs of runs on that datastore need another bootstrap
    }
  }
  return found;
}

/** Build the bootstrap; write it to `file` when given. */
export async function taskBootstrap(file?: string): Promise<TaskBootstrap> {
  const bootstrap = await buildTaskBootstrap({
    adapters: installedAdapters(),
    resolveDir: dirname(fileURLToPath(import.meta.url)),
    // Containers only materialize stored locks: the conda solver (WASM, loaded when locking) stays out.
    external: ['@conda-org/rattler'],
  });
  if (file) writeFileSync(file, bootstrap.code);
  return bootstrap;
}
