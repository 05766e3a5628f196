/**
 * The AWS Batch ComputeBackend: one SubmitJob per attempt (no retryStrategy: Tributary's
 * scheduler owns retries), one array job for the splits of a foreach, job definitions by content
 * hash (JobDefinitions), status by batched DescribeJobs (JobPoller), TerminateJob on cancel. The
 * task's output reaches `tributary logs` through the datastore, as on every backend.
 */
import { BatchClient, SubmitJobCommand, TerminateJobCommand } from '@aws-sdk/client-batch';
import {
  RemoteJob,
  TributaryError,
  withTransientRetry,
  type BatchSettings,
  type ComputeBackend,
  type ComputeCapabilities,
  type ComputeJob,
  type LaunchSpec,
} from '@tributary/core';
import { checkSettings, type BatchComputeOptions } from './batch-options.ts';
import { batchStatus } from './batch-status.ts';
import { JobDefinitions } from './job-definition.ts';
import { JobPoller } from './job-poller.ts';

const DEFAULTS = { cpu: 1, memory: 4096 };

function transient(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return /Throttl|TooManyRequests/i.test(e?.name ?? '') || status === 429 || (status !== undefined && status >= 500);
}

/** A Batch name: letters, digits, `-` and `_`, at most 128. */
function batchName(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 128) || 'tributary-task';
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

interface Submitted {
  id: string;
  children: RemoteJob[];
  cancelled: Set<number>;
  terminating?: Promise<void>;
}

/** @public */
export class BatchCompute implements ComputeBackend {
  readonly name = 'batch';
  readonly capabilities: ComputeCapabilities = {
    ipc: false,
    maxConcurrency: Number.POSITIVE_INFINITY,
    reportsOom: true,
    local: false,
    output: 'none',
  };
  readonly taskEntry: { command: string; args: string[] };
  readonly arrayIndexEnv = 'AWS_BATCH_JOB_ARRAY_INDEX';
  /** The SDK client (tests count its requests). */
  readonly client: BatchClient;
  private readonly definitions: JobDefinitions;
  private readonly poller: JobPoller;
  private readonly live = new Set<Submitted>();
  private closed = false;

  constructor(private readonly o: BatchComputeOptions = {}) {
    this.client = new BatchClient({
      ...(o.region ? { region: o.region } : {}),
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
    });
    this.definitions = new JobDefinitions(this.client, o.definitionPrefix ?? 'tributary');
    this.poller = new JobPoller(this.client, o.pollMs ?? 1000);
    this.taskEntry = { command: o.node ?? 'node', args: [o.bootstrap ?? '/opt/tributary/task.mjs'] };
  }

  async launch(spec: LaunchSpec, options: { signal?: AbortSignal } = {}): Promise<ComputeJob> {
    return (await this.submit(spec, undefined, options.signal))[0]!;
  }

  async launchArray(spec: LaunchSpec, size: number, options: { signal?: AbortSignal } = {}): Promise<ComputeJob[]> {
    // AWS Batch arrays have 2 to 10,000 children; a single split is an ordinary job.
    if (size === 1) return [await this.launch(spec, options)];
    if (!Number.isInteger(size) || size < 2 || size > 10_000)
      throw new TributaryError('COMPUTE_FAILED', `An AWS Batch array job has 2 to 10,000 children, not ${size}.`);
    return this.submit(spec, size, options.signal);
  }

