/**
 * Issue 10 item 6: what a service author relies on. Every package is packed (`pnpm pack`), the
 * tarballs are installed with npm into a project outside the workspace, and then (a) a plain
 * `node app.mjs`, with no loader flags, imports `tributary` and runs a tsc-compiled flow with a
 * branch and a foreach, type-checked against the published declarations, and (b) that project's
 * `npx tributary run flow.ts` runs a TypeScript flow.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const PACKAGES = [
  'core',
  'adapters/compute-local',
  'adapters/datastore-fs',
  'adapters/metadata-sqlite',
  'adapters/metadata-postgres',
  'adapters/metadata-http',
  'adapters/environment-pypi',
  'adapters/environment-npm',
  'adapters/environment-conda',
  'service',
  'adapters/datastore-s3',
  'adapters/datastore-azure',
  'adapters/datastore-gcs',
  'conformance',
  'ui',
  'cli',
];
/** What the app installs: the distribution and what it depends on (the other adapters are optional). */
const INSTALLED = [
  'tributary',
  '@tributary/core',
  '@tributary/compute-local',
  '@tributary/datastore-fs',
  '@tributary/metadata-sqlite',
  '@tributary/metadata-http',
  '@tributary/environment-pypi',
  '@tributary/environment-npm',
  '@tributary/environment-conda',
  '@tributary/ui',
  // Optional: `tributary service` needs it.
  '@tributary/metadata-service',
];

const FLOW = `import { FlowSpec, param, step, type Inputs } from 'tributary';

export class ShopFlow extends FlowSpec {
  static readonly flowName = 'ShopFlow';
  @param({ default: 3 }) rounds!: number;
  declare prices: number[];
  declare doubled: number;
  declare total: number;
  declare tax: number;
  declare shipping: number;
  declare summary: string;

  @step start() {
    this.prices = [1, 2, 3, 4];
    this.next(this.fees, this.items);
  }
  @step fees() {
    this.shipping = 5;
    this.next(this.merge);
  }
  @step items() {
    this.next(this.double, { foreach: 'prices' });
  }
  @step async double() {
    await new Promise((r) => setTimeout(r, 5));
    this.doubled = this.input * 2 * this.rounds;
    this.next(this.sum);
  }
  @step sum(inputs: Inputs<ShopFlow>) {
    this.total = inputs.reduce((a, i) => a + i.doubled, 0);
    this.next(this.merge);
  }
  @step merge(inputs: Inputs<ShopFlow>) {
    this.tax = inputs.sum.total / 10;
    this.summary = \`total \${inputs.sum.total} + shipping \${inputs.fees.shipping} + tax \${this.tax}\`;
    this.next(this.end);
  }
  @step end() {
    console.log(this.summary);
  }
}
`;

const APP = `import { runFlow } from 'tributary';
import { ShopFlow } from './build/flow.js';

const run = await runFlow(ShopFlow, { home: process.argv[2], maxWorkers: 2 });
const data = await run.data('merge');
console.log(JSON.stringify({ status: run.status, flow: run.flow, summary: data.summary }));
`;

