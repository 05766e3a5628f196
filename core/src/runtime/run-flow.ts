import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { TributaryError } from '../errors.ts';
import type { FlowSpec } from '../flow/flow-spec.ts';
import { flowLabel, flowNameOf } from '../flow/flow-name.ts';
import { resolveParams } from '../flow/params.ts';
import { stepsOf } from '../flow/registry.ts';
import { buildGraph } from '../graph/build-graph.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { ComputeBackend, ComputeJob } from '../ports/compute-backend.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { ArtifactRef, MetadataStore, RunRecord, RunStatus } from '../ports/metadata-store.ts';
import { sha256 } from '../util/hash.ts';
import { refuseControlChars } from '../util/control-chars.ts';
import { checkNewUserTags } from '../util/tags.ts';
import { cardSpecOf, parseCardWith } from '../cards/card-options.ts';
import { openConfigured } from './adapter-registry.ts';
import { prepareEnvironments } from '../environments/prepare-environments.ts';
import type { EnvironmentResolver } from '../ports/environment-resolver.ts';
import { Client } from '../client/client.ts';
import { ClientContext } from '../client/client-context.ts';
import { currentUser } from '../client/namespace.ts';
import { Run } from '../client/run.ts';
import { tributaryHome } from './home.ts';
import type { RunEvent } from './events.ts';
import { chooseExecutor, type ExecutorChoice } from '../execution/choose-executor.ts';
import { JobExecutor } from '../execution/job-executor.ts';
import { RoutingExecutor } from '../execution/routing-executor.ts';
import { stepComputes } from '../execution/step-compute.ts';
import type { TaskExecutor } from '../execution/task-executor.ts';
import { checkEnvPass } from '../execution/job-environment.ts';
import type { ResumeOrigin } from '../execution/planned-task.ts';
import { Scheduler } from '../execution/scheduler.ts';
import { buildCodePackage } from '../packaging/build-code-package.ts';
import { prepareFlowCode, projectRoot, sourceOfFlowBundle } from './code-package.ts';
import { finalizeUnfinishedTasks } from './finalize-tasks.ts';
import { claimedByImport } from './import-flow-module.ts';
import { onDemandAdapter } from './on-demand-adapter.ts';
import { buildResumePlan, findOrigin, originTasks, processStartTime, retireIfStale, type ResumePlan } from './resume-plan.ts';
import { changedSteps } from './resume-rules.ts';
import { insideTask, isWorkerProcess } from './task-context.ts';