  private async submit(spec: LaunchSpec, size: number | undefined, signal?: AbortSignal): Promise<RemoteJob[]> {
    if (this.closed) throw new TributaryError('CLOSED', 'The AWS Batch compute backend is closed.');
    const settings: BatchSettings = checkSettings(spec.settings);
    const queue = settings.queue ?? this.o.queue;
    const image = settings.image ?? this.o.image;
    if (!queue)
      throw new TributaryError(
        'CONFIG',
        `No job queue for ${spec.name} on AWS Batch: set @batch({ queue }), --with batch:queue=..., or TRIBUTARY_BATCH_QUEUE.`,
      );
    if (!image)
      throw new TributaryError(
        'CONFIG',
        `No image for ${spec.name} on AWS Batch: set @batch({ image }), --with batch:image=..., or TRIBUTARY_BATCH_IMAGE. It needs Node 20 and the task bootstrap (tributary bootstrap).`,
      );
    const r = spec.resources ?? {};
    const vcpus = Math.max(r.cpu ?? 0, settings.cpu ?? 0) || DEFAULTS.cpu;
    const memory = Math.ceil(Math.max(r.memory ?? 0, settings.memory ?? 0) || DEFAULTS.memory);
    const gpu = Math.ceil(Math.max(r.gpu ?? 0, settings.gpu ?? 0));
    const iamRole = settings.iamRole ?? this.o.iamRole;
    const executionRole = settings.executionRole ?? this.o.executionRole;
    const id = spec.identity;
    let jobId: string;
    try {
      const definition = await this.definitions.arnOf({
        image,
        command: [spec.command, ...spec.args.slice(0, 1)],
        vcpus,
        memory,
        ...(iamRole ? { jobRoleArn: iamRole } : {}),
        ...(executionRole ? { executionRoleArn: executionRole } : {}),
        ...(settings.sharedMemory ? { sharedMemory: settings.sharedMemory } : {}),
      });
      const timeout =
        spec.timeoutMs !== undefined
          ? { attemptDurationSeconds: Math.max(this.o.minAttemptDurationSeconds ?? 60, Math.ceil(spec.timeoutMs / 1000)) }
          : undefined;
      const out = await withTransientRetry(
        () =>
          this.client.send(
            new SubmitJobCommand({
              jobName: batchName(id ? `${id.flow}-${id.runId}-${id.step}-${id.taskId ?? 'array'}-${id.attempt}` : spec.name),
              jobQueue: queue,
              jobDefinition: definition,
              containerOverrides: {
                command: [spec.command, ...spec.args],
                environment: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
                resourceRequirements: [
                  { type: 'VCPU', value: String(vcpus) },
                  { type: 'MEMORY', value: String(memory) },
                  ...(gpu > 0 ? [{ type: 'GPU' as const, value: String(gpu) }] : []),
                ],
              },
              ...(size ? { arrayProperties: { size } } : {}),
              ...(timeout ? { timeout } : {}),
              ...(id
                ? {
                    parameters: {
                      'tributary.flow': id.flow,
                      'tributary.run_id': id.runId,
                      'tributary.step': id.step,
                      ...(id.taskId !== undefined ? { 'tributary.task_id': id.taskId } : {}),
                      'tributary.attempt': String(id.attempt),
                    },
                  }
                : {}),
              tags: {
                app: 'tributary',
                ...(id ? { 'tributary:flow': id.flow, 'tributary:run-id': id.runId, 'tributary:step': id.step } : {}),
                ...this.o.tags,
                ...settings.tags,
              },
              propagateTags: true,
            }),
          ),
        { isTransient: transient, ...(signal ? { signal } : {}) },
      );
      jobId = out.jobId!;
    } catch (err) {
      if (TributaryError.is(err)) throw err;
      if ((err as { name?: string })?.name === 'CredentialsProviderError')
        throw new TributaryError(
          'CONFIG',
          `No AWS credentials for AWS Batch (submitting ${spec.name}): set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role.`,
          { cause: err },
        );
      throw new TributaryError('COMPUTE_FAILED', `AWS Batch refused the job of ${spec.name}: ${describe(err)}`, { cause: err });
    }
    const pendingTimeoutMs = (settings.pendingTimeout ?? this.o.pendingTimeout ?? 600) * 1000;
    const submitted: Submitted = { id: jobId, children: [], cancelled: new Set() };
    const ids = size ? Array.from({ length: size }, (_, i) => `${jobId}:${i}`) : [jobId];
    submitted.children = ids.map(
      (childId, index) =>
        new RemoteJob({
          id: childId,
          service: 'AWS Batch',
          pendingTimeoutMs,
          terminate: (reason) => this.terminate(submitted, index, reason),
          onSettled: () => {
            this.poller.unfollow(childId);
            for (const sibling of submitted.children) sibling.resetPendingClock();
            if (submitted.children.every((c) => c.done)) this.live.delete(submitted);
          },
        }),
    );
    this.live.add(submitted);
    submitted.children.forEach((child, index) => {
      child.observe({ state: 'pending', reason: 'SUBMITTED' });
      this.poller.follow(ids[index]!, {
        onDetail: (job) => child.observe(batchStatus(job)),
        onMissing: () =>
          child.observe({ state: 'gone', message: `AWS Batch no longer knows job ${ids[index]} (purged or deleted outside Tributary).` }),
      });
    });
    if (signal?.aborted) for (const c of submitted.children) void c.cancel('the run stopped');
    return submitted.children;
  }

  /** Cancel one attempt: the whole (array) job when it is the last one going, else just that child. */
  private async terminate(s: Submitted, index: number, reason: string): Promise<void> {
    s.cancelled.add(index);
    // A run that stops cancels every attempt in one go: let the others register, then terminate once.
    await new Promise((resolve) => setImmediate(resolve));
    const others = s.children.filter((c, i) => i !== index && !c.done && !s.cancelled.has(i));
    const target = others.length === 0 || s.children.length === 1 ? s.id : `${s.id}:${index}`;
    const call = () =>
      withTransientRetry(
        () => this.client.send(new TerminateJobCommand({ jobId: target, reason: `Tributary: ${reason}`.slice(0, 1000) })),
        {
          isTransient: transient,
        },
      ).then(() => undefined);
    if (target === s.id) {
      s.terminating ??= call();
      await s.terminating;
    } else await call();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.live].flatMap((s) => s.children.map((c) => c.cancel('the compute backend closed'))));
    this.poller.stop();
    this.client.destroy();
  }
}

/** @public */
export function createBatchCompute(options: BatchComputeOptions = {}): BatchCompute {
  return new BatchCompute(options);
}
