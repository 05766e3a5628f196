/**
 * The flow's code as plain JavaScript, built once per run start instead of once per worker. A
 * TypeScript flow module and the local files it imports are bundled by esbuild into one ES
 * module (package imports stay imports), content-addressed by the SHA-256 of its bytes and cached
 * under the project's `node_modules/.cache/tributary/`, where its package imports resolve as they
 * do from the project. Workers (and the CLI) import that file: no TypeScript loader anywhere.
 *
 * The same bytes come out for the same sources in the same place (no timestamps; source-map paths
 * relative to the project), which is what lets this file become the code package of remote tasks
 * (the absolute `import.meta.url` values written into it are what is left to make relative).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TributaryError } from '../errors.ts';
import { sha256 } from '../util/hash.ts';
import { rewriteImportMeta } from '../util/rewrite-import-meta.ts';

/** A flow module ready for workers. @public */
export interface FlowCode {
  /** URL of the module workers import (the built bundle, or the module itself when it is JavaScript). */
  url: string;
  /** SHA-256 of the code: of the bundle (which includes the local imports), else of the module file. */
  sha: string;
  /** True when the module was TypeScript and `url` is the built bundle. */
  built: boolean;
}

const TYPESCRIPT = /\.(?:[cm]?ts|tsx)$/;
const BUILTINS = new Set(builtinModules);

/** The nearest folder with a package.json: where package imports of the flow resolve from. */
/** Bundle URL → the source module it was built from (this process's builds). */
const sources = new Map<string, string>();

/**
 * The source module a flow bundle built in this process came from (a code package is built from
 * sources, so that `import.meta.url` and paths stay relative to the project). @internal
 */
export function sourceOfFlowBundle(url: string): string | undefined {
  return sources.get(url);
}

/** @internal */
export function projectRoot(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(file);
  }
}

