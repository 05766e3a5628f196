/**
 * Job definitions: RegisterJobDefinition adds a revision per name (revisions are never reused, even
 * after deregistering); DeregisterJobDefinition marks one INACTIVE. SubmitJob names a definition by
 * name (its latest ACTIVE revision), `name:revision` or ARN.
 */
import type {
  DescribeJobDefinitionsResponse,
  JobDefinition,
  RegisterJobDefinitionRequest,
  RegisterJobDefinitionResponse,
} from '@aws-sdk/client-batch';
import { validateRetryStrategy } from './retry-rules.ts';
import { clientError, paginate } from './protocol.ts';

// Real Batch: "up to 128 letters (uppercase and lowercase), numbers, hyphens, and underscores".
const NAME = /^[A-Za-z0-9_-]{1,128}$/;

export class JobDefinitionRegistry {
  private readonly byName = new Map<string, JobDefinition[]>();

  /** @param arnPrefix - `arn:aws:batch:<region>:<account>:job-definition/` */
  constructor(private readonly arnPrefix: string) {}

  register(req: RegisterJobDefinitionRequest): RegisterJobDefinitionResponse {
    const name = req.jobDefinitionName;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw clientError('jobDefinitionName must be 1-128 letters, numbers, hyphens or underscores');
    }
    if (req.type !== 'container' && req.type !== 'multinode') throw clientError(`type must be container or multinode, got ${req.type}`);
    if (req.type === 'container' && !req.containerProperties?.image) throw clientError('containerProperties.image is required');
    validateRetryStrategy(req.retryStrategy);
    const revisions = this.byName.get(name) ?? [];
    const revision = revisions.length + 1;
    const jobDefinitionArn = `${this.arnPrefix}${name}:${revision}`;
    revisions.push({ ...req, jobDefinitionName: name, jobDefinitionArn, revision, status: 'ACTIVE', type: req.type });
    this.byName.set(name, revisions);
    return { jobDefinitionName: name, jobDefinitionArn, revision };
  }

  describe(req: {
    jobDefinitions?: string[];
    jobDefinitionName?: string;
    status?: string;
    maxResults?: number;
    nextToken?: string;
  }): DescribeJobDefinitionsResponse {
    let found: JobDefinition[];
    if (req.jobDefinitions !== undefined && req.jobDefinitions.length > 0) {
      if (req.jobDefinitions.length > 100) throw clientError('jobDefinitions takes at most 100 entries');
      // A bare name lists all its revisions; unknown entries are simply absent, as in DescribeJobs.
      found = req.jobDefinitions.flatMap((ref) =>
        ref.includes(':') ? [this.find(ref)].filter((d) => d !== undefined) : (this.byName.get(ref) ?? []),
      );
    } else if (req.jobDefinitionName !== undefined) {
      found = this.byName.get(req.jobDefinitionName) ?? [];
    } else {
      found = [...this.byName.values()].flat();
    }
    if (req.status !== undefined) found = found.filter((d) => d.status === req.status);
    const { page, nextToken } = paginate(found, req, { max: 100, default: 100 });
    return { jobDefinitions: page, ...(nextToken ? { nextToken } : {}) };
  }

  deregister(ref: unknown): void {
    const definition = typeof ref === 'string' ? this.find(ref) : undefined;
    if (!definition) throw clientError(`Job definition ${String(ref)} not found (give an ARN or name:revision)`);
    definition.status = 'INACTIVE';
  }

  /** The definition SubmitJob uses; throws ClientException if there is no ACTIVE one. */
  resolve(ref: string): JobDefinition {
    const definition = ref.includes(':') ? this.find(ref) : this.byName.get(ref)?.findLast((d) => d.status === 'ACTIVE');
    if (!definition || definition.status !== 'ACTIVE') throw clientError(`Job definition ${ref} does not exist or is not ACTIVE`);
    return definition;
  }

  /** By ARN or `name:revision`. */
  find(ref: string): JobDefinition | undefined {
    const short = ref.startsWith(this.arnPrefix) ? ref.slice(this.arnPrefix.length) : ref;
    const m = /^([^:]+):(\d+)$/.exec(short);
    if (!m) return undefined;
    return this.byName.get(m[1]!)?.find((d) => d.revision === Number(m[2]));
  }
}
