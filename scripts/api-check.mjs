// Checks the public API of every package with api-extractor, on the declarations the package
// build emits (dist/): each report (etc/api/<package>.api.md) is compared with the committed one.
// Locally a changed report is rewritten (review and commit it); under CI=true a changed report
// fails the run.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

// Reads each package's built declarations (dist/, from `pnpm build`), as a user of the package would.
execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });

const packages = [
  ['core', 'core', 'index'],
  ['datastore-fs', 'adapters/datastore-fs', 'index'],
  ['metadata-sqlite', 'adapters/metadata-sqlite', 'index'],
  ['compute-local', 'adapters/compute-local', 'index'],
  ['tributary', 'cli', 'index'],
  ['tributary-container', 'cli', 'container'],
  ['conformance', 'conformance', 'index'],
  ['metadata-postgres', 'adapters/metadata-postgres', 'index'],
  ['datastore-s3', 'adapters/datastore-s3', 'index'],
  ['datastore-azure', 'adapters/datastore-azure', 'index'],
  ['datastore-gcs', 'adapters/datastore-gcs', 'index'],
  ['compute-kubernetes', 'adapters/compute-kubernetes', 'index'],
  ['compute-batch', 'adapters/compute-batch', 'index'],
  ['ui', 'ui', 'server/index'],
  ['metadata-http', 'adapters/metadata-http', 'index'],
  ['metadata-http-protocol', 'adapters/metadata-http', 'protocol/index'],
  ['metadata-service', 'service', 'index'],
  ['environment-pypi', 'adapters/environment-pypi', 'index'],
  ['environment-pypi-testing', 'adapters/environment-pypi', 'testing/make-wheels'],
  ['environment-npm', 'adapters/environment-npm', 'index'],
  ['environment-npm-testing', 'adapters/environment-npm', 'testing/index'],
  ['environment-conda', 'adapters/environment-conda', 'index'],
  ['environment-conda-testing', 'adapters/environment-conda', 'testing/index'],
];
const ci = process.env.CI === 'true';
let failed = false;
for (const [name, entry, file] of packages) {
  const base = ExtractorConfig.loadFile(join(root, 'api-extractor.json'));
  const config = ExtractorConfig.prepare({
    configObject: {
      ...base,
      projectFolder: root,
      mainEntryPointFilePath: join(root, entry, 'dist', `${file}.d.ts`),
      apiReport: { ...base.apiReport, reportFileName: `${name}.api.md` },
    },
    configObjectFullPath: join(root, 'api-extractor.json'),
    packageJsonFullPath: join(root, entry, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: !ci, showVerboseMessages: false });
  if (!result.succeeded) {
    failed = true;
    console.error(
      `api-extractor: ${name}: ${result.errorCount} errors, ${result.warningCount} warnings${result.apiReportChanged ? ' (API report changed: run `pnpm api` and commit etc/api/)' : ''}`,
    );
  } else console.log(`api-extractor: ${name} ok (${result.warningCount} warnings)${result.apiReportChanged ? ' — report updated' : ''}`);
}
process.exit(failed ? 1 : 0);
