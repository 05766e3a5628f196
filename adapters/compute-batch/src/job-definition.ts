/**
 * Job definitions are registered once per content: the definition of an (image, resources,
 * roles) combination is named after its hash, found with DescribeJobDefinitions and registered
 * only when absent, then reused by every job of it (by this process and by later ones).
 */
import { createHash } from 'node:crypto';
import { DescribeJobDefinitionsCommand, RegisterJobDefinitionCommand, type BatchClient } from '@aws-sdk/client-batch';

export interface DefinitionInput {
  image: string;
  command: string[];
  vcpus: number;
  memory: number;
  jobRoleArn?: string;
  executionRoleArn?: string;
  sharedMemory?: number;
}

/** The RegisterJobDefinition request of an input, and the name its content gives it. */
export function definitionRequest(prefix: string, d: DefinitionInput): { name: string; request: Record<string, any> } {
  const containerProperties: Record<string, any> = {
    image: d.image,
    command: d.command,
    resourceRequirements: [
      { type: 'VCPU', value: String(d.vcpus) },
      { type: 'MEMORY', value: String(d.memory) },
    ],
    ...(d.jobRoleArn ? { jobRoleArn: d.jobRoleArn } : {}),
    ...(d.executionRoleArn ? { executionRoleArn: d.executionRoleArn } : {}),
    ...(d.sharedMemory ? { linuxParameters: { sharedMemorySize: d.sharedMemory } } : {}),
  };
  const content = { type: 'container', containerProperties, propagateTags: true };
  const name = `${prefix}-${createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 40)}`;
  return { name, request: { jobDefinitionName: name, ...content } };
}

export class JobDefinitions {
  private readonly arns = new Map<string, Promise<string>>();

  constructor(
    private readonly client: BatchClient,
    private readonly prefix: string,
  ) {}

  /** The ARN of the definition of `d`, registering it the first time. */
  arnOf(d: DefinitionInput): Promise<string> {
    const { name, request } = definitionRequest(this.prefix, d);
    let arn = this.arns.get(name);
    if (!arn) {
      arn = this.findOrRegister(name, request);
      this.arns.set(name, arn);
      arn.catch(() => this.arns.delete(name));
    }
    return arn;
  }

  private async findOrRegister(name: string, request: Record<string, any>): Promise<string> {
    const found = await this.client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: name, status: 'ACTIVE' }));
    const latest = (found.jobDefinitions ?? []).sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
    if (latest?.jobDefinitionArn) return latest.jobDefinitionArn;
    const registered = await this.client.send(new RegisterJobDefinitionCommand(request as never));
    return registered.jobDefinitionArn!;
  }
}