let work = '';
let app = '';
const env = {
  ...process.env,
  npm_config_nodedir: '/usr',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

function run(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tributary-pack-'));
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  // The published packages are the build: make sure it is current.
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'ignore' });
  for (const dir of PACKAGES) {
    const r = run('pnpm', ['pack', '--pack-destination', tarballs], join(root, dir));
    if (r.code !== 0) throw new Error(`pnpm pack in ${dir} failed: ${r.stderr}${r.stdout}`);
  }
  // pnpm names a tarball after the package: @tributary/core → tributary-core-<version>.tgz.
  const tarball = (name: string) => {
    const f = readdirSync(tarballs).find((t) => t.replace(/-\d+\.\d+\.\d+\.tgz$/, '') === name.replace(/^@/, '').replace('/', '-'));
    if (!f) throw new Error(`no tarball for ${name} in ${readdirSync(tarballs).join(', ')}`);
    return `file:${join(tarballs, f)}`;
  };
  app = join(work, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  const deps = Object.fromEntries(INSTALLED.map((n) => [n, tarball(n)]));
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'pack-install-app',
        private: true,
        type: 'module',
        dependencies: deps,
        // A Node service type-checks against Node's own types too (our declarations use node: modules).
        devDependencies: { '@types/node': '20.19.43' },
        overrides: deps,
      },
      null,
      2,
    ),
  );
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app, 900_000);
  if (install.code !== 0) throw new Error(`npm install failed: ${install.stderr}${install.stdout}`);
  writeFileSync(join(app, 'src', 'flow.ts'), FLOW);
  writeFileSync(join(app, 'flow.ts'), FLOW);
  writeFileSync(join(app, 'app.mjs'), APP);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        outDir: 'build',
        rootDir: 'src',
        skipLibCheck: false,
        types: ['node'],
        lib: ['ES2023', 'DOM'],
      },
      include: ['src'],
    }),
  );
}, 1_200_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('issue 10 item 6: the packed packages, installed with npm outside the workspace', () => {
  test('issue 10 item 6: the published packages carry JavaScript and declarations, and no TypeScript loader', () => {
    // What a user installs at run time (without dev dependencies): no loader, no test runner.
    const installed = JSON.parse(run('npm', ['ls', '--all', '--omit=dev', '--json'], app).stdout) as object;
    expect(JSON.stringify(installed)).not.toMatch(/"(tsx|vitest|fast-check|typescript)"/);
    for (const name of INSTALLED) expect(readdirSync(join(app, 'node_modules', name, 'dist')).length).toBeGreaterThan(0);
  });

  test('issue 10 item 6: a tsc-compiled flow type-checks against the published declarations and runs from plain `node app.mjs`', () => {
    const tsc = run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
    const r = run(process.execPath, ['app.mjs', join(work, 'home-a')], app);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toEqual({ status: 'succeeded', flow: 'ShopFlow', summary: 'total 60 + shipping 5 + tax 6' });
  });

  test('issue 10 item 6: `npx tributary run flow.ts` runs a TypeScript flow in that project', () => {
    const r = run(
      'npx',
      ['--no-install', 'tributary', 'run', 'flow.ts', '--rounds', '2', '--home', join(work, 'home-b'), '--no-progress'],
      app,
    );
    expect(r.stderr).toMatch(/Run ShopFlow\/\d+ succeeded/);
    expect(r.stdout).toContain('total 40 + shipping 5 + tax 4');
    expect(r.code).toBe(0);
  });

  test('issue 15: `npx tributary service` from the published packages, and a run recorded through it', async () => {
    const token = 'pack-install-token-0123456789';
    // The bin itself (not npx), so SIGTERM reaches the service.
    const bin = join(app, 'node_modules', 'tributary', 'bin', 'tributary.js');
    const service = spawn(process.execPath, [bin, 'service', '--port', '0', '--home', join(work, 'home-service')], {
      cwd: app,
      env: { ...env, TRIBUTARY_METADATA_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`no service URL in: ${text}`)), 60_000);
        const onData = (d: Buffer) => {
          text += d.toString();
          const m = /metadata service: (http:\/\/\S+)/.exec(text);
          if (m) (clearTimeout(timer), resolve(m[1]!));
        };
        service.stdout.on('data', onData);
        service.stderr.on('data', onData);
      });
      const r = spawnSync(
        'npx',
        [
          '--no-install',
          'tributary',
          'run',
          'flow.ts',
          '--rounds',
          '2',
          '--home',
          join(work, 'home-c'),
          '--metadata',
          url,
          '--no-progress',
        ],
        { cwd: app, env: { ...env, TRIBUTARY_METADATA_TOKEN: token }, encoding: 'utf8', timeout: 120_000 },
      );
      expect(r.stderr).toMatch(/Run ShopFlow\/\d+ succeeded/);
      expect(r.status).toBe(0);
      const runs = spawnSync('npx', ['--no-install', 'tributary', 'runs', 'ShopFlow', '--metadata', url, '--home', join(work, 'home-c')], {
        cwd: app,
        env: { ...env, TRIBUTARY_METADATA_TOKEN: token },
        encoding: 'utf8',
      });
      expect(runs.stdout).toMatch(/ShopFlow\/\d+ .*succeeded/);
    } finally {
      service.kill('SIGTERM');
    }
  });
});
