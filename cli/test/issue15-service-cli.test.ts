import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Client, createSqliteMetadataStore, runFlow } from 'tributary';
import { TrainFlow } from '../../examples/train.ts';
import { bin, root, runCli } from './cli-process.ts';

/**
 * Issue 15: `tributary service` from the CLI, and flows run end to end with `--metadata http://…`
 * (CLI and library). The service keeps its store in its own home; the clients have homes of their
 * own for the datastore only, so every metadata read and write goes through HTTP.
 */

const TOKEN = 'cli-service-token-0123456789abcdef';
const base = mkdtempSync(join(tmpdir(), 'tributary-issue15-cli-'));
const serviceHome = join(base, 'service-home');
const datastore = `file://${join(base, 'datastore')}`;
let service: ChildProcess;
let url: string;
let serviceOut = '';

/** Start `tributary service`; resolves with its URL from its first line. */
function startService(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'service', '--port', '0', ...args], {
    cwd: root,
    env: { ...process.env, TRIBUTARY_DEBUG: '', TRIBUTARY_METADATA_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start: ${text}`)), 30_000);
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = /Tributary metadata service: (https?:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => text });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`service exited ${code}: ${text}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

beforeAll(async () => {
  const s = await startService(['--home', serviceHome], { TRIBUTARY_METADATA_TOKEN: TOKEN });
  service = s.child;
  url = s.url;
  s.child.stdout!.on('data', (d: Buffer) => (serviceOut += d.toString()));
});
afterAll(async () => {
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await exited(service);
  }
  rmSync(base, { recursive: true, force: true });
});

const client = (extra: string[] = []) => ['--metadata', url, '--datastore', datastore, ...extra];

describe('tributary service', () => {
  test('a flow runs end to end through the CLI with --metadata http://…; runs, dump and tag read and write through it', async () => {
    const home = join(base, 'cli-home');
    const run = runCli(home, ['run', 'examples/train.ts', ...client(['--no-progress'])], { TRIBUTARY_METADATA_TOKEN: TOKEN });
    expect(run.stderr).not.toMatch(/error|warning/i);
    expect(run.code).toBe(0);
    const output = run.stdout + run.stderr;
    expect(output).toContain('best alpha: 10');
    const pathspec = /Run (TrainFlow\/\d+) succeeded/.exec(output)![1]!;
    // The client's home holds no metadata: the service's store does.
    expect(existsSync(join(home, 'metadata.sqlite'))).toBe(false);
    const direct = createSqliteMetadataStore({ path: join(serviceHome, 'metadata.sqlite') });
    expect((await direct.getRun('TrainFlow', pathspec.split('/')[1]!)).status).toBe('succeeded');
    await direct.close();

    const runs = runCli(home, ['runs', 'TrainFlow', ...client()], { TRIBUTARY_METADATA_TOKEN: TOKEN });
    expect(runs.code).toBe(0);
    expect(runs.stdout).toContain(`${pathspec}  `);
    const dump = runCli(home, ['dump', `${pathspec}/end`, '--json', ...client()], { TRIBUTARY_METADATA_TOKEN: TOKEN });
    expect(dump.code).toBe(0);
    expect(JSON.parse(dump.stdout)).toMatchObject({
      pathspec: `${pathspec}/end/14`,
      status: 'succeeded',
      artifacts: { bestAlpha: { value: 10 } },
    });
    expect(runCli(home, ['tag', 'add', pathspec, 'via-http', ...client()], { TRIBUTARY_METADATA_TOKEN: TOKEN }).code).toBe(0);
    expect(runCli(home, ['tag', 'list', pathspec, ...client()], { TRIBUTARY_METADATA_TOKEN: TOKEN }).stdout).toContain('via-http');
  });

  test('without the token the CLI says so in words, exit 1, and nothing is written', async () => {
    const home = join(base, 'no-token');
    const direct = createSqliteMetadataStore({ path: join(serviceHome, 'metadata.sqlite') });
    const before = (await direct.listRuns({})).items.length;
    for (const env of [{}, { TRIBUTARY_METADATA_TOKEN: 'wrong-token-wrong-token-wrong' }]) {
      const r = runCli(home, ['run', 'examples/train.ts', ...client(['--no-progress'])], { TRIBUTARY_METADATA_TOKEN: '', ...env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error [UNAUTHORIZED]: The metadata service at ${url} refused the request.`);
      expect(r.stderr).toContain('set TRIBUTARY_METADATA_TOKEN to a token it accepts');
      expect(r.stderr).not.toContain('wrong-token');
      expect(r.stderr).not.toContain('    at ');
    }
    const runs = runCli(home, ['runs', 'TrainFlow', ...client()], { TRIBUTARY_METADATA_TOKEN: '' });
    expect(runs.code).toBe(1);
    expect(runs.stderr).toMatch(/^error \[UNAUTHORIZED\]/);
    expect((await direct.listRuns({})).items.length).toBe(before);
    await direct.close();
    expect(serviceOut).not.toContain(TOKEN);
  });

  test('the library: runFlow and Client.open with a metadata URL of the service', async () => {
    const before = process.env.TRIBUTARY_METADATA_TOKEN;
    process.env.TRIBUTARY_METADATA_TOKEN = TOKEN;
    try {
      const home = join(base, 'lib-home');
      const result = await runFlow(TrainFlow, { home, metadata: url, datastore });
      expect(result.status).toBe('succeeded');
      const c = await Client.open({ home, metadata: url, datastore, namespace: null });
      try {
        const run = await c.run<TrainFlow>(`TrainFlow/${result.runId}`);
        expect(run.status).toBe('succeeded');
        expect((await run.data()).bestAlpha).toBe(10);
        const fit = await run.step('fit');
        const tasks = [];
        for await (const t of fit.tasks()) tasks.push(t);
        expect(tasks).toHaveLength(10);
        expect(await tasks[0]!.artifact('validationMse').then((a) => a.get())).toEqual(expect.any(Number));
      } finally {
        await c.close();
      }
    } finally {
      if (before === undefined) delete process.env.TRIBUTARY_METADATA_TOKEN;
      else process.env.TRIBUTARY_METADATA_TOKEN = before;
    }
  });

  test('bad options are usage errors (exit 2); SIGTERM stops the service with exit 0 after in-flight requests', async () => {
    const home = join(base, 'opts');
    const short = runCli(home, ['service', '--token', 'short']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('at least 16 characters');
    const loop = runCli(home, ['service', '--metadata', 'http://127.0.0.1:1']);
    expect(loop.code).toBe(2);
    expect(loop.stderr).toContain('not another service');
    const half = runCli(home, ['service', '--tls-key', 'k.pem']);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('both --tls-key and --tls-cert');
    expect(runCli(home, ['service', '--help']).stdout).toContain('TRIBUTARY_METADATA_TOKEN');

    const s = await startService(['--home', join(base, 'second')], { TRIBUTARY_METADATA_TOKEN: TOKEN });
    expect(s.output()).toContain('1 token(s)');
    expect(await (await fetch(`${s.url}/ready`)).json()).toEqual({ status: 'ready' });
    s.child.kill('SIGTERM');
    expect(await exited(s.child)).toBe(0);
    expect(s.output()).toContain('stopped');
  });

  test('in front of a Postgres that accepts connections and never answers, calls get a 503 well within a client timeout', async () => {
    // A blackhole: it takes connections and says nothing (a hung or half-dead database).
    const sockets: Socket[] = [];
    const hole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const port = (hole.address() as { port: number }).port;
    const s = await startService(['--home', join(base, 'hole'), '--metadata', `postgres://postgres@127.0.0.1:${port}/db`], {
      TRIBUTARY_METADATA_TOKEN: TOKEN,
    });
    try {
      const res = await fetch(`${s.url}/v1/listFlows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: '{"args":[]}',
        // The HTTP store's default timeoutMs: the service must answer before a client gives up.
        signal: AbortSignal.timeout(30_000),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string; retryable: boolean } }).error).toMatchObject({
        code: 'INFRASTRUCTURE',
        retryable: true,
      });
    } finally {
      s.child.kill('SIGTERM');
      await exited(s.child);
      for (const k of sockets) k.destroy();
      hole.close();
    }
  });
});
