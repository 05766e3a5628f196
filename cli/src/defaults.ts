/**
 * The embedded default: local files + SQLite + local processes under the Tributary home folder
 * (`$TRIBUTARY_HOME`, else `./.tributary`). Importing this package registers them.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerAdapter } from '@tributary/core';
import { importOptional } from './optional-package.ts';

// The embedded adapters too are imported when first opened: `tributary show` never loads SQLite.
registerAdapter(
  'datastore',
  'file',
  async (url) => (await import('@tributary/datastore-fs')).createFsDatastore({ root: fileURLToPath(url) }),
  { default: (home) => pathToFileURL(join(home, 'datastore')).href },
);
registerAdapter(
  'metadata',
  'sqlite',
  async (url) => (await import('@tributary/metadata-sqlite')).createSqliteMetadataStore({ path: decodeURIComponent(url.pathname) }),
  { default: (home) => `sqlite://${pathToFileURL(join(home, 'metadata.sqlite')).pathname}` },
);
registerAdapter('compute', 'local', async () => (await import('@tributary/compute-local')).createLocalCompute(), {
  default: () => 'local://',
});
// Every task attempt its own local process, through the job-per-attempt path remote compute takes.
registerAdapter('compute', 'local-jobs', async () => (await import('@tributary/compute-local')).createLocalCompute({ jobsOnly: true }));

// Optional adapters are loaded only when a URL asks for them, so users install only the SDKs they use.
for (const scheme of ['postgres', 'postgresql']) {
  registerAdapter('metadata', scheme, async (url) => {
    const { createPostgresMetadataStore } = await importOptional<typeof import('@tributary/metadata-postgres')>(
      '@tributary/metadata-postgres',
      'A postgres:// metadata URL',
    );
    return createPostgresMetadataStore({ url: url.toString() });
  });
}

// A team's metadata service (tributary service); the token comes from $TRIBUTARY_METADATA_TOKEN.
for (const scheme of ['http', 'https']) {
  registerAdapter('metadata', scheme, async (url) => {
    const { createHttpMetadataStore, httpMetadataOptionsFromUrl } = await importOptional<typeof import('@tributary/metadata-http')>(
      '@tributary/metadata-http',
      'An http(s):// metadata URL',
    );
    return createHttpMetadataStore(httpMetadataOptionsFromUrl(url));
  });
}

// Step environments: @pypi (a virtual environment from pinned packages), @npm (a node_modules
// prefix from a lockfile), @conda (a conda prefix solved by rattler).
registerAdapter('environment', 'pypi', async () =>
  (await importOptional<typeof import('@tributary/environment-pypi')>('@tributary/environment-pypi', 'A @pypi step')).createPypiResolver(),
);
registerAdapter('environment', 'npm', async () =>
  (await importOptional<typeof import('@tributary/environment-npm')>('@tributary/environment-npm', 'An @npm step')).createNpmResolver(),
);
registerAdapter('environment', 'conda', async () =>
  (
    await importOptional<typeof import('@tributary/environment-conda')>('@tributary/environment-conda', 'A @conda step')
  ).createCondaResolver(),
);

registerAdapter('datastore', 's3', async (url) => {
  const { createS3Datastore, s3OptionsFromUrl } = await importOptional<typeof import('@tributary/datastore-s3')>(
    '@tributary/datastore-s3',
    'An s3:// datastore URL',
  );
  return createS3Datastore(s3OptionsFromUrl(url));
});
registerAdapter('datastore', 'azure', async (url) => {
  const { createAzureDatastore, azureOptionsFromUrl } = await importOptional<typeof import('@tributary/datastore-azure')>(
    '@tributary/datastore-azure',
    'An azure:// datastore URL',
  );
  return createAzureDatastore(azureOptionsFromUrl(url));
});
registerAdapter('datastore', 'gs', async (url) => {
  const { createGcsDatastore, gcsOptionsFromUrl } = await importOptional<typeof import('@tributary/datastore-gcs')>(
    '@tributary/datastore-gcs',
    'A gs:// datastore URL',
  );
  return createGcsDatastore(gcsOptionsFromUrl(url));
});

// Remote compute: the package of each is loaded only when a run has steps on it.
registerAdapter('compute', 'kubernetes', async (url) => {
  const { createKubernetesCompute, kubernetesOptionsFromUrl } = await importOptional<typeof import('@tributary/compute-kubernetes')>(
    '@tributary/compute-kubernetes',
    'Steps on Kubernetes (@kubernetes, --with kubernetes)',
  );
  return createKubernetesCompute(kubernetesOptionsFromUrl(url));
});
registerAdapter('compute', 'batch', async (url) => {
  const { createBatchCompute, batchOptionsFromUrl } = await importOptional<typeof import('@tributary/compute-batch')>(
    '@tributary/compute-batch',
    'Steps on AWS Batch (@batch, --with batch)',
  );
  return createBatchCompute(batchOptionsFromUrl(url));
});
