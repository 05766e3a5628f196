import fc from 'fast-check';
import { describe, test } from 'vitest';
import type { ComputeBackend, ComputeJob, LaunchSpec } from '@tributary/core';
import { checkProperty, propertyParams, rejectsWith, skipReason, type PropertySettings } from '../common.ts';
import { computeModelProperty } from './compute-model.ts';

/** @public */
export interface ComputeConformanceOptions {
  name?: string;
  /** A fresh backend. */
  factory: () => ComputeBackend | Promise<ComputeBackend>;
  cleanup?: (backend: ComputeBackend) => void | Promise<void>;
  /**
   * The Node.js executable jobs can run (default: this process's). Remote backends pass the path
   * inside their job image.
   */
  node?: string;
  properties?: PropertySettings;
  /** Jobs launched at once by the concurrency test (default 20). */
  concurrentJobs?: number;
}

async function text(stream: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += Buffer.from(chunk).toString('utf8');
  return out;
}

/**
 * The ComputeBackend conformance suite: jobs are small Node.js scripts (`node -e ...`).
 * @public
 */
export function computeBackendConformance(options: ComputeConformanceOptions): void {
  const suite = `ComputeBackend conformance${options.name ? `: ${options.name}` : ''}`;
  const props = propertyParams(options.properties, 8);
  const node = options.node ?? process.execPath;
  const script = (name: string, code: string, extra: Partial<LaunchSpec> = {}): LaunchSpec => ({
    name,
    command: node,
    args: ['-e', code],
    ...extra,
  });

  async function withBackend(fn: (b: ComputeBackend) => Promise<void>): Promise<void> {
    const b = await options.factory();
    try {
      await fn(b);
    } finally {
      await b.close().catch(() => undefined);
      await options.cleanup?.(b);
    }
  }

  async function finished(job: ComputeJob) {
    const [stdout, stderr, result] = await Promise.all([text(job.stdout), text(job.stderr), job.result]);
    return { stdout, stderr, result };
  }

  describe(suite, () => {
    test('a job gets its arguments and environment; stdout and stderr are captured; exit 0 succeeds', ({ expect }) =>
      withBackend(async (b) => {
        const job = await b.launch({
          name: 'echo',
          command: node,
          args: ['-e', 'console.log(process.argv.slice(1).join("|")); console.error("to stderr " + process.env.TRIB_CONF)', 'a b', 'c'],
          env: { ...process.env, TRIB_CONF: 'value=42' } as Record<string, string>,
        });
        expect(typeof job.id).toBe('string');
        const { stdout, stderr, result } = await finished(job);
        const output = b.capabilities.output ?? 'separate';
        if (output === 'separate') {
          expect(stdout).toBe('a b|c\n');
          expect(stderr).toBe('to stderr value=42\n');
        } else if (output === 'combined') {
          // One stream, in order (a pod log): both lines, nothing else.
          expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['a b|c', 'to stderr value=42']);
          expect(stderr).toBe('');
        } else expect(stdout + stderr).toBe('');
        expect(result).toEqual({ status: 'succeeded', exitCode: 0, signal: null });
      }));

    test('a job gets no variable of the launching process but those its spec names', ({ expect }) =>
      withBackend(async (b) => {
        const secret = `conformance-secret-${process.pid}-${Date.now()}`;
        process.env.TRIB_CONF_SECRET = secret;
        process.env.TRIB_CONF_INHERIT = 'inherited';
        try {
          const job = await b.launch({
            name: 'env',
            command: node,
            args: ['-e', 'console.log(JSON.stringify(process.env))'],
            env: { TRIB_CONF_SET: 'set' },
            inheritEnv: ['TRIB_CONF_INHERIT'],
          });
          if (b.capabilities.output === 'none') {
            skipReason(suite, 'output', "capabilities.output is 'none': the job's environment cannot be read back here");
            return;
          }
          const { stdout, result } = await finished(job);
          expect(result.status).toBe('succeeded');
          const env = JSON.parse(stdout) as Record<string, string>;
          expect(stdout).not.toContain(secret);
          expect(env.TRIB_CONF_SET).toBe('set');
          // Copied by a backend whose jobs run on this host; a remote one ignores inheritEnv.
          if (b.capabilities.local) expect(env.TRIB_CONF_INHERIT).toBe('inherited');
        } finally {
          delete process.env.TRIB_CONF_SECRET;
          delete process.env.TRIB_CONF_INHERIT;
        }
      }));

    test('a non-zero exit is a typed NON_ZERO_EXIT failure with the code', ({ expect }) =>
      withBackend(async (b) => {
        const { result } = await finished(await b.launch(script('exit3', 'process.exit(3)')));
        expect(result).toMatchObject({ status: 'failed', exitCode: 3, failure: { kind: 'NON_ZERO_EXIT' } });
      }));

    test('a job killed by a signal is a typed KILLED failure', ({ expect }) =>
      withBackend(async (b) => {
        const { result } = await finished(await b.launch(script('sigkill', 'process.kill(process.pid, "SIGKILL")')));
        expect(result).toMatchObject({ status: 'failed', signal: 'SIGKILL', failure: { kind: 'KILLED' } });
      }));

    test('a job over its timeout is stopped and typed TIMEOUT', ({ expect }) =>
      withBackend(async (b) => {
        const t0 = Date.now();
        const { result } = await finished(await b.launch(script('sleeper', 'setTimeout(() => {}, 60000)', { timeoutMs: 300 })));
        expect(result).toMatchObject({ status: 'failed', failure: { kind: 'TIMEOUT' } });
        expect(Date.now() - t0).toBeLessThan(20_000);
      }));

    test('cancel stops a running job (CANCELLED) and is idempotent', ({ expect }) =>
      withBackend(async (b) => {
        const job = await b.launch(script('long', 'console.log("up"); setTimeout(() => {}, 60000)'));
        const out = text(job.stdout);
        await new Promise((r) => setTimeout(r, 300));
        await job.cancel('test');
        await job.cancel('again');
        const result = await job.result;
        expect(result).toMatchObject({ status: 'failed', failure: { kind: 'CANCELLED' } });
        await out;
        await job.cancel('after the end');
      }));

    test('many concurrent jobs each get their own output and exit code', ({ expect }) =>
      withBackend(async (b) => {
        const n = options.concurrentJobs ?? 20;
        const jobs = await Promise.all(
          Array.from({ length: n }, (_, i) => b.launch(script(`job${i}`, `console.log("job ${i}"); process.exit(${i % 4})`))),
        );
        const results = await Promise.all(jobs.map(finished));
        results.forEach((r, i) => {
          if (b.capabilities.output !== 'none') expect(r.stdout).toBe(`job ${i}\n`);
          expect(r.result.exitCode).toBe(i % 4);
          expect(r.result.status).toBe(i % 4 === 0 ? 'succeeded' : 'failed');
        });
      }));

    test('a command that cannot start rejects launch with COMPUTE_FAILED (a remote backend: or its job fails)', ({ expect }) =>
      withBackend(async (b) => {
        const launch = b.launch({ name: 'missing', command: '/nonexistent/tributary-no-such-binary', args: [] });
        if (b.capabilities.local) {
          await rejectsWith(launch, 'COMPUTE_FAILED');
          return;
        }
        // A remote backend learns of it only when the container starts: then the job fails.
        const job = await launch.catch((err: unknown) => err);
        if (!(job as ComputeJob).result) {
          await rejectsWith(Promise.reject(job), 'COMPUTE_FAILED');
          return;
        }
        expect((await (job as ComputeJob).result).status).toBe('failed');
      }));

    test('an IPC channel carries messages both ways (when capabilities.ipc)', async ({ expect, skip }) => {
      const b = await options.factory();
      try {
        if (!b.capabilities.ipc) {
          skipReason(suite, 'ipc', 'capabilities.ipc is false: the backend runs one task per job');
          skip();
        }
        const job = await b.launch(
          script('ipc', 'process.on("message", (m) => { process.send({ echo: m }); process.disconnect(); })', { ipc: true }),
        );
        const reply = new Promise((resolve) => job.channel!.onMessage(resolve));
        expect(job.channel!.send({ hello: [1, 2] })).toBe(true);
        expect(await reply).toEqual({ echo: { hello: [1, 2] } });
        expect((await job.result).status).toBe('succeeded');
      } finally {
        await b.close().catch(() => undefined);
        await options.cleanup?.(b);
      }
    });

    test('after close, launch rejects with CLOSED and running jobs are stopped', ({ expect }) =>
      withBackend(async (b) => {
        const job = await b.launch(script('orphan', 'setTimeout(() => {}, 60000)'));
        await b.close();
        expect((await job.result).status).toBe('failed');
        await rejectsWith(b.launch(script('late', '0')), 'CLOSED');
      }));

    test(`model-based: random launch/cancel/await sequences end as the model expects (${props.numRuns} runs, seed ${props.seed})`, () =>
      checkProperty(computeModelProperty(options.factory, node, options.cleanup), props));

    test(`property: exit status follows the exit code (${props.numRuns} runs, seed ${props.seed})`, () =>
      withBackend(async (b) => {
        await checkProperty(
          fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 20 }), async (code, msg) => {
            const { stdout, result } = await finished(
              await b.launch(script('p', `process.stdout.write(${JSON.stringify(msg)}); process.exitCode = ${code}`)),
            );
            if (b.capabilities.output !== 'none' && stdout !== msg)
              throw new Error(`stdout ${JSON.stringify(stdout)} != ${JSON.stringify(msg)}`);
            if (result.exitCode !== code || (result.status === 'succeeded') !== (code === 0))
              throw new Error(`exit ${code} gave ${JSON.stringify(result)}`);
          }),
          props,
        );
      }));
  });
}
