// Checks the public API of every package with api-extractor: declarations are emitted to
// temp/types, then each package's report (etc/api/<package>.api.md) is compared with the
// committed one. Locally a changed report is rewritten (review and commit it); under CI=true a
// changed report fails the run.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.api.json')], { stdio: 'inherit' });

const packages = [
  ['core', 'core'],
  ['datastore-fs', 'adapters/datastore-fs'],
  ['metadata-sqlite', 'adapters/metadata-sqlite'],
  ['compute-local', 'adapters/compute-local'],
  ['tributary', 'cli'],
  ['conformance', 'conformance'],
  ['metadata-postgres', 'adapters/metadata-postgres'],
  ['datastore-s3', 'adapters/datastore-s3'],
  ['datastore-azure', 'adapters/datastore-azure'],
  ['datastore-gcs', 'adapters/datastore-gcs'],
];
// Each package's declarations go to <package>/dist/types, where its `tributary-dts` export
// condition points: so one package's report sees the others as external packages.
for (const [, dir] of packages) {
  rmSync(join(root, dir, 'dist/types'), { recursive: true, force: true });
  mkdirSync(join(root, dir, 'dist'), { recursive: true });
  cpSync(join(root, 'temp/types', dir, 'src'), join(root, dir, 'dist/types'), { recursive: true });
}
const ci = process.env.CI === 'true';
let failed = false;
for (const [name, entry] of packages) {
  const base = ExtractorConfig.loadFile(join(root, 'api-extractor.json'));
  const config = ExtractorConfig.prepare({
    configObject: {
      ...base,
      projectFolder: root,
      mainEntryPointFilePath: join(root, entry, 'dist/types/index.d.ts'),
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
