// The AWS Batch emulator, driven by the real @aws-sdk/client-batch over loopback HTTP (item 7) and
// cross-checked with a second, independent client, the botocore-based aws CLI (item 8).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BatchClient,
  CancelJobCommand,
  ClientException,
  DeregisterJobDefinitionCommand,
  DescribeComputeEnvironmentsCommand,
  DescribeJobDefinitionsCommand,
  DescribeJobQueuesCommand,
  DescribeJobsCommand,
  ListJobsCommand,
  ListTagsForResourceCommand,
  RegisterJobDefinitionCommand,
  ServerException,
  SubmitJobCommand,
  TerminateJobCommand,
  type JobDetail,
  type ListJobsCommandInput,
  type SubmitJobRequest,
} from '@aws-sdk/client-batch';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ARRAY_CHILD_FAILED,
  ATTEMPT_TIMEOUT,
  DEPENDENT_JOB_FAILED,
  ESSENTIAL_CONTAINER_EXITED,
  HOST_TERMINATED,
  OUT_OF_MEMORY,
  TASK_FAILED_TO_START,
  startBatchEmulator,
  type BatchEmulator,
} from '../src/testing/index.ts';

// The container's PATH is the emulator's, but an absolute path does not depend on it.
const NODE = process.execPath;
const sleeper = (ms: number) => [NODE, '-e', `setTimeout(() => {}, ${ms})`];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const terminal = (j: JobDetail) => j.status === 'SUCCEEDED' || j.status === 'FAILED';
let seq = 0;
const uniqueName = (prefix: string) => `${prefix}-${++seq}-${process.pid}`;

function clientFor(emu: BatchEmulator, extra: { maxAttempts?: number } = {}): BatchClient {
  return new BatchClient({ region: emu.region, endpoint: emu.endpoint, credentials: emu.credentials, ...extra });
}

/** Polls DescribeJobs until `done`, recording each status seen (in order, without repeats). */
async function until(client: BatchClient, jobId: string, done: (j: JobDetail) => boolean = terminal, timeoutMs = 10_000) {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
    if (job && seen.at(-1) !== job.status) seen.push(job.status!);
    if (job && done(job)) return { job, seen };
    if (Date.now() > deadline) throw new Error(`job ${jobId}: still ${seen.at(-1)} after ${timeoutMs} ms (seen ${seen.join(' → ')})`);
    await sleep(4);
  }
}

async function registerNodeDefinition(client: BatchClient, name: string, memory: string | null = '512') {
  const out = await client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: name,
      type: 'container',
      containerProperties: {
        image: 'public.ecr.aws/docker/library/node:20',
        command: [NODE, '-e', 'process.exit(0)'],
        environment: [{ name: 'FROM_DEFINITION', value: 'def' }],
        resourceRequirements: [{ type: 'VCPU', value: '1' }, ...(memory ? [{ type: 'MEMORY' as const, value: memory }] : [])],
      },
      propagateTags: true,
    }),
  );
  return out.jobDefinitionArn!;
}

async function submit(client: BatchClient, request: Partial<SubmitJobRequest> & { jobDefinition: string }) {
  const out = await client.send(new SubmitJobCommand({ jobName: uniqueName('job'), jobQueue: 'emu-queue', ...request }));
  return out.jobId!;
}

const ORDER = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'];
/** The statuses polled include `required` and never go backwards (a retry aside, which goes back to RUNNABLE). */
function expectStatuses(seen: string[], required: string[]) {
  expect(seen).toEqual(expect.arrayContaining(required));
  const ranks = seen.map((s) => ORDER.indexOf(s));
  expect(ranks, seen.join(' → ')).toEqual([...ranks].sort((a, b) => a - b));
}

const expectRejects = async (p: Promise<unknown>) => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should have failed').toBeDefined();
  return error as Error & { $metadata: { httpStatusCode?: number } };
};

