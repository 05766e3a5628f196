/**
 * The one file a remote image needs besides Node 20: the task job's entry (read the spec, fetch
 * the code package, run it) with the datastore adapters bundled in. Baked into an image at
 * `/opt/tributary/task.mjs` (the Kubernetes and Batch backends' default), it is all Tributary
 * asks of the image: the code package carries the flow and the rest of the runtime.
 */
import { fileURLToPath } from 'node:url';
import { TributaryError } from '../errors.ts';
import { buildOrExplain, loadEsbuild } from '../runtime/code-package.ts';
import { sha256 } from '../util/hash.ts';

/** @public */
export interface TaskBootstrapOptions {
  /**
   * Adapters to bundle, by factory export name → module path or specifier: the datastores (e.g.
   * `createS3Datastore` → `@tributary/datastore-s3`) and the environment resolvers (e.g.
   * `createPypiResolver` → `@tributary/environment-pypi`) task jobs may open.
   */
  adapters: Record<string, string>;
  /** Resolve bare specifiers from this folder (the project, or the CLI's own). */
  resolveDir: string;
  /** Packages left out of the bundle (imported only by code a task job never runs). */
  external?: string[];
}

/** A built bootstrap file. @public */
export interface TaskBootstrap {
  /** The ES module's text (`node task.mjs <spec-sha>`). */
  code: string;
  sha: string;
  /** Factory names it can open. */
  adapters: string[];
}

/** @public */
export async function buildTaskBootstrap(o: TaskBootstrapOptions): Promise<TaskBootstrap> {
  const names = Object.keys(o.adapters).sort();
  if (names.length === 0) throw new TributaryError('CONFIG', 'A task bootstrap needs at least one datastore adapter to bundle.');
  const fromSource = import.meta.url.endsWith('.ts');
  const runner = fileURLToPath(new URL(fromSource ? '../execution/run-task-job.ts' : '../execution/run-task-job.js', import.meta.url));
  const entry = [
    `import { exitWithLauncher, runTaskJob } from ${JSON.stringify(runner)};`,
    'const adapters = {',
    ...names.map((n) => `  ${JSON.stringify(n)}: () => import(${JSON.stringify(o.adapters[n])}),`),
    '};',
    'async function openAdapter(locator) {',
    '  const load = adapters[locator.factory];',
    // Locators name the adapter's module as a file on the orchestrator's machine: here the bundled copy is used.
    `  if (!load) throw new Error('This task bootstrap has no adapter ' + locator.factory + ' (it has ${names.join(', ')}): rebuild it with that adapter installed (tributary bootstrap).');`,
    '  return (await load())[locator.factory](locator.options);',
    '}',
    'exitWithLauncher(process.env);',
    'process.exit(await runTaskJob({ argv: process.argv.slice(2), env: process.env, openAdapter }));',
  ].join('\n');
  const esbuild = await loadEsbuild(o.resolveDir);
  const result = await buildOrExplain(esbuild, 'task bootstrap', o.resolveDir, {
    stdin: { contents: entry, resolveDir: o.resolveDir, sourcefile: 'tributary-task-bootstrap.mjs', loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    legalComments: 'none',
    ...(o.external?.length ? { external: o.external } : {}),
    banner: {
      js: "import { createRequire as __tributaryCreateRequire } from 'node:module';\nconst require = __tributaryCreateRequire(import.meta.url);",
    },
    ...(fromSource ? { conditions: ['tributary-source'] } : {}),
  });
  const out = result.outputFiles?.[0];
  if (!out) throw new TributaryError('CONFIG', 'Building the task bootstrap produced no output.');
  const code = Buffer.from(out.contents).toString('utf8');
  return { code, sha: sha256(Buffer.from(code)), adapters: names };
}
