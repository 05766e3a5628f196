// The import hook of environments (@npm): a step's `import('pkg')` resolves from the active
// environment's node_modules (ESM ignores NODE_PATH), switching correctly between environments in
// one process, and `require` through NODE_PATH. Checked in a fresh Node process, the way a worker
// runs steps (the step's imports are Node's own, not vitest's): once on the core's TypeScript
// sources through tsx, once on the core bundled into plain JavaScript (as dist/ or a task
// bootstrap runs it, with no TypeScript loader anywhere).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { environmentImportRoots } from '../src/environments/environment-imports.ts';
import { runFlow, type EnvironmentLock, type EnvironmentResolver } from '../src/index.ts';
import { EnvironmentImportsFlow } from './fixtures/environment-imports-flow.ts';

const coreDir = fileURLToPath(new URL('../', import.meta.url));
const activateSource = join(coreDir, 'src/environments/activate-environment.ts');
const root = realpathSync(mkdtempSync(join(tmpdir(), 'tributary-env-imports-')));
const envA = join(root, 'env-a');
const envB = join(root, 'env-b');
const project = join(root, 'project');

/** A package folder under `at/node_modules`: CommonJS unless `esm`; its index exports `version` unless given. */
function pkg(at: string, name: string, version: string, options: { esm?: boolean; index?: string } = {}): void {
  const dir = join(at, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  const esm = options.esm ? { type: 'module', exports: './index.js' } : {};
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js', ...esm }));
  const index =
    options.index ?? (options.esm ? `export const version = ${JSON.stringify(version)};` : `exports.version = ${JSON.stringify(version)};`);
  writeFileSync(join(dir, 'index.js'), index);
}

// What a step sees: imports of a package both the project and the environments have (`shared`),
// of packages only the environments have (`envonly`, CommonJS with a dependency of its own, and
// `envesm`, ESM), require() and import.meta.resolve of one, imports made by a package of the
// project, and a builtin. It counts hook registrations (the import binding of node:module follows
// the patched export).
function probeScript(activateModule: string): string {
  return `
import module, { createRequire, syncBuiltinESMExports } from 'node:module';
let registered = 0;
const register = module.register;
module.register = (...args) => (registered++, register(...args));
syncBuiltinESMExports();
const { activateEnvironment } = await import(${JSON.stringify(activateModule)});
const require = createRequire(import.meta.url);
const attempt = async (fn) => { try { return await fn(); } catch (e) { return 'error ' + e.code; } };
const probe = async () => ({
  shared: await attempt(async () => (await import('shared')).version),
  envonly: await attempt(async () => (await import('envonly')).version),
  envonlyDep: await attempt(async () => (await import('envonly')).dep),
  envesm: await attempt(async () => (await import('envesm')).version),
  required: await attempt(async () => require('envonly').version),
  resolved: await attempt(async () => import.meta.resolve('envonly')),
  fromProjectPackage: await attempt(async () => (await import('projdep')).seen()),
  builtin: await attempt(async () => typeof (await import('fs')).readFileSync),
});
const enter = (id, dir) => activateEnvironment({ id, env: { NODE_PATH: dir + '/node_modules' }, path: [dir + '/node_modules/.bin'] });
const out = {};
out.before = await probe();
// An environment without NODE_PATH (@pypi) registers nothing.
activateEnvironment({ id: 'p', env: { VIRTUAL_ENV: '/nowhere' }, path: [] })();
out.registeredWithoutNodePath = registered;
let leave = enter('a', ${JSON.stringify(envA)});
out.a = { ...(await probe()), NODE_PATH: process.env.NODE_PATH };
leave();
out.between = { ...(await probe()), NODE_PATH: process.env.NODE_PATH };
leave = enter('b', ${JSON.stringify(envB)});
out.b = await probe();
leave();
out.after = await probe();
out.registered = registered;
console.log(JSON.stringify(out));
`;
}

function tsxLoader(): string {
  return pathToFileURL(createRequire(join(coreDir, 'package.json')).resolve('tsx')).href;
}

beforeAll(async () => {
  for (const [env, v] of [
    [envA, 'A'],
    [envB, 'B'],
  ] as const) {
    pkg(env, 'shared', `env-${v}`);
    pkg(env, 'envonly', `only-${v}`, { index: `exports.version = 'only-${v}'; exports.dep = require('envdep').version;` });
    pkg(env, 'envdep', `dep-${v}`);
    pkg(env, 'envesm', `esm-${v}`, { esm: true });
  }
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), '{"name":"project","private":true,"type":"module"}');
  pkg(project, 'shared', 'project');
  // A package of the project: its own imports resolve as Node resolves them; the environment only fills in what is missing.
  pkg(project, 'projdep', '1.0.0', {
    index: `exports.seen = async () => (await import('shared')).version + ' ' + (await import('envonly')).version;`,
  });
  writeFileSync(join(project, 'from-source.mjs'), probeScript(pathToFileURL(activateSource).href));
  await esbuild.build({
    entryPoints: [activateSource],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile: join(root, 'bundle', 'activate-environment.mjs'),
    logLevel: 'silent',
  });
  writeFileSync(join(project, 'from-bundle.mjs'), probeScript(pathToFileURL(join(root, 'bundle', 'activate-environment.mjs')).href));
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const outside = {
  shared: 'project',
  envonly: 'error ERR_MODULE_NOT_FOUND',
  envonlyDep: 'error ERR_MODULE_NOT_FOUND',
  envesm: 'error ERR_MODULE_NOT_FOUND',
  required: 'error MODULE_NOT_FOUND',
  resolved: 'error ERR_MODULE_NOT_FOUND',
  fromProjectPackage: 'error ERR_MODULE_NOT_FOUND',
  builtin: 'function',
};

function inside(env: string, v: string): Record<string, string> {
  return {
    // The environment's copy wins over the project's for the flow's own imports.
    shared: `env-${v}`,
    envonly: `only-${v}`,
    envonlyDep: `dep-${v}`,
    envesm: `esm-${v}`,
    required: `only-${v}`,
    resolved: pathToFileURL(join(env, 'node_modules/envonly/index.js')).href,
    // A project package keeps its own `shared`, and finds `envonly` in the environment.
    fromProjectPackage: `project only-${v}`,
    builtin: 'function',
  };
}

describe('environment imports', () => {
  test.each([
    ['from the TypeScript sources (tsx)', 'from-source.mjs', ['--conditions=tributary-source', '--import', tsxLoader()]],
    ['bundled into plain JavaScript', 'from-bundle.mjs', []],
  ])(
    '%s: a step imports from the active environment, one after the other in one process, and from nowhere without one',
    (_, script, args) => {
      const { NODE_PATH: _outer, ...env } = process.env;
      const r = spawnSync(process.execPath, [...args, join(project, script)], { cwd: project, encoding: 'utf8', timeout: 60_000, env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.before).toEqual(outside);
      expect(out.registeredWithoutNodePath).toBe(0);
      expect(out.a).toEqual({ ...inside(envA, 'A'), NODE_PATH: join(envA, 'node_modules') });
      expect(out.between).toEqual(outside);
      expect(out.b).toEqual(inside(envB, 'B'));
      expect(out.after).toEqual(outside);
      // Registered once, on entering the first environment with NODE_PATH.
      expect(out.registered).toBe(1);
    },
  );

  test('the hook is given the node_modules folders of NODE_PATH, as real-path URLs', () => {
    const link = join(root, 'linked-env');
    symlinkSync(envA, link);
    const nodePath = [join(link, 'node_modules'), join(root, 'not-packages'), join(root, 'missing', 'node_modules'), ''].join(delimiter);
    const modules = `${pathToFileURL(join(envA, 'node_modules')).href}/`;
    expect(environmentImportRoots(nodePath)).toEqual([{ parent: `${pathToFileURL(envA).href}/`, modules }]);
    expect(dirname(fileURLToPath(modules))).toBe(envA);
  });
});

/** A resolver that "installs" `envpkg` at the spec's version by writing it into the environment's node_modules. */
const handMadeNpm: EnvironmentResolver = {
  name: 'hand-made-npm',
  capabilities: { kinds: ['npm'] },
  async lock(spec, { platform }): Promise<EnvironmentLock> {
    const packages = Object.entries(spec.packages).map(([name, version]) => ({
      name,
      version,
      url: `memory://${name}`,
      sha256: '0'.repeat(64),
    }));
    return { kind: 'npm', platform, sources: [], packages };
  },
  async materialize(lock, { dir }) {
    for (const p of lock.packages) pkg(dir, p.name, p.version);
    return { env: { NODE_PATH: join(dir, 'node_modules') }, path: [join(dir, 'node_modules', '.bin')] };
  },
  async close() {},
};

describe('environment imports in a run', () => {
  test('each step of a flow imports its own environment’s package, in one warm worker; a step without one finds none', async () => {
    const run = await runFlow(EnvironmentImportsFlow, { home: join(root, 'home'), environments: { npm: handMadeNpm }, maxWorkers: 1 });
    expect(run.error?.message ?? run.status).toBe('succeeded');
    const data = (await run.data()) as Record<string, unknown>;
    expect(data).toMatchObject({ first: '1.0.0', second: '2.0.0', plain: 'error ERR_MODULE_NOT_FOUND' });
    const pids = data.pids as number[];
    expect(pids).toHaveLength(3);
    expect(new Set(pids).size).toBe(1);
  });
});