describe('issue 12 item 7: the Batch emulator, through the real SDK', () => {
  let emu: BatchEmulator;
  let client: BatchClient;
  let definition: string;
  beforeAll(async () => {
    emu = await startBatchEmulator({ stepMs: 20 });
    client = clientFor(emu);
    definition = await registerNodeDefinition(client, 'emu-node');
  });
  afterAll(async () => {
    client?.destroy();
    await emu?.stop();
  });

  test('issue 12 item 7: job definitions get a new revision per registration; Describe by name, name:revision, ARN, status, pages', async () => {
    const register = () =>
      client.send(
        new RegisterJobDefinitionCommand({
          jobDefinitionName: 'defs-a',
          type: 'container',
          containerProperties: { image: 'busybox', command: ['true'] },
        }),
      );
    const [one, two] = [await register(), await register()];
    expect([one.revision, two.revision]).toEqual([1, 2]);
    expect(two.jobDefinitionArn).toBe('arn:aws:batch:us-east-1:123456789012:job-definition/defs-a:2');

    const byName = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: 'defs-a', status: 'ACTIVE' }));
    expect(byName.jobDefinitions?.map((d) => [d.revision, d.status, d.containerProperties?.image])).toEqual([
      [1, 'ACTIVE', 'busybox'],
      [2, 'ACTIVE', 'busybox'],
    ]);
    const byRef = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitions: ['defs-a:1', two.jobDefinitionArn!, 'nope:1'] }));
    expect(byRef.jobDefinitions?.map((d) => d.jobDefinitionArn)).toEqual([one.jobDefinitionArn, two.jobDefinitionArn]);
    const page1 = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: 'defs-a', maxResults: 1 }));
    const page2 = await client.send(
      new DescribeJobDefinitionsCommand({ jobDefinitionName: 'defs-a', maxResults: 1, nextToken: page1.nextToken }),
    );
    expect([page1.jobDefinitions?.[0]?.revision, page2.jobDefinitions?.[0]?.revision, page2.nextToken]).toEqual([1, 2, undefined]);

    // Deregistered: INACTIVE, not submittable; revisions are not reused, and the bare name means the latest ACTIVE one.
    await client.send(new DeregisterJobDefinitionCommand({ jobDefinition: two.jobDefinitionArn }));
    const active = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: 'defs-a', status: 'ACTIVE' }));
    expect(active.jobDefinitions?.map((d) => d.revision)).toEqual([1]);
    expect(await expectRejects(submit(client, { jobDefinition: 'defs-a:2' }))).toBeInstanceOf(ClientException);
    expect((await register()).revision).toBe(3);
    const id = await submit(client, { jobDefinition: 'defs-a' });
    expect((await client.send(new DescribeJobsCommand({ jobs: [id] }))).jobs?.[0]?.jobDefinition).toMatch(/defs-a:3$/);
    await client.send(new TerminateJobCommand({ jobId: id, reason: 'not needed' }));
  });

  test('issue 12 item 7: a job exits 3: FAILED with exitCode 3 and "Essential container in task exited"', async () => {
    const id = await submit(client, { jobDefinition: definition, containerOverrides: { command: [NODE, '-e', 'process.exit(3)'] } });
    const { job } = await until(client, id);
    expect(job).toMatchObject({ status: 'FAILED', statusReason: ESSENTIAL_CONTAINER_EXITED, container: { exitCode: 3 } });
    expect(job.container?.reason).toBeUndefined();
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([3]);
  });

  test('issue 12 item 7: a container that SIGKILLs itself exits 137 without OutOfMemoryError, memory requirement or not', async () => {
    const limited = await submit(client, {
      jobDefinition: definition,
      containerOverrides: { command: ['sh', '-c', 'kill -9 $$'], resourceRequirements: [{ type: 'MEMORY', value: '256' }] },
    });
    const noLimit = await registerNodeDefinition(client, 'emu-node-nomem', null);
    const plain = await submit(client, { jobDefinition: noLimit, containerOverrides: { command: ['sh', '-c', 'kill -9 $$'] } });
    const [{ job: a }, { job: b }] = await Promise.all([until(client, limited), until(client, plain)]);
    for (const job of [a, b]) {
      expect(job).toMatchObject({ status: 'FAILED', statusReason: ESSENTIAL_CONTAINER_EXITED, container: { exitCode: 137 } });
      expect(job.container?.reason).toBeUndefined();
    }
    expect(a.container?.resourceRequirements).toContainEqual({ type: 'MEMORY', value: '256' });
  });

  test('issue 12 item 7: a container that really outgrows its MEMORY requirement is killed: OutOfMemoryError (137)', async () => {
    const hog = [NODE, '-e', 'const b = Buffer.alloc(200 * 2 ** 20, 1); setTimeout(() => console.log(b.length), 20_000)'];
    const id = await submit(client, {
      jobDefinition: definition,
      containerOverrides: { command: hog, resourceRequirements: [{ type: 'MEMORY', value: '100' }] },
    });
    const { job } = await until(client, id);
    expect(job).toMatchObject({ status: 'FAILED', container: { exitCode: 137, reason: OUT_OF_MEMORY } });
  });

  test('issue 12 item 7: fault oom kills the attempt: exit 137, OutOfMemoryError', async () => {
    const jobName = uniqueName('fault-oom');
    emu.inject({ match: (j) => j.jobName === jobName, fault: 'oom', afterMs: 100 });
    const started = Date.now();
    const { job } = await until(
      client,
      await submit(client, { jobName, jobDefinition: definition, containerOverrides: { command: sleeper(20_000) } }),
    );
    expect(job).toMatchObject({
      status: 'FAILED',
      statusReason: ESSENTIAL_CONTAINER_EXITED,
      container: { exitCode: 137, reason: OUT_OF_MEMORY },
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('issue 12 item 7: fault spot is "Host EC2 … terminated." with no exit code, and evaluateOnExit can retry it', async () => {
    const jobName = uniqueName('fault-spot');
    emu.inject({ match: (j) => j.jobName === jobName, fault: 'spot', times: 1 });
    const id = await submit(client, {
      jobName,
      jobDefinition: definition,
      containerOverrides: { command: [NODE, '-e', 'setTimeout(() => {}, 300)'] },
      retryStrategy: {
        attempts: 3,
        evaluateOnExit: [
          { onStatusReason: 'Host EC2*', action: 'RETRY' },
          { onReason: '*', action: 'EXIT' },
        ],
      },
    });
    const { job } = await until(client, id);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.attempts).toHaveLength(2);
    expect(job.attempts?.[0]).toMatchObject({ statusReason: HOST_TERMINATED });
    expect(job.attempts?.[0]?.container?.exitCode).toBeUndefined();
    expect(job.attempts?.[1]).toMatchObject({ statusReason: ESSENTIAL_CONTAINER_EXITED, container: { exitCode: 0 } });
  });

  test('issue 12 item 7: fault host-terminated fails the job: no exit code, "Host EC2 … terminated."', async () => {
    const jobName = uniqueName('fault-host');
    emu.inject({ match: (j) => j.jobName === jobName, fault: 'host-terminated' });
    const { job } = await until(
      client,
      await submit(client, { jobName, jobDefinition: definition, containerOverrides: { command: sleeper(20_000) } }),
    );
    expect(job).toMatchObject({ status: 'FAILED', statusReason: HOST_TERMINATED });
    expect(job.container?.exitCode).toBeUndefined();
    expect(emu.running).toBe(0);
  });

  test('issue 12 item 7: fault image-pull fails before RUNNING: CannotPullContainerError, "Task failed to start"', async () => {
    const jobName = uniqueName('fault-pull');
    emu.inject({ match: (j) => j.jobName === jobName, fault: 'image-pull' });
    const { job, seen } = await until(client, await submit(client, { jobName, jobDefinition: definition }));
    expect(seen).not.toContain('RUNNING');
    expect(job).toMatchObject({ status: 'FAILED', statusReason: TASK_FAILED_TO_START });
    expect(job.container?.reason).toBe(
      'CannotPullContainerError: Error response from daemon: pull access denied for public.ecr.aws/docker/library/node:20',
    );
    expect(job.container?.exitCode).toBeUndefined();
    expect(job.attempts?.[0]?.startedAt).toBeUndefined();
    expect(job.startedAt).toBeUndefined();
  });

  test('issue 12 item 7: a command that does not exist fails to start: CannotStartContainerError, "Task failed to start"', async () => {
    const { job, seen } = await until(
      client,
      await submit(client, { jobDefinition: definition, containerOverrides: { command: ['no-such-command-xyz'] } }),
    );
    expect(seen).not.toContain('RUNNING');
    expect(job).toMatchObject({ status: 'FAILED', statusReason: TASK_FAILED_TO_START });
    expect(job.container?.reason).toMatch(/^CannotStartContainerError: .*exec: "no-such-command-xyz": executable file not found in \$PATH/);
    expect(job.container?.exitCode).toBeUndefined();
  });

  test('issue 12 item 7: fault stuck-runnable holds the job in RUNNABLE; TerminateJob there fails it without running', async () => {
    const jobName = uniqueName('fault-stuck');
    emu.inject({ match: (j) => j.jobName === jobName, fault: 'stuck-runnable' });
    const id = await submit(client, { jobName, jobDefinition: definition });
    await until(client, id, (j) => j.status === 'RUNNABLE');
    await sleep(300); // 15 steps
    expect((await client.send(new DescribeJobsCommand({ jobs: [id] }))).jobs?.[0]?.status).toBe('RUNNABLE');
    await client.send(new TerminateJobCommand({ jobId: id, reason: 'stuck: giving up' }));
    const { job } = await until(client, id);
    expect(job).toMatchObject({ status: 'FAILED', statusReason: 'stuck: giving up', attempts: [], isTerminated: true });
  });

  test('issue 12 item 7: timeout.attemptDurationSeconds kills the attempt: "Job attempt duration exceeded timeout", not retried', async () => {
    const started = Date.now();
    const id = await submit(client, {
      jobDefinition: definition,
      containerOverrides: { command: sleeper(20_000) },
      timeout: { attemptDurationSeconds: 1 },
      retryStrategy: { attempts: 2 },
    });
    const { job } = await until(client, id);
    expect(job).toMatchObject({ status: 'FAILED', statusReason: ATTEMPT_TIMEOUT });
    expect(job.container?.exitCode).toBeUndefined();
    expect(job.attempts).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('issue 12 item 7: TerminateJob while RUNNING stops the container: FAILED with the reason; CancelJob leaves a RUNNING job alone', async () => {
    const id = await submit(client, { jobDefinition: definition, containerOverrides: { command: sleeper(20_000) } });
    await until(client, id, (j) => j.status === 'RUNNING');
    // The real API: "Jobs that progressed to the STARTING or RUNNING state aren't canceled."
    await client.send(new CancelJobCommand({ jobId: id, reason: 'cancel is not enough' }));
    await sleep(100);
    expect((await client.send(new DescribeJobsCommand({ jobs: [id] }))).jobs?.[0]?.status).toBe('RUNNING');
    const stopping = Date.now();
    await client.send(new TerminateJobCommand({ jobId: id, reason: 'Metaflow initiated job termination.' }));
    const { job } = await until(client, id);
    expect(Date.now() - stopping).toBeLessThan(2_000);
    expect(job).toMatchObject({ status: 'FAILED', statusReason: 'Metaflow initiated job termination.', isTerminated: true });
    expect(job.attempts).toHaveLength(1);
    // Idempotent on a finished job.
    await client.send(new TerminateJobCommand({ jobId: id, reason: 'again' }));
    expect((await client.send(new DescribeJobsCommand({ jobs: [id] }))).jobs?.[0]?.statusReason).toBe(
      'Metaflow initiated job termination.',
    );
  });

  test('issue 12 item 7: retryStrategy: exits 1, 1, 0 → SUCCEEDED after 3 attempts; an EXIT rule stops at the first', async () => {
    const command = [NODE, '-e', "process.exit(process.env.AWS_BATCH_JOB_ATTEMPT === '3' ? 0 : 1)"];
    const retried = await submit(client, { jobDefinition: definition, containerOverrides: { command }, retryStrategy: { attempts: 3 } });
    const exited = await submit(client, {
      jobDefinition: definition,
      containerOverrides: { command },
      // The action is case-insensitive in the real API; the SDK's type only lists upper case.
      retryStrategy: { attempts: 3, evaluateOnExit: [{ onExitCode: '1', action: 'exit' as 'EXIT' }] },
    });
    const [{ job: a }, { job: b }] = await Promise.all([until(client, retried), until(client, exited)]);
    expect(a.status).toBe('SUCCEEDED');
    expect(a.attempts?.map((x) => x.container?.exitCode)).toEqual([1, 1, 0]);
    expect(new Set(a.attempts?.map((x) => x.container?.logStreamName)).size).toBe(3);
    expect(a.container?.exitCode).toBe(0);
    expect(b).toMatchObject({ status: 'FAILED', container: { exitCode: 1 } });
    expect(b.attempts).toHaveLength(1);
  });

  test('issue 12 item 7: dependsOn: PENDING until the dependency SUCCEEDED; FAILED "Dependent Job failed" if it failed', async () => {
    const first = await submit(client, { jobDefinition: definition, containerOverrides: { command: sleeper(200) } });
    const broken = await submit(client, { jobDefinition: definition, containerOverrides: { command: [NODE, '-e', 'process.exit(2)'] } });
    const after = await submit(client, { jobDefinition: definition, dependsOn: [{ jobId: first }] });
    const doomed = await submit(client, { jobDefinition: definition, dependsOn: [{ jobId: broken }] });
    const [{ job: a, seen }, { job: d }, { job: f }] = await Promise.all([
      until(client, after),
      until(client, doomed),
      until(client, first),
    ]);
    expectStatuses(seen, ['PENDING', 'SUCCEEDED']);
    expect(a.status).toBe('SUCCEEDED');
    expect(a.startedAt!).toBeGreaterThanOrEqual(f.stoppedAt!);
    expect(d).toMatchObject({ status: 'FAILED', statusReason: DEPENDENT_JOB_FAILED, attempts: [] });
  });

  test('issue 12 item 7: parameters fill Ref:: arguments of the definition command, submit values over defaults', async () => {
    const { jobDefinitionArn } = await client.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: 'emu-params',
        type: 'container',
        parameters: { greeting: 'hello', who: 'world' },
        containerProperties: {
          image: 'node',
          command: [NODE, '-e', 'console.log(process.argv.slice(1).join(" "))', 'Ref::greeting', 'Ref::who', 'Ref::none'],
        },
      }),
    );
    const id = await submit(client, { jobDefinition: jobDefinitionArn!, parameters: { who: 'batch' } });
    const { job } = await until(client, id);
    expect(job.status).toBe('SUCCEEDED');
    expect(emu.log(id)).toBe('hello batch Ref::none\n');
  });

  test('issue 12 item 7: bad input is a ClientException (400): 101 ids, unknown queue or definition, array size, missing or reserved fields', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `id-${i}`);
    const tooMany = await expectRejects(client.send(new DescribeJobsCommand({ jobs: ids })));
    expect(tooMany).toBeInstanceOf(ClientException);
    expect(tooMany.name).toBe('ClientException');
    expect(tooMany.$metadata.httpStatusCode).toBe(400);
    expect(tooMany.message).toMatch(/100/);
    expect((await client.send(new DescribeJobsCommand({ jobs: ids.slice(0, 100) }))).jobs).toEqual([]);
    const bad: Array<Partial<SubmitJobRequest>> = [
      { jobQueue: 'no-such-queue' },
      { jobDefinition: 'no-such-definition' },
      { arrayProperties: { size: 1 } },
      { arrayProperties: { size: 10_001 } },
      { jobName: 'has.dots' },
      { jobName: undefined },
      { containerOverrides: { environment: [{ name: 'AWS_BATCH_JOB_ID', value: 'x' }] } },
      { retryStrategy: { attempts: 11 } },
      { dependsOn: [{ jobId: 'no-such-job' }] },
    ];
    for (const request of bad) {
      const error = await expectRejects(submit(client, { jobDefinition: definition, ...request }));
      expect(error, JSON.stringify(request)).toBeInstanceOf(ClientException);
    }
    expect(await expectRejects(client.send(new TerminateJobCommand({ jobId: 'no-such-job', reason: 'x' })))).toBeInstanceOf(
      ClientException,
    );
  });

  test('issue 12 item 7: DescribeJobQueues → computeEnvironmentOrder → DescribeComputeEnvironments (EC2, maxvCpus), as Metaflow reads them', async () => {
    const queues = await client.send(new DescribeJobQueuesCommand({ jobQueues: ['emu-queue'] }));
    const queue = queues.jobQueues?.[0];
    expect(queue).toMatchObject({
      jobQueueName: 'emu-queue',
      jobQueueArn: 'arn:aws:batch:us-east-1:123456789012:job-queue/emu-queue',
      state: 'ENABLED',
      status: 'VALID',
    });
    const ce = queue?.computeEnvironmentOrder?.[0]?.computeEnvironment;
    const envs = await client.send(new DescribeComputeEnvironmentsCommand({ computeEnvironments: [ce!] }));
    expect(envs.computeEnvironments?.[0]).toMatchObject({
      computeEnvironmentName: 'emu-ce',
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus: 8 },
    });
    expect((await client.send(new DescribeJobQueuesCommand({ jobQueues: ['nope'] }))).jobQueues).toEqual([]);
  });

  test('issue 12 item 7: ListJobs by queue and status (default RUNNING), by JOB_NAME prefix filter (any status), in pages', async () => {
    const prefix = uniqueName('listed');
    const done = await submit(client, { jobName: `${prefix}-done`, jobDefinition: definition });
    await until(client, done);
    const running = await submit(client, {
      jobName: `${prefix}-running`,
      jobDefinition: definition,
      containerOverrides: { command: sleeper(20_000) },
    });
    await until(client, running, (j) => j.status === 'RUNNING');
    const ids = async (input: ListJobsCommandInput) => (await client.send(new ListJobsCommand(input))).jobSummaryList?.map((s) => s.jobId);
    expect(await ids({ jobQueue: 'emu-queue' })).toContain(running);
    expect(await ids({ jobQueue: 'emu-queue' })).not.toContain(done);
    expect(await ids({ jobQueue: 'emu-queue', jobStatus: 'SUCCEEDED' })).toContain(done);
    expect(await ids({ jobQueue: 'emu-queue', filters: [{ name: 'JOB_NAME', values: [`${prefix}*`] }] })).toEqual([running, done]);
    const page = await client.send(
      new ListJobsCommand({ jobQueue: 'emu-queue', filters: [{ name: 'JOB_NAME', values: [`${prefix}*`] }], maxResults: 1 }),
    );
    expect(page.jobSummaryList).toHaveLength(1);
    const rest = await client.send(
      new ListJobsCommand({
        jobQueue: 'emu-queue',
        filters: [{ name: 'JOB_NAME', values: [`${prefix}*`] }],
        maxResults: 1,
        nextToken: page.nextToken,
      }),
    );
    expect(rest.jobSummaryList?.[0]).toMatchObject({ jobId: done, status: 'SUCCEEDED', container: { exitCode: 0 } });
    await client.send(new TerminateJobCommand({ jobId: running, reason: 'done listing' }));
    await until(client, running);
  });

  test('issue 12 item 7: vanish: the job is absent from DescribeJobs (as if purged) and its container is killed', async () => {
    const id = await submit(client, { jobDefinition: definition, containerOverrides: { command: sleeper(20_000) } });
    await until(client, id, (j) => j.status === 'RUNNING');
    const before = emu.running;
    emu.vanish(id);
    expect((await client.send(new DescribeJobsCommand({ jobs: [id] }))).jobs).toEqual([]);
    for (let i = 0; i < 100 && emu.running >= before; i++) await sleep(10);
    expect(emu.running).toBeLessThan(before);
    expect(emu.jobs().some((j) => j.jobId === id)).toBe(false);
  });
});