/** The folder of an installed package as Node would find it from `fromDir`, or undefined. */
/** @internal */
export function findPackage(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** @internal */
export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

interface BuildMessage {
  text: string;
  location?: { file: string; line: number; column: number; lineText?: string } | null;
}

/** esbuild's failure as FLOW_LOAD, naming the first located problem (the raw failure stays the cause). */
/** @internal */
export async function buildOrExplain(esbuild: EsbuildLike, file: string, root: string, options: Record<string, unknown>) {
  try {
    return await esbuild.build(options);
  } catch (err) {
    const errors = (err as { errors?: BuildMessage[] }).errors ?? [];
    // esbuild names files relative to the project root: make them absolute for whoever reports them.
    for (const m of errors) if (m.location && !isAbsolute(m.location.file)) m.location.file = join(root, m.location.file);
    const first = errors.find((m) => m.location) ?? errors[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : '';
    throw new TributaryError('FLOW_LOAD', `${file} does not build: ${where}${first?.text ?? (err as Error).message}`, {
      cause: err,
      context: { path: file },
    });
  }
}

/** @internal */
export interface EsbuildLike {
  build(
    options: Record<string, unknown>,
  ): Promise<{ outputFiles?: Array<{ contents: Uint8Array }>; metafile?: { inputs: Record<string, unknown> } }>;
}

/** @internal */
export async function loadEsbuild(file: string): Promise<EsbuildLike> {
  try {
    // Loaded only for TypeScript flows (a variable specifier: the core has no type dependency on it).
    const name = 'esbuild';
    return (await import(name)) as EsbuildLike;
  } catch (err) {
    throw new TributaryError(
      'CONFIG',
      `${file} is TypeScript, and turning it into JavaScript for the workers needs the package esbuild: install it (npm i esbuild), ` +
        `or compile the flow yourself (tsc) and run the .js file.`,
      { cause: err },
    );
  }
}

/**
 * Prepare a flow module for workers: TypeScript is bundled (once per content) into plain
 * JavaScript; JavaScript modules are used as they are. Errors in the sources (syntax, an import
 * that resolves nowhere) are esbuild's, with their locations (`errors[].location`).
 * @public
 */
export async function prepareFlowCode(moduleUrl: string): Promise<FlowCode> {
  if (!moduleUrl.startsWith('file:')) return { url: moduleUrl, sha: '', built: false };
  const file = fileURLToPath(moduleUrl);
  if (!TYPESCRIPT.test(file)) {
    let sha = '';
    try {
      sha = sha256(readFileSync(file));
    } catch {
      // not readable here (the import reports it)
    }
    return { url: moduleUrl, sha, built: false };
  }
  const root = projectRoot(file);
  const cache = join(root, 'node_modules', '.cache', 'tributary');
  // A build of the same sources is reused without starting esbuild: the manifest of the last
  // build of this entry lists every input with its hash.
  const manifestFile = join(cache, `${sha256(Buffer.from(file)).slice(0, 16)}.json`);
  const reused = reuse(manifestFile, cache);
  if (reused) {
    sources.set(reused.url, moduleUrl);
    return reused;
  }
  const esbuild = await loadEsbuild(file);
  const result = await buildOrExplain(esbuild, file, root, {
    entryPoints: [file],
    absWorkingDir: root,
    outdir: cache,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Stack traces of task code point into the TypeScript sources (workers run with source maps).
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'silent',
    metafile: true,
    plugins: [
      {
        name: 'tributary-flow-code',
        setup(build: { onResolve: Function; onLoad: Function }) {
          // Packages stay imports, resolved from the project at run time, as they would from the
          // sources. One that is not installed is reported here, at the static import that names it.
          build.onResolve({ filter: /^[^./]/ }, (args: { path: string; importer: string; kind: string }) => {
            if (args.kind === 'entry-point' || /^[a-zA-Z]:[\\/]/.test(args.path)) return undefined;
            if (args.path.startsWith('node:') || BUILTINS.has(args.path) || BUILTINS.has(packageName(args.path))) {
              return { path: args.path, external: true };
            }
            if (args.path.startsWith('#')) return undefined; // the package's own imports map: esbuild resolves it
            // `await import('pkg')` in a step may name a package only its `@npm` environment has:
            // it resolves when the task runs, inside that environment.
            if (!findPackage(packageName(args.path), dirname(args.importer)) && args.kind !== 'dynamic-import') {
              return {
                errors: [
                  {
                    text: `Cannot find package '${packageName(args.path)}' (imported by ${relative(root, args.importer).split(sep).join('/')}): install it (npm install ${packageName(args.path)}) or fix the import.`,
                  },
                ],
              };
            }
            return { path: args.path, external: true };
          });
          // `import.meta.url` keeps meaning the source file it is written in (not the bundle), so
          // a flow that reads files next to it still finds them.
          build.onLoad({ filter: /\.(?:[cm]?[jt]s|tsx)$/ }, (args: { path: string }) => {
            const source = readFileSync(args.path, 'utf8');
            if (!source.includes('import.meta')) return undefined;
            const url = pathToFileURL(args.path).href;
            const values = { url, filename: args.path, dirname: dirname(args.path) };
            const contents = rewriteImportMeta(source, (prop) => JSON.stringify(values[prop]));
            return { contents, loader: /\.tsx$/.test(args.path) ? 'tsx' : /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js' };
          });
        },
      },
    ],
  });
  const bytes = result.outputFiles?.[0]?.contents;
  if (!bytes) throw new TributaryError('FLOW_LOAD', `Building ${file} for the workers produced no output.`);
  const sha = sha256(bytes);
  const out = saveBuild(cache, `${sha}.mjs`, bytes, manifestFile, buildInputs(result, file, root));
  sources.set(pathToFileURL(out).href, moduleUrl);
  return { url: pathToFileURL(out).href, sha, built: true };
}

interface Manifest {
  output: string;
  /** Absolute path → SHA-256 of every source file the bundle was built from. */
  inputs: Record<string, string | null>;
}

/** @internal */
export function tsconfigOf(file: string, root: string): string[] {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, 'tsconfig.json');
    if (existsSync(candidate)) return [candidate];
    if (dir === root || dirname(dir) === dir) return [];
  }
}

/** @internal */
export function hashFile(path: string): string | null {
  try {
    return sha256(readFileSync(path));
  } catch {
    return null;
  }
}

function reuse(manifestFile: string, cache: string): FlowCode | undefined {
  const out = reusedOutput(manifestFile, cache);
  return out ? { url: pathToFileURL(out).href, sha: basename(out).replace(/\.mjs$/, ''), built: true } : undefined;
}

/** The output of the last build recorded in `manifestFile`, if none of its inputs changed since. @internal */
export function reusedOutput(manifestFile: string, cache: string): string | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  const out = join(cache, manifest.output);
  if (!existsSync(out) || Object.entries(manifest.inputs).some(([p, sha]) => sha === null || hashFile(p) !== sha)) return undefined;
  return out;
}

/** Every file esbuild read for a build (esbuild also reads the nearest tsconfig.json: a change there rebuilds). @internal */
export function buildInputs(result: { metafile?: { inputs: Record<string, unknown> } }, file: string, root: string): string[] {
  return [...Object.keys(result.metafile?.inputs ?? {}).map((p) => join(root, p)), ...tsconfigOf(file, root)];
}

/**
 * Store a build's output under `cache` (under a temporary name, then renamed: a concurrent run
 * never reads half a file) and record its inputs with their hashes for `reusedOutput`. @internal
 */
export function saveBuild(cache: string, name: string, bytes: Uint8Array, manifestFile: string, inputs: string[]): string {
  const out = join(cache, name);
  if (!existsSync(out) || statSync(out).size !== bytes.byteLength) {
    mkdirSync(cache, { recursive: true });
    const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
  }
  writeManifest(manifestFile, { output: name, inputs: Object.fromEntries(inputs.map((p) => [p, hashFile(p)])) });
  return out;
}

/** @internal */
export function writeManifest(path: string, manifest: Manifest): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, JSON.stringify(manifest));
  renameSync(tmp, path);
}
