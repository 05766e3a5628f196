/**
 * The code package of a run whose tasks start from nothing (one job per attempt, remote compute):
 * one self-contained ES module bundling the flow module, the local files and packages it imports,
 * the task runtime of Tributary itself and the datastore adapter the run uses, plus its source map
 * and a manifest, in a deterministic tar. Node 20 is all a job needs to run it (packages with
 * native addons are left out of the bundle and must be installed where the job runs; the manifest
 * lists them). Its SHA-256 is its name: the same project gives the same bytes, wherever it is
 * checked out; any change to the code gives another package (comments esbuild drops do not count).
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '../errors.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import {
  buildInputs,
  buildOrExplain,
  findPackage,
  loadEsbuild,
  packageName,
  projectRoot,
  reusedOutput,
  saveBuild,
} from '../runtime/code-package.ts';
import { sha256 } from '../util/hash.ts';
import { rewriteImportMeta } from '../util/rewrite-import-meta.ts';
import type { CodePackageManifest } from './code-package-manifest.ts';
import { packTar, unpackTar } from './tar.ts';

/** A built code package. @public */
export interface CodePackage {
  /** SHA-256 of the archive: its address in the datastore. */
  sha: string;
  bytes: Uint8Array;
  manifest: CodePackageManifest;
  /** The project root the package's relative paths start from. */
  root: string;
}

const BUILTINS = new Set(builtinModules);

/** A package with a native addon cannot be bundled: it stays an import (to be installed where jobs run). */
function isNative(dir: string): boolean {
  if (existsSync(join(dir, 'binding.gyp'))) return true;
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { gypfile?: boolean; binary?: unknown };
    return pkg.gypfile === true || pkg.binary !== undefined;
  } catch {
    return false;
  }
}

function posix(path: string): string {
  return path.split(sep).join('/');
}

const BANNER = [
  "import { createRequire as __tributaryCreateRequire } from 'node:module';",
  "import { pathToFileURL as __tributaryPathToFileURL } from 'node:url';",
  // CommonJS packages in the bundle call require() for builtins.
  'const require = __tributaryCreateRequire(import.meta.url);',
  // `import.meta.url` of a project file means that file in the project: where the job runs on the
  // machine that has the project (local jobs), else inside the unpacked package.
  "const __tributaryRoot = process.env.TRIBUTARY_PROJECT_ROOT ? __tributaryPathToFileURL(process.env.TRIBUTARY_PROJECT_ROOT + '/').href : new URL('./', import.meta.url).href;",
  'const __tributarySource = (rel) => new URL(rel, __tributaryRoot);',
  // A native package is required where it was found, relative to the project, when the project is
  // on this machine (local jobs); elsewhere from the image (NODE_PATH, or node_modules above the package).
  "const __tributaryNative = (spec, from) => (process.env.TRIBUTARY_PROJECT_ROOT ? __tributaryCreateRequire(process.env.TRIBUTARY_PROJECT_ROOT + '/' + from + '/noop.js') : require)(spec);",
].join('\n');

/**
 * Build the code package of a flow module for jobs that use the datastore `datastore`.
 * Reused without rebuilding while no input file changed.
 * @public
 */