describe('issue 12 item 7: a job in its container, step by step', () => {
  let emu: BatchEmulator;
  let client: BatchClient;
  beforeAll(async () => {
    emu = await startBatchEmulator({ stepMs: 20, containerEnv: { PLATFORM_ROLE: 'role-credentials', GREETING: 'overridden' } });
    client = clientFor(emu);
  });
  afterAll(async () => {
    client?.destroy();
    await emu?.stop();
  });

  test("issue 12 item 7: SUBMITTED → RUNNABLE → STARTING → RUNNING → SUCCEEDED; env is the declared one plus AWS_BATCH_* and the platform's, cwd empty", async () => {
    const definition = await registerNodeDefinition(client, 'emu-env');
    process.env.TRIBUTARY_EMU_LEAK = 'must not reach the container';
    const print = `console.log(JSON.stringify({ env: process.env, cwd: require('fs').readdirSync('.') })); setTimeout(() => {}, 100)`;
    let id: string;
    try {
      id = await submit(client, {
        jobDefinition: definition,
        containerOverrides: { command: [NODE, '-e', print], environment: [{ name: 'GREETING', value: 'hi' }] },
      });
    } finally {
      delete process.env.TRIBUTARY_EMU_LEAK;
    }
    const { job, seen } = await until(client, id);
    expectStatuses(seen, ['RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED']);
    expect(seen).not.toContain('PENDING');
    expect(job).toMatchObject({
      jobId: id,
      jobQueue: 'arn:aws:batch:us-east-1:123456789012:job-queue/emu-queue',
      jobDefinition: definition,
      statusReason: ESSENTIAL_CONTAINER_EXITED,
      container: {
        exitCode: 0,
        environment: [
          { name: 'FROM_DEFINITION', value: 'def' },
          { name: 'GREETING', value: 'hi' },
        ],
      },
    });
    expect(job.jobArn).toBe(`arn:aws:batch:us-east-1:123456789012:job/${id}`);
    expect(job.createdAt!).toBeLessThanOrEqual(job.startedAt!);
    expect(job.startedAt!).toBeLessThanOrEqual(job.stoppedAt!);
    expect(job.container?.logStreamName).toMatch(/^emu-env\/default\/[0-9a-f]{32}$/);
    expect(job.attempts).toEqual([expect.objectContaining({ startedAt: job.startedAt, statusReason: ESSENTIAL_CONTAINER_EXITED })]);

    const printed = JSON.parse(emu.log(id)!) as { env: Record<string, string>; cwd: string[] };
    expect(printed.cwd).toEqual([]);
    expect(printed.env).toMatchObject({
      PLATFORM_ROLE: 'role-credentials',
      FROM_DEFINITION: 'def',
      GREETING: 'hi',
      AWS_BATCH_JOB_ID: id,
      AWS_BATCH_JOB_ATTEMPT: '1',
      AWS_BATCH_JQ_NAME: 'emu-queue',
      AWS_BATCH_CE_NAME: 'emu-ce',
    });
    expect(printed.env.TRIBUTARY_EMU_LEAK).toBeUndefined();
    // The platform's variables are the container's, not the job's: not in any request or in DescribeJobs.
    expect(JSON.stringify([emu.received, emu.jobs()])).not.toContain('role-credentials');
    expect(printed.env.AWS_BATCH_JOB_ARRAY_INDEX).toBeUndefined();
    expect(Object.keys(printed.env).filter((k) => /^(AWS_ACCESS|VITEST|npm_)/.test(k))).toEqual([]);
  });
});

