/**
 * The API operations other than SubmitJob (`submit-job.ts`): input checked as the real service
 * checks it, then answered from the definition registry and the job engine. Limits are cited from
 * the Batch API reference next to each check.
 */
import type { JobDefinition, JobStatus, KeyValuesPair, SubmitJobRequest } from '@aws-sdk/client-batch';
import type { JobDefinitionRegistry } from './definitions.ts';
import type { JobEngine } from './job-engine.ts';
import { ACCOUNT, STATUSES, findQueue, toJobDetail, toJobSummary, type BatchWorld, type EmulatedJob } from './model.ts';
import { clientError, paginate, requireString, type OperationName } from './protocol.ts';
import { submitJob } from './submit-job.ts';

export interface OperationContext {
  world: BatchWorld;
  definitions: JobDefinitionRegistry;
  engine: JobEngine;
}

type Body = Record<string, unknown>;

export function createOperations(ctx: OperationContext): (operation: OperationName, body: Body) => unknown {
  const table: Record<OperationName, (body: Body) => unknown> = {
    RegisterJobDefinition: (body) => ctx.definitions.register(body as never),
    DescribeJobDefinitions: (body) => ctx.definitions.describe(body),
    DeregisterJobDefinition: (body) => {
      ctx.definitions.deregister(body.jobDefinition);
      return {};
    },
    SubmitJob: (body) => submitJob(ctx, body as unknown as SubmitJobRequest),
    DescribeJobs: (body) => describeJobs(ctx, body),
    ListJobs: (body) => listJobs(ctx, body),
    TerminateJob: (body) => stopJob(ctx, body, 'terminate'),
    CancelJob: (body) => stopJob(ctx, body, 'cancel'),
    DescribeJobQueues: (body) => describeJobQueues(ctx, body),
    DescribeComputeEnvironments: (body) => describeComputeEnvironments(ctx, body),
    ListTagsForResource: (body) => listTags(ctx, String(body.resourceArn)),
  };
  return (operation, body) => table[operation](body);
}

function describeJobs(ctx: OperationContext, body: Body) {
  if (!Array.isArray(body.jobs)) throw clientError('jobs is required');
  // "A list of up to 100 job IDs."
  if (body.jobs.length > 100) throw clientError('jobs: a request can describe at most 100 jobs');
  // Unknown ids are simply absent from the answer, which is how a purged job looks.
  const ids = [...new Set(body.jobs.map(String))];
  return { jobs: ids.flatMap((id) => ctx.engine.get(id) ?? []).map(toJobDetail) };
}

function listJobs(ctx: OperationContext, body: Body) {
  let jobs: EmulatedJob[];
  if (body.arrayJobId !== undefined) {
    jobs = [...(ctx.engine.get(String(body.arrayJobId))?.children ?? [])];
  } else if (body.multiNodeJobId !== undefined) {
    jobs = [];
  } else if (body.jobQueue !== undefined) {
    const queue = findQueue(ctx.world, body.jobQueue);
    if (!queue) throw clientError(`Job queue ${String(body.jobQueue)} does not exist`);
    // Newest first; array children are listed only through arrayJobId.
    jobs = ctx.engine
      .all()
      .filter((j) => j.queue === queue && !j.parent)
      .reverse();
  } else {
    throw clientError('ListJobs needs one of jobQueue, arrayJobId or multiNodeJobId');
  }
  const filters = (body.filters ?? []) as KeyValuesPair[];
  if (filters.length > 0) {
    // "Only one filter can be used at a time. When the filter is used, jobStatus is ignored."
    if (filters.length > 1) throw clientError('Only one filter can be used at a time');
    jobs = jobs.filter(filterPredicate(filters[0]!));
  } else {
    const status = body.jobStatus ?? 'RUNNING';
    if (!STATUSES.includes(status as JobStatus)) throw clientError(`Invalid jobStatus ${String(status)}`);
    jobs = jobs.filter((j) => j.status === status);
  }
  const { page, nextToken } = paginate(jobs, body, { max: 1000, default: 100 });
  return { jobSummaryList: page.map(toJobSummary), ...(nextToken ? { nextToken } : {}) };
}

