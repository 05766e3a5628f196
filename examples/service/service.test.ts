/**
 * examples/service end to end, as it is deployed: the packages' build is current, the service is
 * compiled by tsc against their published declarations, and `node examples/service/dist/server.js`
 * (plain Node: no loader, no export condition) serves real HTTP requests, trains in-process and
 * shuts down on SIGTERM.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const execFileAsync = promisify(execFile);

/** One `node examples/service/dist/server.js` process. */
class Service {
  stdout = '';
  stderr = '';
  base = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;

  constructor(home: string, env: Record<string, string> = {}) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    // Plain Node, whatever the test runner's own process was started with.
    delete childEnv.NODE_OPTIONS;
    delete childEnv.TRIBUTARY_PRODUCTION_TOKEN;
    delete childEnv.TRIBUTARY_HOME;
    this.child = spawn(process.execPath, ['examples/service/dist/server.js', '--port', '0', '--home', home], {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8').on('data', (t: string) => (this.stdout += t));
    this.child.stderr.setEncoding('utf8').on('data', (t: string) => (this.stderr += t));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async ready(): Promise<this> {
    this.base = await this.waitFor((out) => /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1], 'the port line');
    return this;
  }

  /** Resolves with what `find` finds in the service's stdout, once it does (checking what was printed already). */
  waitFor<T>(find: (out: string) => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find(this.stdout);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const onExit = () => reject(new Error(`the service exited before printing ${what}:\n${this.stdout}\n${this.stderr}`));
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${what} on stdout after ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout.off('data', check);
        this.child.off('exit', onExit);
      };
      if (check()) return;
      this.child.stdout.on('data', check);
      this.child.once('exit', onExit);
    });
  }

  /** The runs it logged as started, in order. */
  started(): string[] {
    return [...this.stdout.matchAll(/^training (\S+) started/gm)].map((m) => m[1]!);
  }

  async call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return { status: res.status, json: await res.json() };
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Stops it if a test failed before it exited (our own child, by its pid). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

const runNumber = (pathspec: string) => Number(pathspec.split('/')[1]);

let home = '';
const services: Service[] = [];
const start = async (env?: Record<string, string>) => {
  const s = new Service(home, env);
  services.push(s);
  return s.ready();
};

