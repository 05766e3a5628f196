// Issue 12, items 2 and 4: what an AWS Batch JobDetail means for its attempt (typed failures), job
// definitions named after their content, and the settings and backend options of @batch.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { TributaryError, type RemoteJobStatus } from '@tributary/core';
import { batchStatus } from '../src/batch-status.ts';
import { definitionRequest, type DefinitionInput } from '../src/job-definition.ts';
import { batchOptionsFromUrl, checkSettings } from '../src/batch-options.ts';

const JOB_ID = '8a4b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d';
const T = 1795743920550;

/** A JobDetail as DescribeJobs returns it (epoch-ms times), see /work/shared/notes/compute.md §4.2. */
function jobDetail(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    jobArn: `arn:aws:batch:us-east-1:123456789012:job/${JOB_ID}`,
    jobName: 'ada-TrainFlow-1700-train-3-0',
    jobId: JOB_ID,
    jobQueue: 'arn:aws:batch:us-east-1:123456789012:job-queue/gpu',
    status: 'SUBMITTED',
    createdAt: T,
    jobDefinition: 'arn:aws:batch:us-east-1:123456789012:job-definition/tributary-abc:1',
    parameters: {},
    tags: {},
    dependsOn: [],
    platformCapabilities: ['EC2'],
    ...over,
  };
}

function container(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: 'registry.example/tributary-task:1',
    command: ['node', '/opt/tributary/task.mjs'],
    environment: [],
    resourceRequirements: [
      { type: 'VCPU', value: '1' },
      { type: 'MEMORY', value: '4096' },
    ],
    logStreamName: 'tributary-abc/default/0123456789abcdef',
    taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/emu/0123456789abcdef',
    networkInterfaces: [],
    ...over,
  };
}

function failedJob(statusReason: string, c: Record<string, unknown>, attempts?: unknown[]): Record<string, unknown> {
  return jobDetail({
    status: 'FAILED',
    statusReason,
    startedAt: T + 5000,
    stoppedAt: T + 65_000,
    container: container(c),
    attempts: attempts ?? [
      { container: { ...c, logStreamName: 'x', taskArn: 'y' }, startedAt: T + 5000, stoppedAt: T + 65_000, statusReason },
    ],
  });
}

function failure(s: RemoteJobStatus): Extract<RemoteJobStatus, { state: 'failed' }> {
  expect(s.state).toBe('failed');
  return s as Extract<RemoteJobStatus, { state: 'failed' }>;
}

