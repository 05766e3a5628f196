/**
 * The emulator's state of a job, and the views the API returns of it (JobDetail for DescribeJobs,
 * JobSummary for ListJobs) with the real API's field names and types; times are epoch ms.
 */
import type {
  AttemptDetail,
  JobDefinition,
  JobDependency,
  JobDetail,
  JobStatus,
  JobSummary,
  JobTimeout,
  KeyValuePair,
  ResourceRequirement,
  RetryStrategy,
} from '@aws-sdk/client-batch';
import type { ContainerProcess } from '@tributary/conformance/testing';
import type { FaultKind, PlannedFault } from './faults.ts';

export const ACCOUNT = '123456789012';

/** Where jobs run: one EC2 compute environment behind every queue. */
export interface BatchWorld {
  region: string;
  computeEnvironment: { name: string; arn: string; maxVcpus: number };
  queues: Array<{ name: string; arn: string }>;
}

export const batchArn = (world: BatchWorld, resource: string) => `arn:aws:batch:${world.region}:${ACCOUNT}:${resource}`;

export const findQueue = (world: BatchWorld, ref: unknown) => world.queues.find((q) => q.name === ref || q.arn === ref);

/** The attempt in progress: from STARTING until its container is gone. */
export interface Attempt {
  readonly taskArn: string;
  readonly containerInstanceArn: string;
  readonly logStreamName: string;
  readonly fault?: PlannedFault;
  startedAt?: number;
  process?: ContainerProcess;
  faultTimer?: NodeJS.Timeout;
  /** The kill fault that went off, if it did. */
  firedFault?: FaultKind;
  /** Set by TerminateJob: the attempt ends FAILED with this statusReason and is not retried. */
  stopReason?: string;
}

export interface EmulatedJob {
  readonly id: string;
  readonly arn: string;
  readonly name: string;
  readonly queue: { name: string; arn: string };
  readonly definition: JobDefinition;
  readonly createdAt: number;
  /** After `Ref::` substitution. */
  readonly command: string[];
  /** Definition environment, then overrides (an override replaces a variable of the same name). */
  readonly environment: KeyValuePair[];
  readonly resourceRequirements: ResourceRequirement[];
  readonly vcpus: number;
  readonly memoryMiB?: number;
  readonly parameters: Record<string, string>;
  readonly retryStrategy?: RetryStrategy;
  readonly timeout?: JobTimeout;
  readonly tags?: Record<string, string>;
  readonly propagateTags?: boolean;
  readonly dependsOn: JobDependency[];
  readonly parent?: EmulatedJob;
  readonly index?: number;
  readonly children?: EmulatedJob[];

  status: JobStatus;
  statusReason?: string;
  startedAt?: number;
  stoppedAt?: number;
  attempts: AttemptDetail[];
  current?: Attempt;
  /** Output of each finished attempt. */
  logs: string[];
  isCancelled: boolean;
  isTerminated: boolean;
  /** An array parent's statusReason once its children are done, when not the default (terminated, dependency failed). */
  endReason?: string;
  /** RUNNABLE for at least one step: it may start once capacity allows. */
  eligible: boolean;
  /** Held in RUNNABLE by a `stuck-runnable` fault. */
  stuck: boolean;
  /** The pending transition. */
  timer?: NodeJS.Timeout;
}

export const STATUSES: JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'];

export const isDone = (job: EmulatedJob) => job.status === 'SUCCEEDED' || job.status === 'FAILED';

/** The container fields of the attempt in progress, or else of the last one. */
function attemptContainer(job: EmulatedJob) {
  if (job.current) {
    const { taskArn, containerInstanceArn, logStreamName } = job.current;
    return { taskArn, containerInstanceArn, logStreamName };
  }
  return job.attempts.at(-1)?.container ?? {};
}

function arrayProperties(job: EmulatedJob) {
  if (job.index !== undefined) return { index: job.index };
  if (!job.children) return undefined;
  const statusSummary = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const child of job.children) statusSummary[child.status]!++;
  return { size: job.children.length, statusSummary, statusSummaryLastUpdatedAt: Date.now() };
}

export function toJobDetail(job: EmulatedJob): JobDetail {
  return {
    jobArn: job.arn,
    jobName: job.name,
    jobId: job.id,
    jobQueue: job.queue.arn,
    status: job.status,
    statusReason: job.statusReason,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    stoppedAt: job.stoppedAt,
    jobDefinition: job.definition.jobDefinitionArn,
    parameters: job.parameters,
    tags: job.tags,
    propagateTags: job.propagateTags,
    retryStrategy: job.retryStrategy,
    timeout: job.timeout,
    dependsOn: job.dependsOn,
    platformCapabilities: ['EC2'],
    container: {
      ...job.definition.containerProperties,
      command: job.command,
      environment: job.environment,
      resourceRequirements: job.resourceRequirements,
      networkInterfaces: [],
      // An array parent never runs a container of its own.
      ...(job.children ? {} : attemptContainer(job)),
    },
    attempts: job.attempts,
    arrayProperties: arrayProperties(job),
    isCancelled: job.isCancelled,
    isTerminated: job.isTerminated,
  };
}

export function toJobSummary(job: EmulatedJob): JobSummary {
  const last = job.children ? undefined : job.attempts.at(-1)?.container;
  const properties = arrayProperties(job);
  return {
    jobArn: job.arn,
    jobId: job.id,
    jobName: job.name,
    createdAt: job.createdAt,
    status: job.status,
    statusReason: job.statusReason,
    startedAt: job.startedAt,
    stoppedAt: job.stoppedAt,
    jobDefinition: job.definition.jobDefinitionArn,
    container: last && isDone(job) ? { exitCode: last.exitCode, reason: last.reason } : undefined,
    arrayProperties: properties && ('index' in properties ? properties : { size: properties.size }),
    isCancelled: job.isCancelled,
    isTerminated: job.isTerminated,
  };
}