beforeAll(async () => {
  // The service imports the published build: make sure it is current, then compile the service.
  await execFileAsync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root });
  const tsc = await execFileAsync(join(root, 'node_modules/.bin/tsc'), ['-p', 'examples/service/tsconfig.json'], { cwd: root }).catch(
    (err: { stdout?: string; stderr?: string }) => {
      throw new Error(`tsc -p examples/service/tsconfig.json failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
  expect(tsc.stdout + tsc.stderr).toBe('');
  home = mkdtempSync(join(tmpdir(), 'tributary-service-'));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.kill()));
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('examples/service: a compiled Node service training in-process', () => {
  let service: Service;
  let first = '';
  let last = '';

  test('it starts on an ephemeral port, on the published build of tributary (dist/), not its sources', async () => {
    service = await start({ SHUTDOWN_GRACE_MS: '20000' });
    expect(service.stdout).toMatch(/tributary file:\/\/\S+\/cli\/dist\/index\.js$/m);
    expect(service.stdout).toContain('namespace production:model-service');
  });

  test('GET /model before any training is a 404 with a JSON error', async () => {
    const r = await service.call('GET', '/model');
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('NO_MODEL');
  });

  test('POST /train runs the flow and answers when the run has succeeded; GET /model serves its model', async () => {
    const r = await service.call('POST', '/train', JSON.stringify({ alpha: 0.3 }));
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ status: 'succeeded', params: { alpha: 0.3 } });
    expect(r.json.run).toMatch(/^RidgeTrainFlow\/\d+$/);
    expect(r.json.artifact.sha).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.score).toBeGreaterThan(0.5);
    first = r.json.run;

    const m = await service.call('GET', '/model');
    expect(m.status).toBe(200);
    expect(m.json.run).toBe(first);
    expect(m.json.artifact).toMatchObject({
      pathspec: `${first}/end/${m.json.artifact.pathspec.split('/')[3]}/model`,
      sha: r.json.artifact.sha,
    });
    expect(m.json.model).toMatchObject({ kind: 'ridge', alpha: 0.3, score: r.json.score });
    expect(m.json.model.weights).toHaveLength(12);
  });

  test('two concurrent POST /train get two runs; GET /model then serves the newer one', async () => {
    const [a, b] = await Promise.all([
      service.call('POST', '/train', JSON.stringify({ alpha: 10 })),
      service.call('POST', '/train', JSON.stringify({ alpha: 100, seed: 11 })),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect([a.json.status, b.json.status]).toEqual(['succeeded', 'succeeded']);
    expect(a.json.params).toMatchObject({ alpha: 10, seed: 7 });
    expect(b.json.params).toMatchObject({ alpha: 100, seed: 11 });
    expect(new Set([first, a.json.run, b.json.run]).size).toBe(3);
    expect(a.json.artifact.sha).not.toBe(b.json.artifact.sha);

    // Newest first is by run id: whichever of the two was recorded last.
    const newer = runNumber(a.json.run) > runNumber(b.json.run) ? a : b;
    expect(runNumber(newer.json.run)).toBeGreaterThan(runNumber(first));
    const m = await service.call('GET', '/model');
    expect(m.status).toBe(200);
    expect(m.json.run).toBe(newer.json.run);
    expect(m.json.artifact.sha).toBe(newer.json.artifact.sha);
    expect(m.json.model.alpha).toBe(newer.json.params.alpha);
    last = newer.json.run;
  });

  test('bad requests are 4xx with a JSON error, and start no run', async () => {
    const bad: Array<[string, number, string]> = [
      ['{"alpha": ', 400, 'INVALID_JSON'],
      ['[0.3]', 400, 'INVALID_BODY'],
      ['{"alpha": "a lot"}', 400, 'PARAM_INVALID'],
      ['{"alpha": -1}', 400, 'PARAM_INVALID'],
      ['{"rows": 10.5}', 400, 'PARAM_INVALID'],
      ['{"beta": 1}', 400, 'PARAM_INVALID'],
    ];
    for (const [body, status, code] of bad) {
      const r = await service.call('POST', '/train', body);
      expect([body, r.status, r.json.error?.code]).toEqual([body, status, code]);
    }
    expect((await service.call('GET', '/train')).status).toBe(405);
    expect((await service.call('GET', '/nothing')).status).toBe(404);
    expect((await service.call('GET', '/model')).json.run).toBe(last);
    expect(service.started()).toHaveLength(3);
  });

  test('SIGTERM while a training runs: the service waits for it, answers it, then exits 0', async () => {
    // ~1 s of training: SIGTERM arrives while it runs.
    const pending = service.call('POST', '/train', JSON.stringify({ alpha: 1, rows: 8000, features: 40 }));
    const run = await service.waitFor(
      (out) => /^training (\S+) started/m.exec(out.split(`training ${last} succeeded`)[1] ?? '')?.[1],
      'a run started',
    );
    service.signal('SIGTERM');
    const r = await pending;
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ run, status: 'succeeded' });
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.stdout).toMatch(/^SIGTERM: shutting down \(waiting up to 20000 ms for 1 training\(s\)\)$/m);
    expect(service.stdout).toMatch(/^stopped$/m);
    expect(service.stderr).toBe('');
    last = run;
  });

  test('restarted on the same home, it serves the same model; a second SIGTERM aborts a training (503) and it exits 0', async () => {
    service = await start();
    const m = await service.call('GET', '/model');
    expect(m.json.run).toBe(last);

    // ~3 s of training, aborted by the second signal.
    const pending = service.call('POST', '/train', JSON.stringify({ rows: 20000, features: 50 }));
    const run = await service.waitFor((out) => /^training (\S+) started/m.exec(out)?.[1], 'a run started');
    service.signal('SIGTERM');
    await service.waitFor((out) => /^SIGTERM: shutting down/m.exec(out)?.[0], 'the shutdown line');
    service.signal('SIGTERM');
    const r = await pending;
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: { code: 'ABORTED' }, run, status: 'aborted' });
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.stdout).toMatch(/^SIGTERM again: aborting trainings$/m);
    expect(service.stderr).toBe('');
  });
});