export async function buildCodePackage(flowModuleUrl: string, datastore: AdapterLocator): Promise<CodePackage> {
  if (!flowModuleUrl.startsWith('file:'))
    throw new TributaryError('FLOW_LOAD', `A code package needs the flow module as a local file, not ${flowModuleUrl}.`);
  if (!datastore.module.startsWith('file:'))
    throw new TributaryError('CONFIG', `A code package needs the datastore adapter as a local module, not ${datastore.module}.`);
  const file = fileURLToPath(flowModuleUrl);
  const root = projectRoot(file);
  const runtime = fileURLToPath(
    new URL(import.meta.url.endsWith('.ts') ? '../execution/packaged-attempt.ts' : '../execution/packaged-attempt.js', import.meta.url),
  );
  const adapter = fileURLToPath(datastore.module);
  // The flow module is imported lazily, the way a worker imports it (import-flow-module.ts), so a
  // one-file script that starts its own run at top level starts nothing inside a task.
  const entry = [
    `import { runPackagedAttempt } from ${JSON.stringify(runtime)};`,
    `export const loadFlow = () => import(${JSON.stringify(file)});`,
    `export const loadDatastore = () => import(${JSON.stringify(adapter)});`,
    // The datastore as this package opens it (also from a helper thread, for synchronous reads).
    `export const openDatastore = async (options) => (await loadDatastore())[${JSON.stringify(datastore.factory)}](options);`,
    'export const runAttempt = (job, packageUrl) => runPackagedAttempt({ job, packageUrl, loadFlow, loadDatastore });',
  ].join('\n');
  const cache = join(root, 'node_modules', '.cache', 'tributary', 'packages');
  const manifestFile = join(cache, `${sha256(Buffer.from(entry)).slice(0, 16)}.json`);
  const reused = reuse(manifestFile, cache, root);
  if (reused) return reused;

  const esbuild = await loadEsbuild(file);
  const external = new Set<string>();
  const fromSource = import.meta.url.endsWith('.ts');
  const result = await buildOrExplain(esbuild, file, root, {
    stdin: { contents: entry, resolveDir: root, sourcefile: 'tributary-task-entry.mjs', loader: 'js' },
    absWorkingDir: root,
    // As if where local jobs unpack it (`code/<sha>/`): the source map's relative paths then lead
    // to the real sources on this machine, and stay the same bytes wherever the project is.
    outfile: join(root, 'node_modules', '.cache', 'tributary', 'code', 'package', 'task.mjs'),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'silent',
    metafile: true,
    legalComments: 'none',
    banner: { js: BANNER },
    // Developing Tributary itself: our packages resolve to their TypeScript sources.
    ...(fromSource ? { conditions: ['tributary-source'] } : {}),
    plugins: [
      {
        name: 'tributary-code-package',
        setup(build: { onResolve: Function; onLoad: Function }) {
          build.onResolve({ filter: /^[^./]/ }, (args: { path: string; importer: string; kind: string }) => {
            if (args.kind === 'entry-point' || /^[a-zA-Z]:[\\/]/.test(args.path) || args.path.startsWith('#')) return undefined;
            if (args.path.startsWith('node:') || BUILTINS.has(args.path) || BUILTINS.has(packageName(args.path)))
              return { path: args.path, external: true };
            const dir = findPackage(packageName(args.path), args.importer ? dirname(args.importer) : root);
            // `await import('pkg')` of a package only the step's `@npm` environment has: it
            // resolves when the task runs, inside that environment.
            if (!dir && args.kind === 'dynamic-import') return { path: args.path, external: true };
            if (dir && isNative(dir)) {
              // Not bundled (it has a compiled addon), and not a top-level import either: it is
              // required only when the module that uses it runs, from where it was found.
              external.add(packageName(args.path));
              const from = posix(relative(root, args.importer ? dirname(args.importer) : root)) || '.';
              return { path: JSON.stringify([args.path, from]), namespace: 'tributary-native' };
            }
            return undefined;
          });
          build.onLoad({ filter: /.*/, namespace: 'tributary-native' }, (args: { path: string }) => {
            const [spec, from] = JSON.parse(args.path) as [string, string];
            return { contents: `module.exports = __tributaryNative(${JSON.stringify(spec)}, ${JSON.stringify(from)});`, loader: 'js' };
          });
          build.onLoad({ filter: /\.(?:[cm]?[jt]s|tsx)$/ }, (args: { path: string }) => {
            if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
            const source = readFileSync(args.path, 'utf8');
            if (!source.includes('import.meta')) return undefined;
            const rel = posix(relative(root, args.path));
            // Our own runtime modules keep their import.meta (it means the bundle, which is right for them).
            if (!args.path.startsWith(root + sep) || rel.startsWith('..')) return undefined;
            const at = `__tributarySource(${JSON.stringify(rel)})`;
            const values = {
              url: `${at}.href`,
              filename: `decodeURIComponent(${at}.pathname)`,
              dirname: `decodeURIComponent(new URL('.', ${at}).pathname).replace(/\\/$/, '')`,
            };
            const contents = rewriteImportMeta(source, (prop) => values[prop]);
            return { contents, loader: /\.tsx$/.test(args.path) ? 'tsx' : /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js' };
          });
        },
      },
    ],
  });
  const outputs = (result as { outputFiles?: Array<{ path: string; contents: Uint8Array }> }).outputFiles ?? [];
  const files: Record<string, Uint8Array> = {};
  for (const out of outputs) files[out.path.endsWith('.map') ? 'task.mjs.map' : 'task.mjs'] = out.contents;
  if (!files['task.mjs']) throw new TributaryError('FLOW_LOAD', `Building the code package of ${file} produced no output.`);
  const manifest: CodePackageManifest = {
    format: 1,
    entry: 'task.mjs',
    files: Object.fromEntries(Object.entries(files).map(([n, b]) => [n, sha256(b)])),
    flowSource: posix(relative(root, file)),
    external: [...external].sort(),
  };
  files['manifest.json'] = Buffer.from(JSON.stringify(manifest, null, 2));
  const bytes = packTar(files);
  const sha = sha256(bytes);
  saveBuild(cache, `${sha}.tar`, bytes, manifestFile, buildInputs(result, file, root));
  return { sha, bytes, manifest, root };
}

function reuse(manifestFile: string, cache: string, root: string): CodePackage | undefined {
  const out = reusedOutput(manifestFile, cache);
  if (!out) return undefined;
  const bytes = readFileSync(out);
  const sha = sha256(bytes);
  // The cached archive is checked against its name: a file changed in the cache is rebuilt, not used.
  if (`${sha}.tar` !== basename(out)) return undefined;
  const manifest = JSON.parse(Buffer.from(unpackTar(bytes)['manifest.json']!).toString('utf8')) as CodePackageManifest;
  return { sha, bytes, manifest, root };
}