/** @public */
export interface RunFlowOptions {
  /** Parameter values (strings are parsed by the parameter's type). */
  params?: Record<string, unknown>;
  /** A Datastore instance or URL. Default: files under `<home>/datastore`. */
  datastore?: Datastore | string;
  /** A MetadataStore instance or URL. Default: SQLite at `<home>/metadata.sqlite`. */
  metadata?: MetadataStore | string;
  /**
   * A ComputeBackend instance or URL. Default: local processes (`local://`), with warm workers.
   * `local-jobs://` starts every task attempt as its own process, through the same path as remote compute.
   */
  compute?: ComputeBackend | string;
  /**
   * Where attempts run: `pool` (warm worker processes, the default on a backend with IPC), `jobs`
   * (one job per attempt, the default on a backend without), `in-process` (in this process: tests
   * and services that want no child processes), or a TaskExecutor of your own.
   */
  executor?: ExecutorChoice;
  /**
   * Environment variables tasks receive, by name, with the values they have here (CLI:
   * `--env-pass NAME`). Tasks get nothing else of this process's environment but the host basics
   * (PATH, HOME, locale, temp folder) and, on local compute, the datastore's credential variables.
   */
  envPass?: string[];
  /**
   * Run every step on remote compute, as if it had `@kubernetes` / `@batch` (CLI `--with`):
   * `['kubernetes']`, or with settings, `['batch:queue=gpu,memory=16384']`. A step's own decorator
   * wins. Remote compute needs a datastore other machines reach (S3, GCS, Azure). `'card'` (or
   * `'card:type=blank'`) gives every step without a `@card` a default card, as Metaflow's
   * `--with card` does.
   */
  with?: string[];
  /**
   * The backends of remote compute kinds (`kubernetes`, `batch`): an instance, or a URL
   * (`kubernetes://?namespace=ml`, `batch://?queue=gpu`). Default `<kind>://`: the backend's own
   * configuration (kubeconfig, AWS credential chain, `TRIBUTARY_BATCH_QUEUE`, ...).
   */
  remoteCompute?: Record<string, ComputeBackend | string>;
  /**
   * Resolvers of step environments (`@pypi`, `@conda`, `@npm`) by kind. Default: the one
   * registered for `<kind>://` (package `@tributary/environment-pypi` for `pypi`).
   */
  environments?: Record<string, EnvironmentResolver>;
  /** Folder of the embedded default stores. Default: `$TRIBUTARY_HOME`, else `./.tributary`. */
  home?: string;
  /** Tasks running at once. Default: number of cores. */
  maxWorkers?: number;
  /** Largest foreach fan-out allowed. Default 100. */
  maxNumSplits?: number;
  tags?: string[];
  /** Aborting stops the run: running tasks are killed, the run is recorded `aborted`. */
  signal?: AbortSignal;
  /** Progress events. */
  onEvent?: (event: RunEvent) => void;
  /** Echo each task's output, prefixed with its pathspec (to this process's stdout/stderr, or to `onTaskOutput`). Default false. */
  echoLogs?: boolean;
  /** Receives echoed task output instead of this process's stdout/stderr. */
  onTaskOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Per-task cap on stored stdout/stderr, in bytes. Default 10 MiB. */
  maxLogBytes?: number;
  /** Module (file URL or path) that exports the flow class. Default: found from where the class was defined. */
  flowModule?: string;
  /** Export name of the flow class in that module. Default: the class name. */
  flowExport?: string;
  /** Node arguments for worker and job processes. Default: `--enable-source-maps`. */
  workerExecArgv?: string[];
  /**
   * Worker jobs already launched on `compute` with `workerLaunchSpec` (the CLI starts one while
   * it loads, so the first task does not wait for a Node start). The run takes them over: they
   * are used before new ones, and those it does not use are cancelled, whatever happens.
   */
  warmWorkers?: ComputeJob[];
  /** Recorded as the run's user (and its system tag `user:<name>`). Default: `currentUser()` (`$TRIBUTARY_USER`, `$USER`, the OS user). */
  user?: string;
  /**
   * Tag the run `production:<token>` (a system tag): readers in the namespace `production:<token>`
   * see it, as they see a deployed Metaflow flow's runs. Default `$TRIBUTARY_PRODUCTION_TOKEN`.
   */
  productionToken?: string;
  /** Run heartbeat period in ms (a resume treats a run without heartbeats as dead). Default 5000. */
  heartbeatMs?: number;
}

/**
 * What `runFlow` and `resumeFlow` resolve with: the run as the client reads it (`data()`, `steps()`,
 * `tags`, ...; see {@link Run}), plus what happened while it ran (its error, duration, latencies).
 * It holds no open handles: stores that runFlow opened itself were closed before it resolved, and
 * `metadata`, `datastore` and the client methods reopen them for each call; stores passed to runFlow
 * are used as given (and stay yours to close). It reads in the global namespace.
 * @public
 */
export class RunResult<F = any> extends Run<F> {
  /** @internal */
  constructor(
    record: RunRecord,
    readonly error: TributaryError | undefined,
    readonly durationMs: number,
    readonly tasks: number,
    /** Task dispatched to a free worker → user code entered, per started attempt (ms). */
    readonly dispatchLatenciesMs: number[],
    /** Task ready → dispatched (waiting for a free worker), per started attempt (ms). */
    readonly queueWaitsMs: number[],
    readonly datastore: Datastore,
    readonly metadata: MetadataStore,
    /** Tasks cloned from the origin (resume). */
    readonly clonedTasks = 0,
  ) {
    super(new ClientContext(metadata, datastore, null), record);
  }

  /** Throw the run's error if it did not succeed. */
  throwIfFailed(): this {
    if (!this.successful) throw this.error ?? new TributaryError('RUN_FAILED', `Run ${this.pathspec} ${this.status}.`);
    return this;
  }

  /** A client on the stores this run used, in the global namespace. */
  client(): Client {
    return new Client({ metadata: this.metadata, datastore: this.datastore, namespace: null });
  }

  /**
   * Nothing to do: a RunResult holds no open handles (kept so that code written for earlier
   * versions, which had to call it, still works).
   */
  async close(): Promise<void> {}
}