describe('issue 12 item 7: array jobs on a 2-vCPU compute environment', () => {
  let emu: BatchEmulator;
  let client: BatchClient;
  beforeAll(async () => {
    emu = await startBatchEmulator({ stepMs: 20, maxVcpus: 2 });
    client = clientFor(emu);
  });
  afterAll(async () => {
    client?.destroy();
    await emu?.stop();
  });

  test('issue 12 item 7: array of 5 (1 vCPU each): never more than 2 running, every index seen, child 3 fails → parent FAILED', async () => {
    const definition = await registerNodeDefinition(client, 'emu-array');
    const script = `const i = process.env.AWS_BATCH_JOB_ARRAY_INDEX; console.log(i, process.env.AWS_BATCH_JOB_ID); setTimeout(() => process.exit(i === '3' ? 1 : 0), 150)`;
    const id = await submit(client, {
      jobDefinition: definition,
      arrayProperties: { size: 5 },
      containerOverrides: { command: [NODE, '-e', script] },
    });
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, emu.running)), 2);
    let parentWhileRunning: JobDetail | undefined;
    const { job: parent, seen } = await until(client, id, (j) => {
      if (j.arrayProperties?.statusSummary?.RUNNING) parentWhileRunning ??= j;
      return terminal(j);
    });
    clearInterval(sampler);
    expect(most).toBe(2);
    expect(parentWhileRunning?.status).toBe('PENDING');
    expectStatuses(seen, ['PENDING', 'FAILED']);
    expect(seen.filter((s) => s !== 'SUBMITTED')).toEqual(['PENDING', 'FAILED']);
    expect(parent).toMatchObject({ status: 'FAILED', statusReason: ARRAY_CHILD_FAILED, arrayProperties: { size: 5 } });
    expect(parent.arrayProperties?.statusSummary).toMatchObject({ SUCCEEDED: 4, FAILED: 1, RUNNING: 0, RUNNABLE: 0 });

    const children = (await client.send(new DescribeJobsCommand({ jobs: [0, 1, 2, 3, 4].map((i) => `${id}:${i}`) }))).jobs!;
    expect(children.map((c) => [c.jobId, c.arrayProperties?.index, c.status, c.container?.exitCode])).toEqual([
      [`${id}:0`, 0, 'SUCCEEDED', 0],
      [`${id}:1`, 1, 'SUCCEEDED', 0],
      [`${id}:2`, 2, 'SUCCEEDED', 0],
      [`${id}:3`, 3, 'FAILED', 1],
      [`${id}:4`, 4, 'SUCCEEDED', 0],
    ]);
    expect([0, 1, 2, 3, 4].map((i) => emu.log(`${id}:${i}`))).toEqual([0, 1, 2, 3, 4].map((i) => `${i} ${id}:${i}\n`));
    const listed = await client.send(new ListJobsCommand({ arrayJobId: id, jobStatus: 'SUCCEEDED' }));
    expect(listed.jobSummaryList?.map((s) => s.arrayProperties?.index)).toEqual([0, 1, 2, 4]);
    // Children are listed only through arrayJobId.
    const inQueue = await client.send(new ListJobsCommand({ jobQueue: 'emu-queue', jobStatus: 'FAILED' }));
    expect(inQueue.jobSummaryList?.map((s) => s.jobId)).toEqual([id]);
  });

  test('issue 12 item 7: array children that all succeed make the parent SUCCEEDED; a 3-vCPU job never fits and stays RUNNABLE', async () => {
    const definition = await registerNodeDefinition(client, 'emu-array-ok');
    const id = await submit(client, { jobDefinition: definition, arrayProperties: { size: 3 } });
    const big = await submit(client, {
      jobDefinition: definition,
      containerOverrides: { resourceRequirements: [{ type: 'VCPU', value: '3' }] },
    });
    const { job } = await until(client, id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', arrayProperties: { size: 3, statusSummary: { SUCCEEDED: 3 } } });
    expect((await client.send(new DescribeJobsCommand({ jobs: [big] }))).jobs?.[0]?.status).toBe('RUNNABLE');
    await client.send(new TerminateJobCommand({ jobId: big, reason: 'too big' }));
  });

  test('issue 12 item 7: TerminateJob on an array parent terminates every child, running or RUNNABLE', async () => {
    const definition = await registerNodeDefinition(client, 'emu-array-stop');
    const id = await submit(client, {
      jobDefinition: definition,
      arrayProperties: { size: 3 },
      containerOverrides: { command: sleeper(20_000) },
    });
    await until(client, id, (j) => j.arrayProperties?.statusSummary?.RUNNING === 2);
    await client.send(new TerminateJobCommand({ jobId: id, reason: 'stop them all' }));
    const { job } = await until(client, id);
    expect(job).toMatchObject({ status: 'FAILED', statusReason: 'stop them all', arrayProperties: { statusSummary: { FAILED: 3 } } });
    const children = (await client.send(new DescribeJobsCommand({ jobs: [0, 1, 2].map((i) => `${id}:${i}`) }))).jobs!;
    expect(children.map((c) => [c.status, c.statusReason, c.attempts?.length])).toEqual([
      ['FAILED', 'stop them all', 1],
      ['FAILED', 'stop them all', 1],
      ['FAILED', 'stop them all', 0],
    ]);
    for (let i = 0; i < 100 && emu.running > 0; i++) await sleep(10);
    expect(emu.running).toBe(0);
  });
});

