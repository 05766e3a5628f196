import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The files of a package to make. @public */
export interface NpmPackageFiles {
  /** Source of its `index.js` (CommonJS, the package's `main`). Default: `exports.name` and `exports.version` set to its own. */
  main?: string;
  /** Source of `bin.js`, its one command (named like the package, without scope). Default: no command. */
  bin?: string;
  /** More package.json fields (`optionalDependencies`, `os`, `exports`, ...), merged over the made ones. */
  packageJson?: Record<string, unknown>;
  /** More files, by path in the package (`lib/util.js`; `node_modules/x/…` for a bundled dependency). */
  files?: Record<string, string>;
}

/** A package to make: its name, version, files and `dependencies` (name → range). @public */
export type NpmPackageSpec = [name: string, version: string, files?: NpmPackageFiles, dependencies?: Record<string, string>];

/**
 * Make npm packages and `npm pack` them into `dir`, offline (no registry is asked): for tests and
 * examples of `@npm` on machines that cannot reach a registry. Use `dir` as a source
 * (`sources: [dir]`, resolved from like a registry) or a returned tarball as a version
 * (`{ pkg: 'file:/…/pkg-1.0.0.tgz' }`). `npm pack` writes the same bytes for the same files.
 * @returns the tarballs' paths, in the order of `specs`.
 * @public
 */
export function makeNpmPackages(dir: string, specs: readonly NpmPackageSpec[], npm = 'npm'): string[] {
  mkdirSync(dir, { recursive: true });
  if (specs.length === 0) return [];
  const root = mkdtempSync(join(tmpdir(), 'tributary-npm-packages-'));
  try {
    const folders = specs.map(([name, version, files = {}, dependencies = {}], i) => {
      const folder = join(root, String(i));
      mkdirSync(folder);
      const main = files.main ?? `exports.name = ${JSON.stringify(name)};\nexports.version = ${JSON.stringify(version)};\n`;
      writeFileSync(join(folder, 'index.js'), main);
      for (const [path, text] of Object.entries(files.files ?? {})) {
        mkdirSync(dirname(join(folder, path)), { recursive: true });
        writeFileSync(join(folder, path), text);
      }
      const packageJson: Record<string, unknown> = { name, version, main: 'index.js', license: 'MIT', dependencies };
      if (files.bin !== undefined) {
        writeFileSync(join(folder, 'bin.js'), files.bin, { mode: 0o755 });
        packageJson.bin = { [name.replace(/^@[^/]+\//, '')]: 'bin.js' };
      }
      writeFileSync(join(folder, 'package.json'), `${JSON.stringify({ ...packageJson, ...files.packageJson }, null, 2)}\n`);
      return folder;
    });
    const out = execFileSync(npm, ['pack', ...folders, '--pack-destination', dir, '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const packed = JSON.parse(out) as { filename: string }[];
    if (packed.length !== specs.length) throw new Error(`npm pack made ${packed.length} tarballs for ${specs.length} packages`);
    return packed.map((p) => join(dir, p.filename));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