describe('batchStatus', () => {
  test.each(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING'])('issue 12 item 4: %s → pending, the reason names the status', (status) => {
    const s = batchStatus(jobDetail({ status }));
    expect(s.state).toBe('pending');
    expect((s as { reason?: string }).reason).toContain(status);
  });

  test('issue 12 item 4: a queued status reason is kept in the pending reason', () => {
    const s = batchStatus(
      jobDetail({ status: 'RUNNABLE', statusReason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no instance type fits' }),
    );
    expect(s).toEqual({ state: 'pending', reason: 'RUNNABLE: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no instance type fits' });
  });

  test('issue 12 item 4: RUNNING → running; SUCCEEDED → succeeded', () => {
    expect(batchStatus(jobDetail({ status: 'RUNNING', startedAt: T + 5000, container: container() }))).toEqual({ state: 'running' });
    expect(
      batchStatus(
        jobDetail({
          status: 'SUCCEEDED',
          statusReason: 'Essential container in task exited',
          startedAt: T + 5000,
          stoppedAt: T + 9000,
          container: container({ exitCode: 0 }),
          attempts: [{ container: { exitCode: 0 }, statusReason: 'Essential container in task exited' }],
        }),
      ),
    ).toEqual({ state: 'succeeded' });
  });

  test('issue 12 item 4: FAILED with container.reason OutOfMemoryError → COMPUTE_OOM', () => {
    const s = failure(
      batchStatus(
        failedJob('Essential container in task exited', {
          exitCode: 137,
          reason: 'OutOfMemoryError: Container killed due to memory usage',
        }),
      ),
    );
    expect(s.kind).toBe('COMPUTE_OOM');
    expect(s.exitCode).toBe(137);
    expect(s.message).toContain(JOB_ID);
    expect(s.message).toContain('memory');
  });

  test('issue 12 item 4: FAILED with statusReason "Host EC2 (instance i-0abc) terminated." → COMPUTE_PREEMPTED', () => {
    const s = failure(batchStatus(failedJob('Host EC2 (instance i-0abc) terminated.', {})));
    expect(s.kind).toBe('COMPUTE_PREEMPTED');
    expect(s.message).toContain('i-0abc');
    expect(s.exitCode).toBeNull();
  });

  test('issue 12 item 4: FAILED with "Job attempt duration exceeded timeout" → TIMEOUT', () => {
    const s = failure(batchStatus(failedJob('Job attempt duration exceeded timeout', {})));
    expect(s.kind).toBe('TIMEOUT');
    expect(s.exitCode).toBeNull();
  });

  test('issue 12 item 4: FAILED with container.reason CannotPullContainerError → COMPUTE_UNSCHEDULABLE', () => {
    const why =
      "CannotPullContainerError: Error response from daemon: pull access denied for registry.example/nope, repository does not exist or may require 'docker login'";
    const s = failure(batchStatus(failedJob('Task failed to start', { reason: why })));
    expect(s.kind).toBe('COMPUTE_UNSCHEDULABLE');
    expect(s.message).toContain('CannotPullContainerError');
  });

  test('issue 12 item 4: "Essential container in task exited" with exit code 1 → NON_ZERO_EXIT, exit 1', () => {
    const s = failure(batchStatus(failedJob('Essential container in task exited', { exitCode: 1 })));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBe(1);
    expect(s.message).toContain('exit code 1');
    expect(s.message).toContain('Essential container in task exited');
  });

  test('issue 12 item 4: the exit code is read from attempts[-1] when the job has no container (multi-node shape)', () => {
    const job = jobDetail({
      status: 'FAILED',
      statusReason: 'Essential container in task exited',
      attempts: [
        { container: { exitCode: 2, logStreamName: 'a' }, statusReason: 'Essential container in task exited' },
        { container: { exitCode: 1, logStreamName: 'b' }, statusReason: 'Essential container in task exited' },
      ],
    });
    const s = failure(batchStatus(job));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBe(1);
  });

  test('issue 12 item 4: OOM is recognised from attempts[-1] when the job has no container', () => {
    const job = jobDetail({
      status: 'FAILED',
      statusReason: 'Essential container in task exited',
      attempts: [{ container: { exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' } }],
    });
    expect(failure(batchStatus(job)).kind).toBe('COMPUTE_OOM');
  });

  // Regression (was a bug, fixed in the working tree): batch-status.ts reads `job.container ??
  // job.attempts.at(-1).container`, so a job whose `container` is present (image, command, resources) but has no exitCode
  // never looks at attempts[-1].
  test('issue 12 item 4: the exit code is read from attempts[-1] when the container lacks it', () => {
    const job = jobDetail({
      status: 'FAILED',
      statusReason: 'Essential container in task exited',
      container: container(),
      attempts: [{ container: { exitCode: 3, logStreamName: 'b' }, statusReason: 'Essential container in task exited' }],
    });
    const s = failure(batchStatus(job));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBe(3);
  });

  test('issue 12 item 4: a FAILED job with no reason at all is still a typed failure', () => {
    const s = failure(batchStatus(jobDetail({ status: 'FAILED' })));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBeNull();
  });

  test('issue 12 item 4: a job terminated by Tributary (TerminateJob reason) is a failure with that reason', () => {
    const s = failure(batchStatus(failedJob('Tributary cancelled the task', {})));
    expect(s.message).toContain('Tributary cancelled the task');
  });
});

const BASE: DefinitionInput = {
  image: 'registry.example/tributary-task:1',
  command: ['node', '/opt/tributary/task.mjs'],
  vcpus: 2,
  memory: 4096,
};

const NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;

describe('definitionRequest: one job definition per content', () => {
  test('issue 12 item 2: the same input gives the same name and request', () => {
    const a = definitionRequest('tributary', BASE);
    const b = definitionRequest('tributary', { ...BASE, command: [...BASE.command] });
    expect(a.name).toBe(b.name);
    expect(a.request).toEqual(b.request);
    expect(a.name).toMatch(NAME_RE);
    expect(a.name.startsWith('tributary-')).toBe(true);
  });

  test('issue 12 item 2: the request is a container definition with string VCPU/MEMORY requirements and propagateTags', () => {
    const { name, request } = definitionRequest('tributary', {
      ...BASE,
      vcpus: 0.25,
      jobRoleArn: 'arn:aws:iam::123456789012:role/task',
      executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
      sharedMemory: 1024,
    });
    expect(request.jobDefinitionName).toBe(name);
    expect(request.type).toBe('container');
    expect(request.propagateTags).toBe(true);
    const cp = request.containerProperties;
    expect(cp.image).toBe(BASE.image);
    expect(cp.command).toEqual(BASE.command);
    expect(cp.resourceRequirements).toEqual([
      { type: 'VCPU', value: '0.25' },
      { type: 'MEMORY', value: '4096' },
    ]);
    for (const r of cp.resourceRequirements) expect(typeof r.value).toBe('string');
    expect(cp.jobRoleArn).toBe('arn:aws:iam::123456789012:role/task');
    expect(cp.executionRoleArn).toBe('arn:aws:iam::123456789012:role/exec');
    expect(cp.linuxParameters).toEqual({ sharedMemorySize: 1024 });
    const plain = definitionRequest('tributary', BASE).request.containerProperties;
    expect(plain.jobRoleArn).toBeUndefined();
    expect(plain.executionRoleArn).toBeUndefined();
    expect(plain.linuxParameters).toBeUndefined();
  });

  test('issue 12 item 2: any field change gives another name', () => {
    const changes: Partial<DefinitionInput>[] = [
      { image: 'registry.example/tributary-task:2' },
      { command: ['node', '/opt/other.mjs'] },
      { vcpus: 4 },
      { memory: 8192 },
      { jobRoleArn: 'arn:aws:iam::123456789012:role/task' },
      { executionRoleArn: 'arn:aws:iam::123456789012:role/exec' },
      { sharedMemory: 64 },
    ];
    const names = new Set([definitionRequest('tributary', BASE).name]);
    for (const change of changes) names.add(definitionRequest('tributary', { ...BASE, ...change }).name);
    expect(names.size).toBe(changes.length + 1);
    expect(definitionRequest('other', BASE).name).not.toBe(definitionRequest('tributary', BASE).name);
  });

  const inputArb: fc.Arbitrary<DefinitionInput> = fc.record(
    {
      image: fc.oneof(
        fc.string({ minLength: 1 }),
        fc.constantFrom('public.ecr.aws/x/y:1', '123456789012.dkr.ecr.us-east-1.amazonaws.com/task@sha256:' + 'a'.repeat(64)),
      ),
      command: fc.array(fc.string(), { maxLength: 4 }),
      vcpus: fc.oneof(fc.integer({ min: 1, max: 96 }), fc.constantFrom(0.25, 0.5, 1, 2, 4)),
      memory: fc.integer({ min: 512, max: 1_000_000 }),
      jobRoleArn: fc.string(),
      executionRoleArn: fc.string(),
      sharedMemory: fc.integer({ min: 0, max: 100_000 }),
    },
    { requiredKeys: ['image', 'command', 'vcpus', 'memory'] },
  );

  test('issue 12 item 2: property: the name always matches ^[A-Za-z0-9_-]{1,128}$ and is stable', () => {
    fc.assert(
      fc.property(inputArb, (d) => {
        const { name, request } = definitionRequest('tributary', d);
        expect(name).toMatch(NAME_RE);
        expect(request.jobDefinitionName).toBe(name);
        expect(definitionRequest('tributary', structuredClone(d)).name).toBe(name);
      }),
      { numRuns: 500 },
    );
  });

  test('issue 12 item 2: property: two inputs share a name exactly when their requests are the same', () => {
    fc.assert(
      fc.property(inputArb, inputArb, (a, b) => {
        const ra = definitionRequest('tributary', a);
        const rb = definitionRequest('tributary', b);
        const { jobDefinitionName: _na, ...ca } = ra.request;
        const { jobDefinitionName: _nb, ...cb } = rb.request;
        expect(ra.name === rb.name).toBe(JSON.stringify(ca) === JSON.stringify(cb));
      }),
      { numRuns: 500 },
    );
  });
});

function configError(f: () => unknown): TributaryError {
  try {
    f();
  } catch (err) {
    expect(TributaryError.is(err, 'CONFIG')).toBe(true);
    return err as TributaryError;
  }
  throw new Error('did not throw');
}

describe('checkSettings (Batch)', () => {
  test('issue 12 item 2: valid settings come back as given', () => {
    const s = {
      image: 'i',
      queue: 'gpu',
      iamRole: 'arn:aws:iam::1:role/r',
      executionRole: 'arn:aws:iam::1:role/e',
      cpu: 0.5,
      memory: 16384,
      gpu: 1,
      sharedMemory: 512,
      pendingTimeout: 300,
      tags: { team: 'ranking' },
    };
    expect(checkSettings(s)).toEqual(s);
    expect(checkSettings(undefined)).toEqual({});
  });

  test('issue 12 item 2: an unknown key is a CONFIG error naming it and listing the settings', () => {
    const err = configError(() => checkSettings({ namespace: 'ml' }));
    expect(err.message).toContain('"namespace"');
    expect(err.message).toContain('queue');
  });

  test('issue 12 item 2: wrong types and negative numbers are CONFIG errors', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ queue: 3 }, 'queue'],
      [{ memory: '16384' }, 'memory'],
      [{ tags: ['a'] }, 'tags'],
      [{ tags: null }, 'tags'],
      [{ cpu: -2 }, 'cpu'],
      [{ gpu: Number.NaN }, 'gpu'],
    ];
    for (const [settings, key] of cases) expect(configError(() => checkSettings(settings)).message).toContain(key);
  });
});

