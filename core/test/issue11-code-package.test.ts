/**
 * Issue 11 item 3: the code package of runs whose tasks start from nothing (one job per attempt).
 * One ES module with the flow, its local imports and packages, the task runtime and the datastore
 * adapter, in a deterministic tar named by its SHA-256: the same project gives the same bytes
 * wherever it is, any code change gives another address, and a job refuses a package that does
 * not match its address or its manifest before running any of it.
 *
 * The project is a fixture (core/test/fixtures/issue11-project) copied into temporary folders
 * under core/test/.tmp-issue11-*, so @tributary/core resolves from it and each copy has its own
 * build cache (node_modules/.cache/tributary).
 */
import { spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createFsDatastore } from '@tributary/datastore-fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ArtifactStore } from '../src/artifacts/artifact-store.ts';
import { buildCodePackage, runFlow, sha256, TributaryError, type CodePackage, type Datastore, type FlowSpec } from '../src/index.ts';
import { materializeCodePackage } from '../src/packaging/materialize-code-package.ts';
import { packTar, unpackTar } from '../src/packaging/tar.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const fixture = join(here, 'fixtures', 'issue11-project');
const FLOW = 'Issue11PackageFlow';

let tmpRoot: string;
/** Only the locator's module goes into a package (its options, the root, stay in job specs). */
let locator: NonNullable<Datastore['locator']>;

beforeAll(() => {
  tmpRoot = mkdtempSync(join(here, '.tmp-issue11-'));
  locator = createFsDatastore({ root: join(tmpRoot, 'locator-ds') }).locator;
});
afterAll(() => {
  delete process.env.TRIBUTARY_CODE_CACHE;
  rmSync(tmpRoot, { recursive: true, force: true });
});

/** A fresh copy of the fixture project; returns its folder. */
function copyProject(name: string): string {
  const dir = join(tmpRoot, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(fixture, dir, { recursive: true });
  return dir;
}

const flowUrl = (project: string) => pathToFileURL(join(project, 'flow.ts')).href;
const build = (project: string) => buildCodePackage(flowUrl(project), locator);

/** Where `buildCodePackage` caches its builds in a project (removing it forces a build from nothing). */
const buildCache = (project: string) => join(project, 'node_modules', '.cache', 'tributary');

function flipByte(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

async function integrityRefusal(promise: Promise<unknown>): Promise<TributaryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(TributaryError.is(err), `expected a TributaryError, got ${String(err)}`).toBe(true);
  expect((err as TributaryError).code).toBe('INTEGRITY');
  return err as TributaryError;
}

function integrityThrow(fn: () => unknown): TributaryError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(TributaryError.is(err), `expected a TributaryError, got ${String(err)}`).toBe(true);
  expect((err as TributaryError).code).toBe('INTEGRITY');
  return err as TributaryError;
}

/** Every place a path of this machine could appear in the bytes: as a path and as a file URL. */
function machinePaths(...paths: string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    out.add(p);
    out.add(pathToFileURL(p).href);
    out.add(JSON.stringify(p).slice(1, -1)); // as it would be escaped in a JS string
  }
  return [...out];
}