/** Which module exports a flow class (from its decorators' definition site). @internal */
export function flowModuleOf(flowClass: Function): string | undefined {
  for (const rec of stepsOf(flowClass).values()) if (rec.definedIn) return rec.definedIn;
  return undefined;
}

/**
 * Run a flow in this process's orchestrator, with tasks in worker processes. Validates the
 * graph and parameters first (throwing `GRAPH_INVALID` / `PARAM_INVALID` before anything runs),
 * then resolves with the run, whatever its outcome (`run.status`, `run.throwIfFailed()`).
 * @public
 */
export async function runFlow<F extends FlowSpec>(flowClass: new () => F, options: RunFlowOptions = {}): Promise<RunResult<F>> {
  return launch(flowClass, options, undefined) as Promise<RunResult<F>>;
}

/** @public */
export interface ResumeFlowOptions extends Omit<RunFlowOptions, 'params'> {
  /** The run to resume. Default: the latest run of the flow. */
  originRunId?: string;
  /** Re-run from this step (and everything after it), even where the origin succeeded. */
  step?: string;
  /** Treat a `running` origin as dead when its last heartbeat is older than this (ms). Default 30000. */
  staleAfterMs?: number;
  /**
   * Re-run the steps whose code changed since the origin run (and what follows them) instead of
   * cloning them. Default false: a changed step that succeeded is cloned, and the plan says so.
   */
  rerunChanged?: boolean;
}

/**
 * Resume a failed (or stopped) run: a new run, linked to its origin, where every task that
 * succeeded in the origin and does not depend on re-executed work is cloned (metadata and
 * artifact references only, no bytes copied) and everything else runs. Parameters are the
 * origin's. See `planResume` for what would happen, without running anything.
 * @public
 */
export async function resumeFlow<F extends FlowSpec>(flowClass: new () => F, options: ResumeFlowOptions = {}): Promise<RunResult<F>> {
  return launch(flowClass, options, options) as Promise<RunResult<F>>;
}

/**
 * What a resume would do, task by task, without running anything (`tributary resume --dry-run`).
 * @public
 */
export async function planResume(flowClass: new () => FlowSpec, options: ResumeFlowOptions = {}): Promise<ResumePlan> {
  const graph = buildGraph(flowClass);
  const home = tributaryHome(options.home);
  const md = await openConfigured('metadata', options.metadata, home);
  try {
    const origin = await findOrigin(md.adapter, graph.flow, options.originRunId);
    if (options.step !== undefined && !graph.nodes[options.step])
      throw new TributaryError('PARAM_INVALID', `${graph.flow} has no step ${options.step}. Steps: ${graph.order.join(', ')}.`);
    return await buildResumePlan(md.adapter, graph, origin, { step: options.step, rerunChanged: options.rerunChanged });
  } finally {
    if (md.owned) await md.adapter.close();
  }
}

/** An adapter as configured: the instance to use now, and how to get it again after closing. */
interface Configured<T> {
  adapter: T;
  owned: boolean;
  reopen: () => Promise<T & { close(): Promise<void> }>;
}

async function configure<K extends 'datastore' | 'metadata' | 'compute'>(
  kind: K,
  given: Parameters<typeof openConfigured<K>>[1],
  home: string,
): Promise<Configured<Awaited<ReturnType<typeof openConfigured<K>>>['adapter']>> {
  const { adapter, owned } = await openConfigured(kind, given, home);
  return { adapter, owned, reopen: async () => (await openConfigured(kind, given, home)).adapter };
}

/** A flow module given as a path or a URL, as a file URL (`#`, `?` and `%` in paths stay part of the path). */
function moduleUrl(module: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module) ? module : pathToFileURL(resolve(module)).href;
}

async function launch(flowClass: new () => FlowSpec, options: RunFlowOptions, resume: ResumeFlowOptions | undefined): Promise<RunResult> {
  try {
    return await launchRun(flowClass, options, resume);
  } finally {
    // Warm workers handed over and not used (a refused flow, a run that needed fewer) are stopped.
    for (const job of options.warmWorkers?.splice(0) ?? []) void job.cancel('not needed');
  }
}