describe('issue 12 item 7: API faults and request accounting', () => {
  let emu: BatchEmulator;
  beforeAll(async () => {
    emu = await startBatchEmulator({ stepMs: 20 });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test('issue 12 item 7: failApi 429 is a throttling error with maxAttempts 1; the default retry strategy recovers', async () => {
    const once = clientFor(emu, { maxAttempts: 1 });
    const retrying = clientFor(emu);
    try {
      emu.resetCounts();
      emu.failApi({ status: 429, times: 1, operation: 'DescribeJobs' });
      const error = await expectRejects(once.send(new DescribeJobsCommand({ jobs: ['x'] })));
      expect(error.name).toBe('TooManyRequestsException');
      expect(error.message).toBe('Too Many Requests');
      expect(error.$metadata.httpStatusCode).toBe(429);

      emu.failApi({ status: 429, times: 1, operation: 'DescribeJobs' });
      expect((await retrying.send(new DescribeJobsCommand({ jobs: ['x'] }))).jobs).toEqual([]);
      expect(emu.requests.DescribeJobs).toBe(3);
    } finally {
      once.destroy();
      retrying.destroy();
    }
  });

  test('issue 12 item 7: failApi 500 is a ServerException; only the named operation fails', async () => {
    const once = clientFor(emu, { maxAttempts: 1 });
    try {
      emu.failApi({ status: 500, times: 1, operation: 'DescribeJobs' });
      expect((await once.send(new DescribeJobQueuesCommand({}))).jobQueues).toHaveLength(1);
      const error = await expectRejects(once.send(new DescribeJobsCommand({ jobs: ['x'] })));
      expect(error).toBeInstanceOf(ServerException);
      expect(error.$metadata.httpStatusCode).toBe(500);
      expect((await once.send(new DescribeJobsCommand({ jobs: ['x'] }))).jobs).toEqual([]);
    } finally {
      once.destroy();
    }
  });

  test('issue 12 item 7: requests are counted per operation and every body is kept as received', async () => {
    const client = clientFor(emu);
    try {
      const definition = await registerNodeDefinition(client, 'emu-count');
      emu.resetCounts();
      const id = await submit(client, { jobName: 'counted', jobDefinition: definition, tags: { app: 'tributary' } });
      await client.send(new DescribeJobsCommand({ jobs: [id] }));
      await client.send(new DescribeJobsCommand({ jobs: [id] }));
      expect(emu.requests).toEqual({ SubmitJob: 1, DescribeJobs: 2 });
      expect(emu.received[0]).toEqual({
        operation: 'SubmitJob',
        body: { jobName: 'counted', jobQueue: 'emu-queue', jobDefinition: definition, tags: { app: 'tributary' } },
      });
      expect(emu.received[1]).toEqual({ operation: 'DescribeJobs', body: { jobs: [id] } });
      const { job } = await until(client, id);
      // GET /v1/tags/{resourceArn}: the job's tags.
      expect((await client.send(new ListTagsForResourceCommand({ resourceArn: job.jobArn }))).tags).toEqual({ app: 'tributary' });
      expect(emu.requests.ListTagsForResource).toBe(1);
    } finally {
      client.destroy();
    }
  });
});

// The aws CLI (botocore) is a second client, written against the same service model independently of the JS SDK.
const aws = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
if (!aws) console.warn('issue 12 item 8: the aws CLI is not on PATH: skipping the cross-check against a second client');

describe.skipIf(!aws)('issue 12 item 8: the aws CLI sees what the SDK sees', () => {
  let emu: BatchEmulator;
  let client: BatchClient;
  let definition: string;
  let home: string;
  const run = promisify(execFile);
  const cli = async (...args: string[]) => {
    const { stdout } = await run(aws!, ['batch', ...args, '--endpoint-url', emu.endpoint, '--region', 'us-east-1', '--output', 'json'], {
      // Nothing of this machine's AWS setup: dummy keys, no config or credentials files, no instance metadata.
      env: {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? home,
        ...(process.env.PYENV_ROOT ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}),
        AWS_ACCESS_KEY_ID: emu.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: emu.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_PAGER: '',
      },
      timeout: 30_000,
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'emu-aws-home-'));
    emu = await startBatchEmulator({ stepMs: 20 });
    client = clientFor(emu);
    definition = await registerNodeDefinition(client, 'emu-cli');
  });
  afterAll(async () => {
    client?.destroy();
    await emu?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  test('issue 12 item 8: describe-jobs and list-jobs agree with the SDK; a job submitted by the CLI runs and the SDK sees it', async () => {
    const failed = await submit(client, { jobDefinition: definition, containerOverrides: { command: [NODE, '-e', 'process.exit(3)'] } });
    const succeeded = await submit(client, { jobDefinition: definition });
    const [{ job: sdkFailed }] = await Promise.all([until(client, failed), until(client, succeeded)]);

    const [described, listed, submitted] = await Promise.all([
      cli('describe-jobs', '--jobs', failed),
      cli('list-jobs', '--job-queue', 'emu-queue', '--job-status', 'SUCCEEDED'),
      cli(
        'submit-job',
        '--job-name',
        'from-cli',
        '--job-queue',
        'emu-queue',
        '--job-definition',
        'emu-cli',
        '--container-overrides',
        JSON.stringify({ command: [NODE, '-e', 'process.exit(0)'] }),
      ),
    ]);
    const cliJob = (described.jobs as JobDetail[])[0]!;
    expect([cliJob.status, cliJob.statusReason, cliJob.container?.exitCode]).toEqual([sdkFailed.status, sdkFailed.statusReason, 3]);
    expect(cliJob.stoppedAt).toBe(sdkFailed.stoppedAt);
    expect((listed.jobSummaryList as Array<{ jobId: string }>).map((s) => s.jobId)).toContain(succeeded);

    const cliId = submitted.jobId as string;
    expect(submitted).toMatchObject({ jobName: 'from-cli', jobArn: `arn:aws:batch:us-east-1:123456789012:job/${cliId}` });
    const { job } = await until(client, cliId);
    expect(job).toMatchObject({ jobName: 'from-cli', status: 'SUCCEEDED', container: { exitCode: 0 } });
    expect(emu.received.find((r) => r.operation === 'SubmitJob' && (r.body as { jobName?: string }).jobName === 'from-cli')).toBeDefined();
  });
});
