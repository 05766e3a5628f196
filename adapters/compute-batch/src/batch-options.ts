import { checkStepSettings, TributaryError, type BatchSettings, type SettingType } from '@tributary/core';

/** @public */
export interface BatchComputeOptions {
  /** Job queue name or ARN. Default `$TRIBUTARY_BATCH_QUEUE`. A step may name its own. */
  queue?: string;
  /** Image of task containers: Node 20 with the task bootstrap (`tributary bootstrap`) at `bootstrap`. A step may name its own. */
  image?: string;
  /** Path of the task bootstrap inside the image. Default `/opt/tributary/task.mjs`. */
  bootstrap?: string;
  /** The Node executable inside the image. Default `node`. */
  node?: string;
  /** IAM role of job containers (their access to the datastore). */
  iamRole?: string;
  executionRole?: string;
  /** AWS region. Default: the SDK's chain (`AWS_REGION`, profile). */
  region?: string;
  /** API endpoint (an emulator, a VPC endpoint). Default: the SDK's (`AWS_ENDPOINT_URL_BATCH`, ...). */
  endpoint?: string;
  /** Credentials of the orchestrator's Batch calls. Default: the SDK's chain (environment, profile, role). Never sent to jobs. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Fail an attempt still queued (SUBMITTED … STARTING) this long without progress (seconds) with `COMPUTE_UNSCHEDULABLE`. Default 600. */
  pendingTimeout?: number;
  /** Poll DescribeJobs this often (ms); up to 100 jobs per call. Default 1000. */
  pollMs?: number;
  /** Smallest `attemptDurationSeconds` sent (AWS Batch refuses less than 60). Default 60. */
  minAttemptDurationSeconds?: number;
  /** Prefix of job definition names (`<prefix>-<content hash>`). Default `tributary`. */
  definitionPrefix?: string;
  /** Tags added to every job. */
  tags?: Record<string, string>;
}

const SETTINGS: Record<keyof BatchSettings, SettingType> = {
  image: 'string',
  queue: 'string',
  iamRole: 'string',
  executionRole: 'string',
  cpu: 'number',
  memory: 'number',
  gpu: 'number',
  sharedMemory: 'number',
  pendingTimeout: 'number',
  tags: 'object',
};

/** The settings of `@batch` / `--with batch:...`, checked: a typo fails before any job starts. */
export function checkSettings(raw: Record<string, unknown> | undefined): BatchSettings {
  return checkStepSettings<BatchSettings>('@batch', SETTINGS, raw);
}

/** `batch://?queue=gpu&image=...&region=...&endpoint=...`, with `TRIBUTARY_BATCH_*` defaults. @public */
export function batchOptionsFromUrl(url: URL | string, env: NodeJS.ProcessEnv = process.env): BatchComputeOptions {
  const u = typeof url === 'string' ? new URL(url) : url;
  const q = (name: string, envName: string) => u.searchParams.get(name) ?? env[envName] ?? undefined;
  const o: BatchComputeOptions = {};
  const set = <K extends keyof BatchComputeOptions>(k: K, v: BatchComputeOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  const num = (name: string, envName: string) => {
    const v = q(name, envName);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n >= 0)) throw new TributaryError('CONFIG', `batch:// ${name} must be a number, not ${JSON.stringify(v)}.`);
    return n;
  };
  set('queue', q('queue', 'TRIBUTARY_BATCH_QUEUE'));
  set('image', q('image', 'TRIBUTARY_BATCH_IMAGE'));
  set('bootstrap', q('bootstrap', 'TRIBUTARY_BATCH_BOOTSTRAP'));
  set('node', q('node', 'TRIBUTARY_BATCH_NODE'));
  set('iamRole', q('iamRole', 'TRIBUTARY_BATCH_IAM_ROLE'));
  set('executionRole', q('executionRole', 'TRIBUTARY_BATCH_EXECUTION_ROLE'));
  set('region', q('region', 'TRIBUTARY_BATCH_REGION'));
  set('endpoint', q('endpoint', 'TRIBUTARY_BATCH_ENDPOINT'));
  set('pendingTimeout', num('pendingTimeout', 'TRIBUTARY_BATCH_PENDING_TIMEOUT'));
  set('pollMs', num('pollMs', 'TRIBUTARY_BATCH_POLL_MS'));
  set('minAttemptDurationSeconds', num('minAttemptDurationSeconds', 'TRIBUTARY_BATCH_MIN_ATTEMPT_SECONDS'));
  return o;
}