async function launchRun(
  flowClass: new () => FlowSpec,
  options: RunFlowOptions,
  resume: ResumeFlowOptions | undefined,
): Promise<RunResult> {
  // A module that starts its own run at top level, being imported by a worker or the CLI for
  // its flow class: start nothing (see import-flow-module.ts).
  if (claimedByImport(flowClass)) return new Promise<never>(() => undefined);
  if (isWorkerProcess() && !insideTask()) {
    throw new TributaryError(
      'CONFIG',
      `runFlow(${flowLabel(flowClass)}) was called in a task worker outside any step: the flow module starts a run when it is imported. ` +
        `Call runFlow at the top level of the module (it is then ignored in workers), or from another file.`,
    );
  }
  const t0 = performance.now();
  const graph = buildGraph(flowClass);
  const flow = flowNameOf(flowClass);
  if (resume?.step !== undefined && !graph.nodes[resume.step]) {
    throw new TributaryError('PARAM_INVALID', `${flow} has no step ${resume.step}. Steps: ${graph.order.join(', ')}.`);
  }
  const params = resume ? {} : resolveParams(flowClass, options.params);
  const flowModule = options.flowModule ? moduleUrl(refuseControlChars('flow module', options.flowModule)) : flowModuleOf(flowClass);
  for (const tag of options.tags ?? []) refuseControlChars('tag', tag);
  checkNewUserTags(options.tags ?? []);
  const envPass = checkEnvPass(options.envPass ?? []);
  if (options.user !== undefined) refuseControlChars('user', options.user);
  if (options.productionToken !== undefined) refuseControlChars('production token', options.productionToken);
  // In this process, the class itself runs: no module to import, nothing to build.
  const inProcess = options.executor === 'in-process' || (typeof options.executor === 'object' && !options.executor.outOfProcess);
  if (!flowModule && !inProcess) {
    throw new TributaryError(
      'FLOW_LOAD',
      `Cannot tell which module defines ${flowLabel(flowClass)}: pass { flowModule: import.meta.url } to runFlow.`,
    );
  }
  // TypeScript becomes JavaScript once, here, before anything is recorded: workers import the result.
  const code = inProcess || !flowModule ? { url: flowModule ?? '', sha: '', built: false } : await prepareFlowCode(flowModule);
  const home = tributaryHome(options.home);
  const opened: Array<Configured<{ close(): Promise<void> }>> = [];
  const open = async <K extends 'datastore' | 'metadata' | 'compute'>(kind: K, given: Parameters<typeof openConfigured<K>>[1]) => {
    const c = await configure(kind, given, home);
    opened.push(c);
    return c;
  };
  // Whatever runFlow opened itself it closes itself, on every path.
  const closeOwned = () => Promise.all(opened.filter((c) => c.owned).map((c) => c.adapter.close().catch(() => undefined)));
  let recorded: { metadata: MetadataStore; runId: string } | undefined;
  try {
    const ds = await open('datastore', options.datastore);
    const md = await open('metadata', options.metadata);
    const datastore = ds.adapter;
    const metadata = md.adapter;
    const withCards = (options.with ?? []).filter((w) => w === 'card' || w.startsWith('card:'));
    const stepCompute = stepComputes(
      graph,
      (options.with ?? []).filter((w) => !withCards.includes(w)),
    );
    const defaultCards = withCards.map((w) => {
      try {
        return cardSpecOf(parseCardWith(w));
      } catch (err) {
        throw new TributaryError('PARAM_INVALID', (err as Error).message.replace(/^@card /, `--with ${w}: `));
      }
    });
    const remoteKinds = [...new Set(Object.values(stepCompute).flatMap((c) => (c ? [c.kind] : [])))];
    if (remoteKinds.length && !datastore.capabilities.remote)
      throw new TributaryError(
        'CONFIG',
        `Steps of ${flow} run on ${remoteKinds.join(' and ')}, whose jobs cannot reach the ${datastore.name} datastore (files on this machine). ` +
          `Use a datastore they reach: --datastore s3://bucket/prefix (or gs://, azure://).`,
      );
    const routes: Record<string, TaskExecutor> = {};
    if (graph.order.some((name) => !stepCompute[name])) {
      const chosen = await chooseExecutor(
        options.executor,
        options.compute,
        async (url) => (await openConfigured('compute', url, home)).adapter,
        options.warmWorkers,
      );
      if (chosen.owned) opened.push({ adapter: chosen.executor, owned: true, reopen: async () => chosen.executor });
      routes.local = chosen.executor;
    }
    for (const kind of remoteKinds) {
      const backend = await open('compute', options.remoteCompute?.[kind] ?? `${kind}://`);
      routes[kind] = new JobExecutor({ compute: backend.adapter });
    }
    const executor = remoteKinds.length ? new RoutingExecutor(routes) : routes.local!;
    if (executor.outOfProcess && !datastore.locator)
      throw new TributaryError(
        'CONFIG',
        `Datastore ${datastore.name} has no locator, so task processes cannot open it. Use a datastore that can be shared across processes, or executor: 'in-process'.`,
      );
    // Jobs that start from nothing get the run's code package: built (or reused) and stored once per content.
    let codePackage: { sha: string } | undefined;
    if (executor.needsCodePackage) {
      const pkg = await buildCodePackage(sourceOfFlowBundle(flowModule!) ?? flowModule!, datastore.locator!);
      await new ArtifactStore(datastore, flow).putBlob(pkg.bytes);
      codePackage = { sha: pkg.sha };
    }

    let origin: ResumeOrigin | undefined;
    let originRun: RunRecord | undefined;
    if (resume) {
      originRun = await findOrigin(metadata, flow, resume.originRunId);
      await retireIfStale(metadata, originRun, resume.staleAfterMs ?? 30_000);
      const rerunSteps = new Set(resume.step !== undefined ? [resume.step] : []);
      if (resume.rerunChanged) for (const s of changedSteps(originRun.graph as FlowGraph | undefined, graph)) rerunSteps.add(s);
      origin = { runId: originRun.runId, tasks: await originTasks(metadata, originRun), rerunSteps };
    }

    // Step environments are locked and built before the run is recorded: a package that does not
    // exist fails here, in the resolver's words, and no step starts.
    const environments = await prepareEnvironments(graph, {
      resolverFor: async (kind) => {
        const given = options.environments?.[kind];
        if (given) return given;
        const { adapter, owned } = await openConfigured('environment', `${kind}://`, home);
        if (owned) opened.push({ adapter, owned, reopen: async () => adapter });
        return adapter;
      },
      cacheRoot: join(home, 'environments'),
      storeLock: (bytes) => new ArtifactStore(datastore, flow).putBlob(bytes),
      remoteSteps: new Set(Object.keys(stepCompute).filter((s) => stepCompute[s])),
      ...(options.signal ? { signal: options.signal } : {}),
      onReady: (steps, env, { solved, ms }) =>
        options.onEvent?.({
          type: 'environment-ready',
          kind: env.lock.kind,
          steps,
          id: env.id,
          platform: env.lock.platform,
          packages: env.lock.packages.length,
          solved,
          built: env.built,
          remote: !env.activation,
          durationMs: ms,
        }),
    });

    // Parameter values are stored before the run is recorded: a datastore that refuses writes
    // (bad credentials, missing bucket) fails here, leaving no run behind.
    const store = new ArtifactStore(datastore, flow);
    const originParams = origin?.tasks.get('_parameters');
    let paramsManifest: ArtifactRef[] = [];
    if (originParams) {
      const refs = await metadata.listArtifacts({ flow, runId: originRun!.runId, taskId: originParams.taskId });
      paramsManifest = refs.map(({ attempt: _a, ...r }) => r);
    } else {
      for (const [name, value] of Object.entries(params)) paramsManifest.push(await store.save(name, value, { step: '_parameters' }));
    }

    const user = options.user ?? currentUser();
    const productionToken = options.productionToken ?? (process.env.TRIBUTARY_PRODUCTION_TOKEN || undefined);
    const run = await metadata.createRun({
      flow,
      user,
      params: originRun ? originRun.params : params,
      tags: options.tags ?? originRun?.tags ?? [],
      systemTags: [
        `user:${user}`,
        `runtime:node${process.versions.node.split('.')[0]}`,
        `executor:${executor.name}`,
        ...(codePackage ? [`code-package:${codePackage.sha}`] : []),
        ...(productionToken ? [`production:${productionToken}`] : []),
      ],
      codeHash: code.sha,
      graph,
      ...(originRun ? { originRunId: originRun.runId } : {}),
    });
    recorded = { metadata, runId: run.runId };
    options.onEvent?.({
      type: 'run-started',
      flow,
      runId: run.runId,
      steps: graph.order,
      ...(originRun ? { originRunId: originRun.runId } : {}),
    });

    // The `_parameters` pseudo-task holds the parameter values as artifacts: the start step
    // inherits them by reference, and a resume clones them (the origin's values are reused).
    const paramsTask = await metadata.registerTask({
      flow,
      runId: run.runId,
      step: '_parameters',
      key: '_parameters',
      parents: [],
      ...(originParams ? { originPathspec: originParams.pathspec } : {}),
    });
    const pref = { flow, runId: run.runId, taskId: paramsTask.taskId };
    await metadata.startAttempt(pref, 0);
    // Where the orchestrator runs: a resume can tell a dead run from a live one (the start time
    // tells the orchestrator from a later process that got the same pid).
    const started = processStartTime(process.pid);
    const orchestratorInfo = {
      host: hostname(),
      pid: String(process.pid),
      ...(started ? { 'pid-start': started } : {}),
      ...(codePackage ? { 'code-package': codePackage.sha } : {}),
    };
    await metadata.finishAttempt(pref, 0, { status: 'succeeded', artifacts: paramsManifest, metadata: orchestratorInfo });

    const executorRun = await executor.openRun({
      flow,
      runId: run.runId,
      flowClass,
      flowModule: code.url,
      flowExport: options.flowExport ?? flowClass.name,
      datastore,
      ...(codePackage ? { codePackage } : {}),
      maxWorkers: Math.max(1, options.maxWorkers ?? availableParallelism()),
      echoLogs: options.echoLogs ?? false,
      ...(options.onTaskOutput ? { onTaskOutput: options.onTaskOutput } : {}),
      envPass,
      user,
      ...(options.workerExecArgv ? { execArgv: options.workerExecArgv } : {}),
      ...(flowModule?.startsWith('file:') ? { projectRoot: projectRoot(fileURLToPath(sourceOfFlowBundle(flowModule) ?? flowModule)) } : {}),
    });
    let result: Awaited<ReturnType<Scheduler['run']>>;
    try {
      result = await new Scheduler({
        flow,
        runId: run.runId,
        graph,
        datastore,
        metadata,
        executor: executorRun,
        paramsManifest,
        paramsTaskId: paramsTask.taskId,
        paramNames: paramsManifest.map((r) => r.name),
        maxWorkers: Math.max(1, options.maxWorkers ?? availableParallelism()),
        maxNumSplits: options.maxNumSplits ?? 100,
        echoLogs: options.echoLogs ?? false,
        maxLogBytes: options.maxLogBytes ?? 10 * 1024 * 1024,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(origin ? { origin } : {}),
        ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
        ...(remoteKinds.length ? { stepCompute } : {}),
        ...(defaultCards.length ? { defaultCards: defaultCards.slice(0, 1) } : {}),
        ...(Object.keys(environments).length ? { environments } : {}),
      }).run();
    } finally {
      await executorRun.close();
    }
    if (result.status !== 'succeeded') {
      await finalizeUnfinishedTasks(
        metadata,
        flow,
        run.runId,
        {
          code: result.status === 'aborted' ? 'ABORTED' : 'RUN_FAILED',
          message:
            result.status === 'aborted'
              ? 'The run was aborted.'
              : `The run failed: ${result.error?.message.split('\n')[0] ?? 'it stopped'}`,
        },
        result.status === 'aborted' ? 'was aborted' : 'failed',
      );
    }
    await metadata.finishRun(flow, run.runId, result.status);
    recorded = undefined;
    // The store stamps finishedAt: read it back, so this Run is what every client reads.
    const finished = await metadata
      .getRun(flow, run.runId)
      .catch((): RunRecord => ({ ...run, status: result.status, finishedAt: Date.now() }));
    const durationMs = performance.now() - t0;
    options.onEvent?.({ type: 'run-finished', flow, runId: run.runId, status: result.status, durationMs });
    return new RunResult(
      finished,
      result.error,
      durationMs,
      result.tasks,
      result.dispatchLatenciesMs,
      result.queueWaitsMs,
      ds.owned ? onDemandAdapter(datastore, ds.reopen) : datastore,
      md.owned ? onDemandAdapter(metadata, md.reopen) : metadata,
      result.cloned,
    );
  } catch (err) {
    if (recorded) {
      // The run is recorded but cannot go on: give it and its tasks a final status.
      const message = `The run could not go on: ${(err as Error)?.message ?? String(err)}`.split('\n')[0]!;
      await finalizeUnfinishedTasks(recorded.metadata, flow, recorded.runId, { code: 'INFRASTRUCTURE', message }, 'failed').catch(
        () => undefined,
      );
      await recorded.metadata.finishRun(flow, recorded.runId, 'failed').catch(() => undefined);
    }
    throw err;
  } finally {
    await closeOwned();
  }
}