describe('batchOptionsFromUrl', () => {
  test('issue 12 item 2: the query gives the options, numbers parsed', () => {
    expect(
      batchOptionsFromUrl(
        'batch://?queue=gpu&image=reg/img:1&region=eu-west-1&endpoint=http://127.0.0.1:4566&pendingTimeout=300&pollMs=250&minAttemptDurationSeconds=60&iamRole=r&executionRole=e&bootstrap=/b.mjs&node=node',
        {},
      ),
    ).toEqual({
      queue: 'gpu',
      image: 'reg/img:1',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
      pendingTimeout: 300,
      pollMs: 250,
      minAttemptDurationSeconds: 60,
      iamRole: 'r',
      executionRole: 'e',
      bootstrap: '/b.mjs',
      node: 'node',
    });
  });

  test('issue 12 item 2: TRIBUTARY_BATCH_* fill in what the query does not say; the query wins', () => {
    const env = {
      TRIBUTARY_BATCH_QUEUE: 'env-queue',
      TRIBUTARY_BATCH_IMAGE: 'env/img:1',
      TRIBUTARY_BATCH_REGION: 'us-west-2',
      TRIBUTARY_BATCH_ENDPOINT: 'http://localhost:1',
      TRIBUTARY_BATCH_IAM_ROLE: 'env-role',
      TRIBUTARY_BATCH_EXECUTION_ROLE: 'env-exec',
      TRIBUTARY_BATCH_PENDING_TIMEOUT: '120',
      TRIBUTARY_BATCH_POLL_MS: '500',
      TRIBUTARY_BATCH_MIN_ATTEMPT_SECONDS: '90',
      TRIBUTARY_BATCH_BOOTSTRAP: '/env.mjs',
      TRIBUTARY_BATCH_NODE: '/usr/bin/node',
    };
    expect(batchOptionsFromUrl(new URL('batch://?queue=gpu&pollMs=100'), env)).toEqual({
      queue: 'gpu',
      image: 'env/img:1',
      region: 'us-west-2',
      endpoint: 'http://localhost:1',
      iamRole: 'env-role',
      executionRole: 'env-exec',
      pendingTimeout: 120,
      pollMs: 100,
      minAttemptDurationSeconds: 90,
      bootstrap: '/env.mjs',
      node: '/usr/bin/node',
    });
    expect(batchOptionsFromUrl('batch://', {})).toEqual({});
  });

  test('issue 12 item 2: a number option that is not a number is a CONFIG error', () => {
    expect(configError(() => batchOptionsFromUrl('batch://?pendingTimeout=soon', {})).message).toContain('pendingTimeout');
    configError(() => batchOptionsFromUrl('batch://?pollMs=-1', {}));
    configError(() => batchOptionsFromUrl('batch://', { TRIBUTARY_BATCH_MIN_ATTEMPT_SECONDS: 'x' }));
  });
});