function filterPredicate(filter: KeyValuesPair): (job: EmulatedJob) => boolean {
  const value = filter.values?.[0];
  if (value === undefined) throw clientError(`Filter ${filter.name} needs a value`);
  const glob = (s: string | undefined) => (value.endsWith('*') ? (s ?? '').startsWith(value.slice(0, -1)) : s === value);
  switch (filter.name) {
    case 'JOB_NAME':
      return (j) => glob(j.name);
    case 'JOB_DEFINITION':
      return (j) =>
        [j.definition.jobDefinitionName, `${j.definition.jobDefinitionName}:${j.definition.revision}`, j.definition.jobDefinitionArn].some(
          glob,
        );
    case 'BEFORE_CREATED_AT':
      return (j) => j.createdAt < Number(value);
    case 'AFTER_CREATED_AT':
      return (j) => j.createdAt > Number(value);
    default:
      throw clientError(`Unknown filter ${filter.name}: use JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT or AFTER_CREATED_AT`);
  }
}

function stopJob(ctx: OperationContext, body: Body, how: 'terminate' | 'cancel') {
  const id = requireString(body.jobId, 'jobId');
  const reason = requireString(body.reason, 'reason');
  const job = ctx.engine.get(id);
  if (!job) throw clientError(`Job ${id} does not exist`);
  ctx.engine.terminate(job, reason, how);
  return {};
}

function describeJobQueues(ctx: OperationContext, body: Body) {
  const wanted = (body.jobQueues ?? []) as string[];
  const { world } = ctx;
  const queues = wanted.length === 0 ? world.queues : world.queues.filter((q) => wanted.includes(q.name) || wanted.includes(q.arn));
  const { page, nextToken } = paginate(queues, body, { max: 100, default: 100 });
  return {
    jobQueues: page.map((q) => ({
      jobQueueName: q.name,
      jobQueueArn: q.arn,
      state: 'ENABLED',
      status: 'VALID',
      statusReason: 'JobQueue Healthy',
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: world.computeEnvironment.arn }],
      jobQueueType: 'ECS',
      tags: {},
    })),
    ...(nextToken ? { nextToken } : {}),
  };
}

function describeComputeEnvironments(ctx: OperationContext, body: Body) {
  const wanted = (body.computeEnvironments ?? []) as string[];
  const ce = ctx.world.computeEnvironment;
  const all = wanted.length === 0 || wanted.includes(ce.name) || wanted.includes(ce.arn) ? [ce] : [];
  const { page, nextToken } = paginate(all, body, { max: 100, default: 100 });
  return {
    computeEnvironments: page.map((c) => ({
      computeEnvironmentName: c.name,
      computeEnvironmentArn: c.arn,
      ecsClusterArn: `arn:aws:ecs:${ctx.world.region}:${ACCOUNT}:cluster/${c.name}_Batch`,
      type: 'MANAGED',
      state: 'ENABLED',
      status: 'VALID',
      statusReason: 'ComputeEnvironment Healthy',
      containerOrchestrationType: 'ECS',
      computeResources: {
        type: 'EC2',
        allocationStrategy: 'BEST_FIT_PROGRESSIVE',
        minvCpus: 0,
        maxvCpus: c.maxVcpus,
        desiredvCpus: ctx.engine.usedVcpus,
        instanceTypes: ['optimal'],
        subnets: [],
        securityGroupIds: [],
        instanceRole: `arn:aws:iam::${ACCOUNT}:instance-profile/ecsInstanceRole`,
      },
      tags: {},
    })),
    ...(nextToken ? { nextToken } : {}),
  };
}

function listTags(ctx: OperationContext, resourceArn: string) {
  const job = ctx.engine.all().find((j) => j.arn === resourceArn);
  if (job) return { tags: job.tags ?? {} };
  const definition: JobDefinition | undefined = ctx.definitions.find(resourceArn);
  if (definition && definition.jobDefinitionArn === resourceArn) return { tags: definition.tags ?? {} };
  if (ctx.world.queues.some((q) => q.arn === resourceArn) || ctx.world.computeEnvironment.arn === resourceArn) return { tags: {} };
  throw clientError(`Resource ${resourceArn} does not exist`);
}
