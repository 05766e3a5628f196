/**
 * Tributary core: the flow API, static graph and validation, the scheduler, content-addressed
 * artifacts, typed errors, and the four ports adapters implement.
 * @packageDocumentation
 */
export { TributaryError, type ErrorCode, type ErrorContext, type TributaryErrorOptions, type SerializedError } from './errors.ts';
export type * from './ports/index.ts';
export { MAX_TASK_BATCH } from './ports/metadata-store.ts';
export { environmentId } from './environments/environment-id.ts';
export { hostPlatform, REMOTE_PLATFORM } from './environments/host-platform.ts';
export { ResolverLifecycle, type ResolverLifecycleOptions } from './environments/resolver-lifecycle.ts';
export { runResolverProcess, type ResolverProcessOptions, type ResolverProcessResult } from './environments/run-resolver-process.ts';
export {
  pypi,
  conda,
  npm,
  pypiBase,
  condaBase,
  npmBase,
  type PypiOptions,
  type CondaOptions,
  type NpmOptions,
} from './flow/environment-decorators.ts';
export { TaskBatchPlan } from './util/task-batch-plan.ts';

export { FlowSpec, type Inputs, type StepNames, type NextOptions, type MergeOptions } from './flow/flow-spec.ts';
export type { CurrentTask, Frame } from './flow/task-state.ts';
export {
  step,
  param,
  retry,
  catchFailure,
  timeout,
  resources,
  kubernetes,
  batch,
  type StepOptions,
  type StepDecorator,
} from './flow/decorators.ts';
export type { KubernetesSettings, BatchSettings } from './compute/remote-settings.ts';
export { checkStepSettings, type SettingType } from './compute/check-settings.ts';
export { RemoteJob, signalOfExitCode, type RemoteJobOptions, type RemoteJobStatus } from './compute/remote-job.ts';
export { withTransientRetry, isTransientStatus, type TransientRetryOptions } from './compute/transient-retry.ts';
export { buildTaskBootstrap, type TaskBootstrap, type TaskBootstrapOptions } from './packaging/build-task-bootstrap.ts';
export { flow, type FlowOptions, type FlowDecorator } from './flow/decorators.ts';
export { flowNameOf } from './flow/flow-name.ts';
export type {
  RetryOptions,
  CatchOptions,
  TimeoutOptions,
  ResourcesOptions,
  ParamOptions,
  ParamType,
  StepDecorations,
} from './flow/registry.ts';
export { resolveParams, describeParams } from './flow/params.ts';

export { buildGraph } from './graph/build-graph.ts';
export { GraphError, type GraphRule } from './graph/graph-error.ts';
export { renderGraph, type GraphFormat } from './graph/render-graph.ts';
export { layoutGraph, type GraphLayoutOptions, type GraphLayout, type LaidOutStep, type LaidOutEdge } from './graph/graph-layout.ts';
export { renderGraphSvg, type GraphSvgOptions, type StepBadge } from './graph/graph-svg.ts';

export { card } from './flow/decorators.ts';
export type { CardOptions, CardType } from './cards/card-options.ts';
export type { CardRef } from './cards/card-ref.ts';
export { Card } from './client/card.ts';
export { CardSection, type TaskCards, type TaskCardsApi } from './cards/task-cards.ts';
export { loadCardRenderer } from './cards/load-card-renderer.ts';
export { CardComponent } from './cards/components/component.ts';
export { Markdown } from './cards/components/markdown.ts';
export { Table, type TableOptions } from './cards/components/table.ts';
export { Image, type ImageOptions, type ImageType } from './cards/components/image.ts';
export { LineChart, BarChart, ScatterChart, type ChartOptions } from './cards/components/charts.ts';
export { ProgressBar, type ProgressBarOptions } from './cards/components/progress-bar.ts';
export { ValueBox, type ValueBoxOptions } from './cards/components/value-box.ts';
export { JsonViewer, type JsonViewerOptions } from './cards/components/json-viewer.ts';
export type { FlowGraph, GraphNode, StepType } from './graph/ir.ts';

export {
  ArtifactStore,
  type ItemRef,
  type ArtifactReader,
  type ArtifactStoreOptions,
  type LoadableRef,
} from './artifacts/artifact-store.ts';
export { decodeValue, type Encoding, type ValueSite } from './artifacts/serializer.ts';
export { sha256 } from './util/hash.ts';
export { objectKeyPrefix, validateKey, validateName, validatePrefix } from './util/keys.ts';
export { checkNewUserTags, checkTagChange, checkTagText, SYSTEM_TAG_PREFIXES } from './util/tags.ts';
export { refuseDuplicateKeys } from './util/task-keys.ts';
export { mapLimit } from './util/map-limit.ts';
export { readTarEntries, type TarEntry, type TarEntryType, type TarReadOptions } from './util/tar-entries.ts';
export { redactUrl } from './util/redact-url.ts';
export { safeCause } from './util/safe-cause.ts';
export { emptyStream, portStream } from './util/adapter-streams.ts';

export { runFlow, resumeFlow, planResume, RunResult, type RunFlowOptions, type ResumeFlowOptions } from './runtime/run-flow.ts';
export { tributaryHome } from './runtime/home.ts';
export { Client, type ClientOptions, type OpenClientOptions } from './client/client.ts';
export { Flow, type RunFilter } from './client/flow.ts';
export { Run } from './client/run.ts';
export { Step, type TaskFilter } from './client/step.ts';
export { Task, type TaskAttempt, type TaskTimings, type TaskException } from './client/task.ts';
export { Artifact } from './client/artifact.ts';
export type { DataOf } from './client/data-of.ts';
export { currentUser, defaultNamespace, parseNamespace, type Namespace } from './client/namespace.ts';
export { parsePathspec, type Pathspec, type PathspecContext } from './client/pathspec.ts';
export { formatResumePlan, runLiveness, type ResumePlan, type ResumePlanEntry } from './runtime/resume-plan.ts';
export type { CheckpointRecord } from './runtime/protocol.ts';
export { importFlowModule, type ImportedFlowModule } from './runtime/import-flow-module.ts';
export { prepareFlowCode, type FlowCode } from './runtime/code-package.ts';
export { workerLaunchSpec } from './runtime/worker-launch.ts';
export type { TaskCheckpoints, CheckpointOptions } from './flow/checkpoints.ts';
export {
  registerAdapter,
  openConfigured as openConfiguredAdapter,
  type AdapterFactory,
  type AdapterKinds,
} from './runtime/adapter-registry.ts';
export type { RunEvent } from './runtime/events.ts';

export type {
  TaskExecutor,
  ExecutorRun,
  ExecutorRunContext,
  AttemptRequest,
  AttemptListener,
  AttemptHandle,
  AttemptEnd,
} from './execution/task-executor.ts';
export type { ExecutorChoice } from './execution/choose-executor.ts';
export { WarmPool, type WarmPoolOptions } from './execution/warm-pool.ts';
export { JobExecutor, type JobExecutorOptions } from './execution/job-executor.ts';
export { InProcessExecutor } from './execution/in-process-executor.ts';
export { TASK_EXIT } from './execution/job-spec.ts';
export { buildCodePackage, type CodePackage } from './packaging/build-code-package.ts';
export type { CodePackageManifest } from './packaging/code-package-manifest.ts';
