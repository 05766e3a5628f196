import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createContainerRuntime, type ContainerRuntime } from '../src/testing/index.ts';

const node = process.execPath;

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    // A zombie still answers signal 0: state Z in /proc/<pid>/stat (after the parenthesised name).
    return /\)\s+Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
let runtime: ContainerRuntime;
afterEach(async () => {
  await runtime?.close();
});

describe('container runtime', () => {
  it('runs in an empty directory with only the declared environment', async () => {
    runtime = createContainerRuntime();
    process.env.TRIBUTARY_HOST_SECRET = 'leak';
    try {
      const script = 'console.log(JSON.stringify({ env: process.env, cwd: process.cwd(), files: require("fs").readdirSync(".") }))';
      const ctr = runtime.run({ argv: [node, '-e', script], env: { GREETING: 'hi' } });
      expect(runtime.running).toBe(1);
      const exit = await ctr.exited;
      expect(exit).toMatchObject({ exitCode: 0, reason: 'exited', signal: null });
      const seen = JSON.parse(ctr.log()) as { env: Record<string, string>; cwd: string; files: string[] };
      expect(seen.env.GREETING).toBe('hi');
      expect(seen.env.TRIBUTARY_HOST_SECRET).toBeUndefined();
      expect(seen.env.HOME).toBe(seen.cwd);
      expect(seen.cwd).toMatch(/tributary-ctr-/);
      expect(seen.files).toEqual([]);
      expect(runtime.running).toBe(0);
    } finally {
      delete process.env.TRIBUTARY_HOST_SECRET;
    }
  });

  it('reports exit codes, output in order and streams it to listeners', async () => {
    runtime = createContainerRuntime();
    const ctr = runtime.run({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'], env: {} });
    const seen: string[] = [];
    ctr.onOutput((stream, text) => seen.push(`${stream}:${text}`));
    const exit = await ctr.exited;
    expect(exit.exitCode).toBe(3);
    expect(exit.reason).toBe('exited');
    expect(ctr.log()).toBe('out\nerr\n');
    expect(seen.join('')).toContain('stdout:out');
    expect(exit.finishedAt).toBeGreaterThanOrEqual(exit.startedAt);
  });

  it('issue 12 item 7: a container that SIGKILLs itself is a plain 137, memory limit or not (only the memory watch reports oom)', async () => {
    runtime = createContainerRuntime();
    const oom = await runtime.run({ argv: ['sh', '-c', 'kill -9 $$'], env: {}, memoryLimitMiB: 64 }).exited;
    expect(oom).toMatchObject({ exitCode: 137, signal: 'SIGKILL', reason: 'exited' });
    const plain = await runtime.run({ argv: ['sh', '-c', 'kill -9 $$'], env: {} }).exited;
    expect(plain).toMatchObject({ exitCode: 137, reason: 'exited' });
  });

  it('a container over its memory limit is killed and reported as an OOM; one under it is not', async () => {
    runtime = createContainerRuntime();
    const hog = 'const a = []; setInterval(() => a.push(Buffer.alloc(20e6, 1)), 10)';
    const t0 = Date.now();
    const over = await runtime.run({ argv: [node, '-e', hog], env: {}, memoryLimitMiB: 150 }).exited;
    expect(over).toMatchObject({ exitCode: 137, signal: 'SIGKILL', reason: 'oom' });
    expect(Date.now() - t0).toBeLessThan(5000);
    const under = await runtime.run({
      argv: [node, '-e', 'const b = Buffer.alloc(20e6, 1); setTimeout(() => console.log(b.length), 300)'],
      env: {},
      memoryLimitMiB: 400,
    }).exited;
    expect(under).toMatchObject({ exitCode: 0, reason: 'exited' });
    // The limit counts the whole tree: a child of `sh -c` that outgrows it is caught too.
    const child = await runtime.run({ argv: ['sh', '-c', `${node} -e '${hog}'`], env: {}, memoryLimitMiB: 150 }).exited;
    expect(child.reason).toBe('oom');
  });

  it('deadline, stop (with and without grace) and kill reach the whole group', async () => {
    runtime = createContainerRuntime();
    const deadline = await runtime.run({ argv: ['sh', '-c', 'sleep 30 & wait'], env: {}, deadlineMs: 100, memoryLimitMiB: 10 }).exited;
    expect(deadline).toMatchObject({ exitCode: 137, reason: 'deadline' });

    const graceful = runtime.run({ argv: ['sh', '-c', 'sleep 30'], env: {}, graceMs: 5000 });
    setTimeout(() => graceful.stop(), 50);
    expect(await graceful.exited).toMatchObject({ exitCode: 143, signal: 'SIGTERM', reason: 'stopped' });

    const hard = runtime.run({ argv: ['sh', '-c', 'trap "" TERM; sleep 30'], env: {} });
    setTimeout(() => hard.stop(), 50);
    expect(await hard.exited).toMatchObject({ exitCode: 137, reason: 'stopped' });

    const stubborn = runtime.run({ argv: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.05; done'], env: {}, graceMs: 150 });
    setTimeout(() => stubborn.stop(), 50);
    const t0 = Date.now();
    expect(await stubborn.exited).toMatchObject({ exitCode: 137, reason: 'stopped' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);

    const faulty = runtime.run({ argv: ['sleep', '30'], env: {}, memoryLimitMiB: 100 });
    faulty.kill();
    expect(await faulty.exited).toMatchObject({ exitCode: 137, reason: 'killed' });
    const oom = runtime.run({ argv: ['sleep', '30'], env: {} });
    oom.kill('oom');
    expect(await oom.exited).toMatchObject({ exitCode: 137, reason: 'oom' });
  });

  it('a missing executable exits 127 with the error in the log', async () => {
    runtime = createContainerRuntime();
    const ctr = runtime.run({ argv: ['no-such-binary-tributary'], env: {} });
    const exit = await ctr.exited;
    expect(exit).toMatchObject({ exitCode: 127, reason: 'exited' });
    expect(exit.startError).toMatch(/executable file not found/);
    expect(ctr.log()).toMatch(/no-such-binary-tributary.*ENOENT/);
    expect(runtime.running).toBe(0);
  });

  it('close() kills what runs (grandchildren too) and removes every working directory', async () => {
    runtime = createContainerRuntime();
    const done = runtime.run({ argv: ['sh', '-c', 'pwd'], env: {} });
    await done.exited;
    const dirDone = done.log().trim();
    const live = runtime.run({ argv: ['sh', '-c', 'sleep 30 & echo $!; wait'], env: {} });
    await new Promise<void>((resolve) => live.onOutput(() => resolve()));
    const grandchild = Number(live.log().trim());
    expect(runtime.running).toBe(1);
    await runtime.close();
    expect(await live.exited).toMatchObject({ reason: 'killed', exitCode: 137 });
    expect(existsSync(dirDone)).toBe(false);
    // Killed; it may linger a moment as a zombie until its new parent reaps it.
    await expect.poll(() => gone(grandchild), { timeout: 2000 }).toBe(true);
    expect(runtime.running).toBe(0);
    expect(() => runtime.run({ argv: ['true'], env: {} })).toThrow(/closed/);
  });
});
