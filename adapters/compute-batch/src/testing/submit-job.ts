/**
 * SubmitJob: the request is checked as strictly as the real service checks it (so an adapter bug
 * fails here rather than in production), then resolved against its definition into the job that
 * runs: the command after `Ref::` substitution, the merged environment and resources, and the
 * array children.
 */
import { randomUUID } from 'node:crypto';
import type {
  ContainerOverrides,
  ContainerProperties,
  JobStatus,
  KeyValuePair,
  ResourceRequirement,
  SubmitJobRequest,
  SubmitJobResponse,
} from '@aws-sdk/client-batch';
import { batchArn, findQueue, type EmulatedJob } from './model.ts';
import type { OperationContext } from './operations.ts';
import { clientError, requireString } from './protocol.ts';
import { validateRetryStrategy } from './retry-rules.ts';

// Real Batch: "up to 128 letters (uppercase and lowercase), numbers, hyphens, and underscores. The
// first character must be alphanumeric."
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function submitJob(ctx: OperationContext, req: SubmitJobRequest): SubmitJobResponse {
  const name = requireString(req.jobName, 'jobName');
  if (!JOB_NAME.test(name))
    throw clientError(`jobName ${name} must be 1-128 letters, numbers, hyphens or underscores, starting alphanumeric`);
  const queue = findQueue(ctx.world, requireString(req.jobQueue, 'jobQueue'));
  if (!queue) throw clientError(`Job queue ${req.jobQueue} does not exist`);
  const definition = ctx.definitions.resolve(requireString(req.jobDefinition, 'jobDefinition'));
  const properties = definition.containerProperties;
  if (definition.type !== 'container' || !properties) throw clientError('emulator: only container job definitions can run');
  validate(ctx, req);

  const overrides = req.containerOverrides ?? {};
  const resourceRequirements = mergeResources(properties, overrides);
  const memory = resourceRequirements.find((r) => r.type === 'MEMORY')?.value;
  const parameters = { ...definition.parameters, ...req.parameters };
  const id = randomUUID();
  const jobArn = batchArn(ctx.world, `job/${id}`);
  const base = {
    name,
    queue,
    definition,
    createdAt: Date.now(),
    command: substitute(overrides.command ?? properties.command ?? [], parameters),
    environment: mergeEnvironment(properties.environment, overrides.environment),
    resourceRequirements,
    vcpus: Number(resourceRequirements.find((r) => r.type === 'VCPU')?.value ?? 1),
    ...(memory !== undefined ? { memoryMiB: Number(memory) } : {}),
    parameters,
    ...optional('retryStrategy', req.retryStrategy ?? definition.retryStrategy),
    ...optional('timeout', req.timeout ?? definition.timeout),
    ...optional('tags', req.tags),
    ...optional('propagateTags', req.propagateTags ?? definition.propagateTags),
    dependsOn: req.dependsOn ?? [],
  };
  const fresh = () => ({
    status: 'SUBMITTED' as JobStatus,
    attempts: [],
    logs: [],
    isCancelled: false,
    isTerminated: false,
    eligible: false,
    stuck: false,
  });
  const size = req.arrayProperties?.size;
  const children: EmulatedJob[] = [];
  const job: EmulatedJob = { ...base, ...fresh(), id, arn: jobArn, ...(size !== undefined ? { children } : {}) };
  for (let index = 0; index < (size ?? 0); index++) {
    children.push({ ...base, ...fresh(), id: `${id}:${index}`, arn: `${jobArn}:${index}`, parent: job, index });
  }
  ctx.engine.submit(job);
  return { jobArn, jobName: name, jobId: id };
}

function validate(ctx: OperationContext, req: SubmitJobRequest): void {
  validateRetryStrategy(req.retryStrategy);
  const seconds = req.timeout?.attemptDurationSeconds;
  // Real Batch requires at least 60 s; 1 s is allowed so that timeout tests stay fast.
  if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < 1)) {
    throw clientError('timeout.attemptDurationSeconds must be a positive integer');
  }
  for (const variable of req.containerOverrides?.environment ?? []) {
    if (!variable.name) throw clientError('containerOverrides.environment entries need a name');
    // "Environment variables cannot start with AWS_BATCH. This naming convention is reserved."
    if (variable.name.startsWith('AWS_BATCH'))
      throw clientError(`Environment variable ${variable.name}: names starting with AWS_BATCH are reserved`);
  }
  const size = req.arrayProperties?.size;
  if (size !== undefined && (!Number.isInteger(size) || size < 2 || size > 10_000))
    throw clientError('arrayProperties.size must be between 2 and 10000');
  const dependsOn = req.dependsOn ?? [];
  // "A job can depend upon a maximum of 20 jobs."
  if (dependsOn.length > 20) throw clientError('A job can depend on at most 20 jobs');
  for (const d of dependsOn) {
    if (d.jobId !== undefined && !ctx.engine.get(d.jobId)) throw clientError(`Dependent job ${d.jobId} does not exist`);
  }
  for (const [key, value] of Object.entries(req.parameters ?? {})) {
    if (typeof value !== 'string') throw clientError(`parameters.${key} must be a string`);
  }
}

/** Real Batch replaces an argument that is exactly `Ref::name`, and leaves unknown names as they are. */
function substitute(command: string[], parameters: Record<string, string>): string[] {
  return command.map((a) => (a.startsWith('Ref::') && Object.hasOwn(parameters, a.slice(5)) ? parameters[a.slice(5)]! : a));
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The definition's requirements (and its legacy `vcpus`/`memory`), each type replaced by an override of that type. */
function mergeResources(properties: ContainerProperties, overrides: ContainerOverrides): ResourceRequirement[] {
  const byType = new Map<string, string>();
  const legacy = (source: { vcpus?: number | undefined; memory?: number | undefined }) => {
    if (source.vcpus !== undefined) byType.set('VCPU', String(source.vcpus));
    if (source.memory !== undefined) byType.set('MEMORY', String(source.memory));
  };
  legacy(properties);
  for (const r of properties.resourceRequirements ?? []) byType.set(String(r.type), String(r.value));
  legacy(overrides);
  for (const r of overrides.resourceRequirements ?? []) byType.set(String(r.type), String(r.value));
  for (const [type, value] of byType) {
    const n = Number(value);
    const ok =
      type === 'VCPU' ? n > 0 : type === 'MEMORY' ? Number.isInteger(n) && n >= 4 : type === 'GPU' ? Number.isInteger(n) && n >= 0 : false;
    if (!ok) throw clientError(`Invalid resource requirement ${type}=${value} (VCPU > 0, MEMORY integer MiB >= 4, GPU integer)`);
  }
  return [...byType].map(([type, value]) => ({ type, value }) as ResourceRequirement);
}

/** An override replaces the definition's variable of the same name. */
function mergeEnvironment(base: KeyValuePair[] | undefined, overrides: KeyValuePair[] | undefined): KeyValuePair[] {
  const byName = new Map<string, string>();
  for (const { name, value } of [...(base ?? []), ...(overrides ?? [])]) if (name) byName.set(name, value ?? '');
  return [...byName].map(([name, value]) => ({ name, value }));
}
