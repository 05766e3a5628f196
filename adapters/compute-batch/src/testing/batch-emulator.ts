/**
 * A wire-level AWS Batch API server for tests: the real `@aws-sdk/client-batch` (or the aws CLI)
 * talks to it over loopback HTTP, and every job attempt really runs its container command, as a
 * local process in an empty directory with only the declared environment (the shared container
 * runtime of `@tributary/conformance/testing`). There is no AWS Batch emulator to be had elsewhere:
 * moto and localstack are not installable here, and SDK mocks never put a byte on the wire.
 */
import type { JobDetail } from '@aws-sdk/client-batch';
import { createContainerRuntime, type ContainerRuntime } from '@tributary/conformance/testing';
import { JobDefinitionRegistry } from './definitions.ts';
import { ApiFaults, JobFaults, type ApiFaultRule, type FaultRule } from './faults.ts';
import { JobEngine } from './job-engine.ts';
import { batchArn, toJobDetail, type BatchWorld } from './model.ts';
import { createOperations } from './operations.ts';
import { serveBatchApi } from './protocol.ts';

/** @public */
export interface BatchEmulatorOptions {
  /** Time between SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING, ms. Default 20: small, but pollers do see each state. */
  stepMs?: number;
  /** Job queues, all on the one compute environment `emu-ce`. Default `['emu-queue']`. */
  queues?: string[];
  /** The compute environment's vCPUs: a job stays RUNNABLE until its VCPU requirement fits in what running jobs leave. Default 8. */
  maxVcpus?: number;
  /** Default `us-east-1`. */
  region?: string;
  /**
   * Variables every container gets from the platform rather than from its job, as a job role's
   * credentials reach a real container (e.g. the datastore's keys, `AWS_REGION`). They are not part
   * of any request or of DescribeJobs; a job's own environment overrides them.
   */
  containerEnv?: Record<string, string>;
  /** Runs the containers; default a fresh `createContainerRuntime()`, closed by `stop()`. One passed in is left open. */
  runtime?: ContainerRuntime;
}

/** @public */
export interface BatchEmulator {
  /** `http://127.0.0.1:<port>`: the `endpoint` of a BatchClient, `--endpoint-url` of the aws CLI. */
  endpoint: string;
  port: number;
  region: string;
  /** Dummies: signatures are not checked. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Requests received per operation (`SubmitJob`, `DescribeJobs`, …), failed ones included. */
  requests: Record<string, number>;
  /** Every request body as received, in order, for tests that check what was sent. */
  received: Array<{ operation: string; body: unknown }>;
  /** Empties `requests` and `received` (the same objects, so references stay valid). */
  resetCounts(): void;
  /** Every job, array children included, as DescribeJobs would show it, in submission order. */
  jobs(): JobDetail[];
  /** What a job's container printed: attempt `attempt` (1-based; default the last, or the one running). Undefined for an unknown job or attempt. */
  log(jobId: string, attempt?: number): string | undefined;
  /** Containers running now. */
  readonly running: number;
  /** Adds a fault for job attempts that start from now on; rules are tried in the order added. */
  inject(rule: FaultRule): void;
  /** Removes every job fault and API fault. */
  clearFaults(): void;
  /** Makes the next `times` requests (of `operation`, or of any) fail with 500 ServerException or 429 TooManyRequestsException. */
  failApi(rule: ApiFaultRule): void;
  /** The job disappears from DescribeJobs and ListJobs, as if purged; its container is killed. Throws for an unknown id. */
  vanish(jobId: string): void;
  /** Closes the server, stops every job and kills its container. */
  stop(): Promise<void>;
}

/** @public */
export async function startBatchEmulator(options: BatchEmulatorOptions = {}): Promise<BatchEmulator> {
  const region = options.region ?? 'us-east-1';
  const base: BatchWorld = { region, computeEnvironment: { name: 'emu-ce', arn: '', maxVcpus: options.maxVcpus ?? 8 }, queues: [] };
  const world: BatchWorld = {
    ...base,
    computeEnvironment: { ...base.computeEnvironment, arn: batchArn(base, 'compute-environment/emu-ce') },
    queues: (options.queues ?? ['emu-queue']).map((name) => ({ name, arn: batchArn(base, `job-queue/${name}`) })),
  };
  const runtime = options.runtime ?? createContainerRuntime();
  const jobFaults = new JobFaults();
  const apiFaults = new ApiFaults();
  const definitions = new JobDefinitionRegistry(batchArn(world, 'job-definition/'));
  const engine = new JobEngine({
    world,
    stepMs: options.stepMs ?? 20,
    runtime,
    faults: jobFaults,
    containerEnv: { ...options.containerEnv },
  });
  const operate = createOperations({ world, definitions, engine });
  const requests: Record<string, number> = {};
  const received: BatchEmulator['received'] = [];
  const server = await serveBatchApi({
    intercept(operation, body) {
      requests[operation] = (requests[operation] ?? 0) + 1;
      received.push({ operation, body });
      return apiFaults.take(operation);
    },
    handle: operate,
  });
  const endpoint = `http://127.0.0.1:${server.port}`;
  return {
    endpoint,
    port: server.port,
    region,
    credentials: { accessKeyId: 'AKIDEMULATOR', secretAccessKey: 'emulator-secret' },
    requests,
    received,
    resetCounts() {
      for (const key of Object.keys(requests)) delete requests[key];
      received.length = 0;
    },
    jobs: () => engine.all().map(toJobDetail),
    log(jobId, attempt) {
      const job = engine.get(jobId);
      if (!job) return undefined;
      if (attempt === undefined && job.current?.process) return job.current.process.log();
      if (attempt === job.logs.length + 1 && job.current?.process) return job.current.process.log();
      return job.logs[(attempt ?? job.logs.length) - 1];
    },
    get running() {
      return engine.running;
    },
    inject: (rule) => jobFaults.inject(rule),
    clearFaults() {
      jobFaults.clear();
      apiFaults.clear();
    },
    failApi: (rule) => apiFaults.add(rule),
    vanish(jobId) {
      const job = engine.get(jobId);
      if (!job) throw new TypeError(`vanish: no job ${jobId}`);
      engine.vanish(job);
    },
    async stop() {
      engine.close();
      await server.close();
      if (!options.runtime) await runtime.close();
    },
  };
}