describe('issue 11 item 3: the code package is deterministic', () => {
  test('issue 11 item 3: the same project in two folders gives the same bytes and hash, with no path of this machine in them', async () => {
    const a = copyProject('copy-a');
    const b = copyProject('copy-b');
    const pa = await build(a);
    const pb = await build(b);
    expect(pa.sha).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256(pa.bytes)).toBe(pa.sha);
    expect(pb.sha).toBe(pa.sha);
    expect(Buffer.compare(Buffer.from(pa.bytes), Buffer.from(pb.bytes))).toBe(0);
    expect(pa.root).toBe(a);
    expect(pb.root).toBe(b);

    // Building twice: reused (same answer), and built again from nothing: the same bytes.
    const reused = await build(a);
    expect(reused.sha).toBe(pa.sha);
    rmSync(buildCache(a), { recursive: true, force: true });
    const rebuilt = await build(a);
    expect(rebuilt.sha).toBe(pa.sha);
    expect(Buffer.compare(Buffer.from(rebuilt.bytes), Buffer.from(pa.bytes))).toBe(0);

    // Another datastore of the same adapter (another root): the same package.
    const elsewhere = await buildCodePackage(flowUrl(b), createFsDatastore({ root: join(tmpRoot, 'other-ds') }).locator);
    expect(elsewhere.sha).toBe(pa.sha);

    // The archive itself: only the three files, owner 0, mtime 0, mode 0644.
    const files = unpackTar(pa.bytes);
    expect(Object.keys(files).sort()).toEqual(['manifest.json', 'task.mjs', 'task.mjs.map']);
    for (let at = 0; at < pa.bytes.byteLength;) {
      const h = Buffer.from(pa.bytes.subarray(at, at + 512));
      if (h.every((x) => x === 0)) break;
      expect(h.subarray(100, 107).toString('latin1')).toBe('0000644');
      expect(h.subarray(108, 115).toString('latin1')).toBe('0000000');
      expect(h.subarray(116, 123).toString('latin1')).toBe('0000000');
      expect(h.subarray(136, 147).toString('latin1')).toBe('00000000000');
      const size = parseInt(h.subarray(124, 135).toString('latin1'), 8);
      at += 512 + Math.ceil(size / 512) * 512;
    }

    // No absolute path of this machine anywhere in the bytes (tar headers, bundle, source map, manifest).
    const bytes = Buffer.from(pa.bytes);
    for (const p of machinePaths(a, b, tmpRoot, here, repoRoot, process.cwd(), tmpdir())) {
      expect(bytes.indexOf(p), `${p} appears in the package`).toBe(-1);
    }
  });

  test('issue 11 item 3: changing one character of a local import gives a new hash; changing it back gives the old one', async () => {
    const c = copyProject('copy-change');
    const helper = join(c, 'lib', 'helper.ts');
    const original = readFileSync(helper, 'utf8');
    expect(original).toContain('`hello ${name}`');
    const p0 = await build(c);

    writeFileSync(helper, original.replace('`hello ${name}`', '`hellO ${name}`'));
    const p1 = await build(c);
    expect(p1.sha).not.toBe(p0.sha);
    expect(p1.manifest.files['task.mjs']).not.toBe(p0.manifest.files['task.mjs']);
    expect(Buffer.from(unpackTar(p1.bytes)['task.mjs']!).toString('utf8')).toContain('hellO ');

    writeFileSync(helper, original);
    const p2 = await build(c);
    expect(p2.sha).toBe(p0.sha);
    expect(Buffer.compare(Buffer.from(p2.bytes), Buffer.from(p0.bytes))).toBe(0);
  });
});

