/**
 * The composition root for services that embed Tributary: an inversify container with the three
 * adapters a run needs, bound by factories (no decorators, no reflect-metadata). Rebind any of them
 * (`await container.rebind(TRIBUTARY.Datastore)` then `.toConstantValue(myStore)`) and run flows
 * with `runFlowIn(container, Flow, options)`. Imported as `tributary/container`, so that services
 * that do not use it never load inversify.
 * @packageDocumentation
 */
import { Container } from 'inversify';
import {
  openConfiguredAdapter,
  resumeFlow,
  runFlow,
  tributaryHome,
  type ComputeBackend,
  type Datastore,
  type FlowSpec,
  type MetadataStore,
  type ResumeFlowOptions,
  type RunResult,
  type RunFlowOptions,
} from '@tributary/core';
import './defaults.ts';

/** Service identifiers of the adapters in a Tributary container. @public */
export const TRIBUTARY = {
  Datastore: Symbol.for('tributary.Datastore'),
  MetadataStore: Symbol.for('tributary.MetadataStore'),
  ComputeBackend: Symbol.for('tributary.ComputeBackend'),
} as const;

/** @public */
export interface TributaryContainerOptions {
  /** Folder of the embedded defaults. Default `$TRIBUTARY_HOME`, else `./.tributary`. */
  home?: string;
  /** Adapter URLs; default the embedded trio. */
  datastore?: string;
  metadata?: string;
  compute?: string;
}

/**
 * A container with the adapters bound as singletons, opened on first use.
 * @public
 */
export function createTributaryContainer(options: TributaryContainerOptions = {}): Container {
  const container = new Container();
  const home = tributaryHome(options.home);
  container
    .bind<Datastore>(TRIBUTARY.Datastore)
    .toDynamicValue(async () => (await openConfiguredAdapter('datastore', options.datastore, home)).adapter)
    .inSingletonScope();
  container
    .bind<MetadataStore>(TRIBUTARY.MetadataStore)
    .toDynamicValue(async () => (await openConfiguredAdapter('metadata', options.metadata, home)).adapter)
    .inSingletonScope();
  container
    .bind<ComputeBackend>(TRIBUTARY.ComputeBackend)
    .toDynamicValue(async () => (await openConfiguredAdapter('compute', options.compute, home)).adapter)
    .inSingletonScope();
  return container;
}

async function adapters(container: Container) {
  return {
    datastore: await container.getAsync<Datastore>(TRIBUTARY.Datastore),
    metadata: await container.getAsync<MetadataStore>(TRIBUTARY.MetadataStore),
    compute: await container.getAsync<ComputeBackend>(TRIBUTARY.ComputeBackend),
  };
}

/** Run a flow with the container's adapters (the container keeps them open). @public */
export async function runFlowIn(
  container: Container,
  flowClass: new () => FlowSpec,
  options: Omit<RunFlowOptions, 'datastore' | 'metadata' | 'compute'> = {},
): Promise<RunResult> {
  return runFlow(flowClass, { ...options, ...(await adapters(container)) });
}

/** Resume a run with the container's adapters. @public */
export async function resumeFlowIn(
  container: Container,
  flowClass: new () => FlowSpec,
  options: Omit<ResumeFlowOptions, 'datastore' | 'metadata' | 'compute'> = {},
): Promise<RunResult> {
  return resumeFlow(flowClass, { ...options, ...(await adapters(container)) });
}