describe('issue 11 item 3: a package that does not match its address or manifest is refused', () => {
  let pkg: CodePackage;
  let store: ArtifactStore;
  let cache: string;

  beforeAll(async () => {
    pkg = await build(copyProject('copy-unit'));
    store = new ArtifactStore(createFsDatastore({ root: join(tmpRoot, 'unit-ds') }), FLOW);
    cache = join(tmpRoot, 'unit-code-cache');
    process.env.TRIBUTARY_CODE_CACHE = cache;
  });

  const cached = (sha: string) => (existsSync(cache) ? readdirSync(cache).filter((n) => n.startsWith(sha)) : []);

  test('issue 11 item 3: an intact package is unpacked and verified; a changed unpacked copy is not run but unpacked again from the datastore', async () => {
    await store.putBlob(pkg.bytes);
    const url = await materializeCodePackage(store, pkg.sha);
    const dir = fileURLToPath(url);
    expect(dir).toBe(join(cache, pkg.sha) + '/');
    const taskMjs = readFileSync(join(dir, 'task.mjs'));
    expect(sha256(taskMjs)).toBe(pkg.manifest.files['task.mjs']);
    expect(readFileSync(join(dir, '.verified'), 'utf8')).toBe(pkg.sha);
    // Again: the cached folder is used (and checked again).
    expect((await materializeCodePackage(store, pkg.sha)).href).toBe(url.href);

    // A byte changed in task.mjs, a changed source map, a file gone: each is replaced by a verified copy.
    const map = readFileSync(join(dir, 'task.mjs.map'));
    for (const damage of [
      () => writeFileSync(join(dir, 'task.mjs'), flipByte(taskMjs, 1000)),
      () => writeFileSync(join(dir, 'task.mjs.map'), flipByte(map, 10)),
      () => rmSync(join(dir, 'task.mjs.map')),
    ]) {
      damage();
      expect((await materializeCodePackage(store, pkg.sha)).href).toBe(url.href);
      expect(sha256(readFileSync(join(dir, 'task.mjs')))).toBe(pkg.manifest.files['task.mjs']);
      expect(sha256(readFileSync(join(dir, 'task.mjs.map')))).toBe(pkg.manifest.files['task.mjs.map']);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('issue 11 item 3: a tar whose task.mjs does not match its manifest is refused and nothing is unpacked', async () => {
    const files = unpackTar(pkg.bytes);
    files['task.mjs'] = flipByte(files['task.mjs']!, 500);
    const bad = packTar(files);
    const sha = await store.putBlob(bad);
    expect(sha).not.toBe(pkg.sha);
    const err = await integrityRefusal(materializeCodePackage(store, sha));
    expect(err.message).toContain(`File task.mjs of code package ${sha} does not match its hash`);
    expect(cached(sha)).toEqual([]);
  });

  test('issue 11 item 3: a tar with a file the manifest does not list, or without a manifest, is refused', async () => {
    const extra = { ...unpackTar(pkg.bytes), 'evil.mjs': Buffer.from('console.log(1)') };
    const extraSha = await store.putBlob(packTar(extra));
    expect((await integrityRefusal(materializeCodePackage(store, extraSha))).message).toContain('does not match its manifest');

    const { 'manifest.json': _manifest, ...rest } = unpackTar(pkg.bytes);
    const bareSha = await store.putBlob(packTar(rest));
    expect((await integrityRefusal(materializeCodePackage(store, bareSha))).message).toContain('has no manifest.json');

    const lying = unpackTar(pkg.bytes);
    const manifest = JSON.parse(Buffer.from(lying['manifest.json']!).toString('utf8')) as { files: Record<string, string> };
    manifest.files['task.mjs'] = sha256(Buffer.from('something else'));
    lying['manifest.json'] = Buffer.from(JSON.stringify(manifest));
    const lyingSha = await store.putBlob(packTar(lying));
    await integrityRefusal(materializeCodePackage(store, lyingSha));
    for (const sha of [extraSha, bareSha, lyingSha]) expect(cached(sha)).toEqual([]);
  });

  test('issue 11 item 3: other bytes under the address (even a consistent repack) are refused by the address', async () => {
    // A consistent forgery: task.mjs changed and the manifest updated to match.
    const files = unpackTar(pkg.bytes);
    files['task.mjs'] = Buffer.concat([Buffer.from(files['task.mjs']!), Buffer.from('\nprocess.exit(99);\n')]);
    const manifest = JSON.parse(Buffer.from(files['manifest.json']!).toString('utf8')) as { files: Record<string, string> };
    manifest.files['task.mjs'] = sha256(files['task.mjs']!);
    files['manifest.json'] = Buffer.from(JSON.stringify(manifest, null, 2));
    const forged = packTar(files);
    await store.datastore.put(store.blobKey(pkg.sha), forged);
    rmSync(join(cache, pkg.sha), { recursive: true, force: true });
    // A fresh store (this one remembers the address as verified).
    const fresh = new ArtifactStore(store.datastore, FLOW);
    const err = await integrityRefusal(materializeCodePackage(fresh, pkg.sha));
    expect(err.message).toContain("'code package'");
    expect(err.message).toContain('is corrupt');
    expect(cached(pkg.sha)).toEqual([]);
    // Not an address at all.
    await integrityRefusal(materializeCodePackage(fresh, '../../etc/passwd'));
  });

  test('issue 11 item 3: unpackTar refuses entry names with `..`, absolute names, and entries other than regular files', async () => {
    const body = Buffer.from('export const pwned = true;\n');
    for (const name of ['../escape.mjs', 'a/../../escape.mjs', '/tmp/escape.mjs', './task.mjs', 'a//b', 'a\\..\\b']) {
      const err = integrityThrow(() => unpackTar(packTar({ [name]: body })));
      expect(err.message).toContain('unexpected entry');
    }
    // A symbolic link entry (type '2'), with a valid header checksum.
    const tar = Buffer.from(packTar({ 'task.mjs': body }));
    tar[156] = 0x32;
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(integrityThrow(() => unpackTar(tar)).message).toContain('unexpected entry');
    // A header with a wrong checksum, and an archive cut short.
    const good = Buffer.from(packTar({ 'task.mjs': body }));
    expect(integrityThrow(() => unpackTar(flipByte(good, 0))).message).toContain('checksum');
    integrityThrow(() => unpackTar(good.subarray(0, 512 + 10)));

    // Through materializeCodePackage: refused, nothing written outside (or inside) the cache.
    const withEscape = { ...unpackTar(pkg.bytes), '../escape.mjs': body };
    const sha = await store.putBlob(packTar(withEscape));
    await integrityRefusal(materializeCodePackage(store, sha));
    expect(existsSync(join(cache, '..', 'escape.mjs'))).toBe(false);
    expect(existsSync(join(cache, 'escape.mjs'))).toBe(false);
    expect(cached(sha)).toEqual([]);
  });
});

describe('issue 11 item 3: what the package holds', () => {
  let pkg: CodePackage;
  let files: Record<string, Uint8Array>;
  beforeAll(async () => {
    pkg = await build(copyProject('copy-content'));
    files = unpackTar(pkg.bytes);
  });

  test('issue 11 item 3: the manifest lists task.mjs and its source map with their hashes; external lists native packages only', () => {
    const manifest = JSON.parse(Buffer.from(files['manifest.json']!).toString('utf8'));
    expect(manifest).toEqual(pkg.manifest);
    expect(manifest.format).toBe(1);
    expect(manifest.entry).toBe('task.mjs');
    expect(manifest.flowSource).toBe('flow.ts');
    expect(manifest.files).toEqual({ 'task.mjs': sha256(files['task.mjs']!), 'task.mjs.map': sha256(files['task.mjs.map']!) });

    // msgpackr (a dependency of the core) optionally loads the native msgpackr-extract: that one stays out.
    expect(manifest.external).toContain('msgpackr-extract');
    expect([...manifest.external].sort()).toEqual(manifest.external);
    const builtins = new Set(builtinModules);
    for (const name of manifest.external as string[]) {
      expect(builtins.has(name) || name.startsWith('node:'), `${name} is a builtin`).toBe(false);
      const dirs = installedPackageDirs(name);
      expect(dirs.length, `${name} is installed in this workspace`).toBeGreaterThan(0);
      for (const dir of dirs) expect(isNativePackage(dir), `${dir} has a native addon`).toBe(true);
    }
  });

  test('issue 11 item 3: task.mjs imports only node builtins at top level, and imports and runs with only Node', () => {
    const source = Buffer.from(files['task.mjs']!).toString('utf8');
    const specifiers = topLevelImports(source);
    expect(specifiers).toContain('node:module'); // the banner's createRequire
    expect(specifiers).toContain('node:fs');
    const builtins = new Set(builtinModules);
    const notBuiltin = specifiers.filter((s) => !(s.startsWith('node:') ? builtins.has(s.slice(5)) : builtins.has(s)));
    expect(notBuiltin).toEqual([]);
    // require() with a literal name (CommonJS inside the bundle): builtins, or a listed native package (optional at run time).
    const external = new Set(pkg.manifest.external);
    const required = [...source.matchAll(/\b(?:__require|require)\(\s*(["'])([^"']+)\1\s*\)/g)].map((m) => m[2]!);
    expect(required.filter((s) => !builtins.has(s.replace(/^node:/, '')) && !external.has(s))).toEqual([]);
    // None of the project's or the workspace's packages stay imports.
    for (const pkgName of ['@tributary/core', '@tributary/datastore-fs', 'msgpackr', 'acorn']) expect(specifiers).not.toContain(pkgName);

    // Unpacked where no node_modules is anywhere near, imported by plain Node (no loader, no conditions).
    const outside = mkdtempSync(join(tmpdir(), 'tributary-issue11-'));
    try {
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outside, name), bytes);
      const script = [
        `const m = await import(${JSON.stringify(pathToFileURL(join(outside, 'task.mjs')).href)});`,
        `const flow = await m.loadFlow(); const ds = await m.loadDatastore();`,
        `console.log(JSON.stringify({ run: typeof m.runAttempt, flow: typeof flow.${FLOW}, ds: typeof ds.createFsDatastore }));`,
      ].join('\n');
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: outside,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim())).toEqual({ run: 'function', flow: 'function', ds: 'function' });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('issue 11 item 3: a job refuses a tampered code package before running any step code', () => {
  let project: string;
  let flowClass: new () => FlowSpec;
  let home: string;
  let expected: CodePackage;

  beforeAll(async () => {
    project = copyProject('e2e');
    home = join(tmpRoot, 'e2e-home');
    const mod = (await import(flowUrl(project))) as Record<string, new () => FlowSpec>;
    flowClass = mod[FLOW]!;
  });

  const codeCache = () => join(project, 'node_modules', '.cache', 'tributary', 'code');
  const blobFile = (root: string, sha: string) => join(root, FLOW, 'data', sha.slice(0, 2), `${sha}~`);
  const markerLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

  async function run(datastore: Datastore, marker: string) {
    return runFlow(flowClass, {
      home,
      datastore,
      compute: 'local-jobs://',
      flowModule: flowUrl(project),
      params: { marker },
      maxWorkers: 1,
    });
  }

  test('issue 11 item 3: an intact package runs; the run records its address; a changed unpacked copy is replaced, never run', async () => {
    const root = join(tmpRoot, 'e2e-ds');
    const ds = createFsDatastore({ root });
    expected = await buildCodePackage(flowUrl(project), ds.locator);
    const marker = join(tmpRoot, 'marker-intact.txt');
    const ok = await run(ds, marker);
    expect(ok.error?.message ?? ok.status).toBe('succeeded');
    expect(markerLines(marker)).toEqual(['start', 'end']);
    expect(await ok.data()).toMatchObject({ message: 'hello package' });

    // The address is in the run's system tags and on the `_parameters` task; the blob holds those bytes.
    const record = await ok.metadata.getRun(FLOW, ok.runId);
    const tag = record.systemTags.find((t) => t.startsWith('code-package:'));
    expect(tag).toBe(`code-package:${expected.sha}`);
    const params = (await ok.metadata.listTasks({ flow: FLOW, runId: ok.runId, step: '_parameters' })).items[0]!;
    expect((await ok.metadata.getMetadata({ flow: FLOW, runId: ok.runId, taskId: params.taskId }))['code-package']).toBe(expected.sha);
    expect(sha256(readFileSync(blobFile(root, expected.sha)))).toBe(expected.sha);
    const unpacked = join(codeCache(), expected.sha);
    expect(readFileSync(join(unpacked, '.verified'), 'utf8')).toBe(expected.sha);

    // The unpacked copy the next job would reuse is changed (one byte of task.mjs): that copy is
    // not run; the job unpacks the package again from the datastore (verified by its address).
    const taskMjs = join(unpacked, 'task.mjs');
    writeFileSync(taskMjs, flipByte(readFileSync(taskMjs), 2000));
    const marker2 = join(tmpRoot, 'marker-cache-tampered.txt');
    const again = await run(ds, marker2);
    expect(again.error?.message ?? again.status).toBe('succeeded');
    expect(markerLines(marker2)).toEqual(['start', 'end']);
    expect(sha256(readFileSync(taskMjs))).toBe(expected.manifest.files['task.mjs']);
    await ds.close();
  });

  test('issue 11 item 3: a package blob changed in the datastore between runs is replaced by the next run (which then succeeds)', async () => {
    // What a second run does with a tampered stored package: runFlow stores the package again,
    // and ArtifactStore.putBlob checks a stored copy before trusting it, so the next run repairs it.
    const root = join(tmpRoot, 'e2e-ds');
    const file = blobFile(root, expected.sha);
    writeFileSync(file, flipByte(readFileSync(file), 3000));
    rmSync(codeCache(), { recursive: true, force: true });
    const ds = createFsDatastore({ root });
    const marker = join(tmpRoot, 'marker-repaired.txt');
    const again = await run(ds, marker);
    expect(again.error?.message ?? again.status).toBe('succeeded');
    expect(markerLines(marker)).toEqual(['start', 'end']);
    expect(sha256(readFileSync(file))).toBe(expected.sha);
    await ds.close();
  });

  test('issue 11 item 3: a package blob changed after the run stored it and before the job fetched it is refused, no step code runs', async () => {
    // The bytes land changed in the datastore (as if changed there, or in transit): the datastore
    // the orchestrator writes through flips one byte of the package; jobs open the plain fs datastore.
    const root = join(tmpRoot, 'e2e-ds-tampered');
    mkdirSync(root, { recursive: true });
    const inner = createFsDatastore({ root });
    const packageKey = new ArtifactStore(inner, FLOW).blobKey(expected.sha);
    let tampered = 0;
    const ds = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'put')
          return (key: string, body: Uint8Array, options?: Parameters<Datastore['put']>[2]) => {
            if (key === packageKey) {
              tampered++;
              return target.put(key, flipByte(body, 4000), options);
            }
            return target.put(key, body, options);
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Datastore;
    rmSync(codeCache(), { recursive: true, force: true });
    const marker = join(tmpRoot, 'marker-blob-tampered.txt');
    const refused = await run(ds, marker);
    expect(tampered).toBe(1);
    expect(refused.status).toBe('failed');
    expect(refused.error?.code).toBe('INTEGRITY');
    expect(refused.error?.message).toContain("'code package'");
    expect(refused.error?.message).toContain(`sha256 ${expected.sha.slice(0, 12)}`);
    expect(markerLines(marker)).toEqual([]);
    // Nothing was unpacked for it.
    expect(existsSync(join(codeCache(), expected.sha))).toBe(false);
    const start = (await refused.metadata.listTasks({ flow: FLOW, runId: refused.runId, step: 'start' })).items[0]!;
    const attempts = await refused.metadata.listAttempts({ flow: FLOW, runId: refused.runId, taskId: start.taskId });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.error?.code).toBe('INTEGRITY');
    const ends = (await refused.metadata.listTasks({ flow: FLOW, runId: refused.runId, step: 'end' })).items;
    expect(ends.filter((t) => t.status === 'succeeded')).toEqual([]);
    await inner.close();
  });
});

/** Specifiers of the static `import ... from '...'`, `import '...'` and `export ... from '...'` statements at top level. */
function topLevelImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^(?:import|export)\b([^;'"`]*?)\bfrom\s*(["'])([^"']+)\2/gm)) out.push(m[3]!);
  for (const m of source.matchAll(/^import\s*(["'])([^"']+)\1/gm)) out.push(m[2]!);
  return out;
}

/** Folders where a package is installed in this workspace (pnpm's store layout, and hoisted). */
function installedPackageDirs(name: string): string[] {
  const dirs: string[] = [];
  const store = join(repoRoot, 'node_modules', '.pnpm');
  for (const entry of existsSync(store) ? readdirSync(store) : []) {
    if (!entry.startsWith(`${name.replace('/', '+')}@`)) continue;
    const dir = join(store, entry, 'node_modules', name);
    if (existsSync(join(dir, 'package.json'))) dirs.push(dir);
  }
  const hoisted = join(repoRoot, 'node_modules', name);
  if (existsSync(join(hoisted, 'package.json'))) dirs.push(hoisted);
  return dirs;
}

function isNativePackage(dir: string): boolean {
  if (existsSync(join(dir, 'binding.gyp'))) return true;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { gypfile?: boolean; binary?: unknown };
  return pkg.gypfile === true || pkg.binary !== undefined;
}
