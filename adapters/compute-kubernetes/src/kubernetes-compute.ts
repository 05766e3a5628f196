/**
 * The Kubernetes ComputeBackend: one batch/v1 Job per attempt (`backoffLimit: 0`: Tributary's
 * scheduler owns retries), one Indexed Job for the splits of a foreach, status from a watch of
 * the namespace (see NamespaceWatch), output from the pod's log, cancel = delete with
 * `propagationPolicy: Background` (pods go with the job).
 */
import { PassThrough } from 'node:stream';
import { BatchV1Api, CoreV1Api, KubeConfig, Log } from '@kubernetes/client-node';
import {
  RemoteJob,
  TributaryError,
  isTransientStatus,
  withTransientRetry,
  type ComputeBackend,
  type ComputeCapabilities,
  type ComputeJob,
  type LaunchSpec,
} from '@tributary/core';
import { buildJob, INDEX_ANNOTATION } from './job-manifest.ts';
import { checkSettings, type KubernetesComputeOptions } from './kubernetes-options.ts';
import { NamespaceWatch, type WatchEvent } from './namespace-watch.ts';
import { createdAt, podStatus } from './pod-status.ts';

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

const transient = { isTransient: (err: unknown) => isTransientStatus(statusOf(err)) || statusOf(err) === undefined, budgetMs: 60_000 };

/** Reads the message of a Kubernetes Status error body (never the request, which may hold values). */
function describe(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  try {
    const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string } | undefined);
    if (parsed?.message) return `${parsed.message} (HTTP ${statusOf(err)})`;
  } catch {
    // not JSON
  }
  return (err as Error)?.message ?? String(err);
}

/** One created Job and the attempts it runs (one, or one per completion index). */
class TrackedJob {
  readonly cancelled = new Set<number>();
  readonly logs = new Map<string, AbortController>();
  deleted = false;
  deleting?: Promise<void>;

  constructor(
    readonly namespace: string,
    readonly name: string,
    readonly container: string,
    readonly children: RemoteJob[],
    readonly outputs: PassThrough[],
    readonly indexed: boolean,
  ) {}

  get done(): boolean {
    return this.children.every((c) => c.done);
  }
}

/** @public */
export class KubernetesCompute implements ComputeBackend {
  readonly name = 'kubernetes';
  readonly capabilities: ComputeCapabilities = {
    ipc: false,
    maxConcurrency: Number.POSITIVE_INFINITY,
    reportsOom: true,
    local: false,
    output: 'combined',
  };
  readonly taskEntry: { command: string; args: string[] };
  readonly arrayIndexEnv = 'JOB_COMPLETION_INDEX';
  private readonly kc: KubeConfig;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly watches = new Map<string, NamespaceWatch>();
  private readonly tracked = new Map<string, TrackedJob>();
  private closed = false;

  constructor(private readonly o: KubernetesComputeOptions = {}) {
    this.kc = new KubeConfig();
    if (o.kubeconfig) this.kc.loadFromFile(o.kubeconfig);
    else this.kc.loadFromDefault();
    if (!this.kc.getCurrentCluster())
      throw new TributaryError('CONFIG', 'No Kubernetes cluster configured: set KUBECONFIG, create ~/.kube/config, or run in a cluster.');
    this.o = { ...o, namespace: o.namespace ?? this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ?? 'default' };
    this.batch = this.kc.makeApiClient(BatchV1Api);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.taskEntry = { command: o.node ?? 'node', args: [o.bootstrap ?? '/opt/tributary/task.mjs'] };
  }

  async launch(spec: LaunchSpec, options: { signal?: AbortSignal } = {}): Promise<ComputeJob> {
    return (await this.create(spec, undefined, options.signal))[0]!;
  }

  async launchArray(spec: LaunchSpec, size: number, options: { signal?: AbortSignal; parallelism?: number } = {}): Promise<ComputeJob[]> {
    if (!Number.isInteger(size) || size < 1)
      throw new TributaryError('COMPUTE_FAILED', `An Indexed Job needs a positive size, not ${size}.`);
    return this.create(spec, { size, parallelism: options.parallelism ?? size }, options.signal);
  }

  private async create(
    spec: LaunchSpec,
    array: { size: number; parallelism: number } | undefined,
    signal?: AbortSignal,
  ): Promise<RemoteJob[]> {
    if (this.closed) throw new TributaryError('CLOSED', 'The Kubernetes compute backend is closed.');
    const settings = checkSettings(spec.settings);
    const { namespace, body } = buildJob(spec, settings, this.o, array);
    let created: any;
    try {
      created = await withTransientRetry(() => this.batch.createNamespacedJob({ namespace, body: body as never }), {
        ...transient,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw new TributaryError('COMPUTE_FAILED', `Kubernetes refused the job of ${spec.name}: ${describe(err)}`, { cause: err });
    }
    const name: string = created.metadata.name;
    const pendingTimeoutMs = (settings.pendingTimeout ?? this.o.pendingTimeout ?? 600) * 1000;
    const size = array?.size ?? 1;
    const outputs = Array.from({ length: size }, () => new PassThrough());
    let tracked: TrackedJob;
    const children = outputs.map(
      (out, index) =>
        new RemoteJob({
          id: array ? `${namespace}/${name}#${index}` : `${namespace}/${name}`,
          service: 'Kubernetes',
          pendingTimeoutMs,
          stdout: out,
          terminate: () => this.terminate(tracked, index),
          onSettled: () => {
            // The log follow ends with the container; a little grace lets its last lines arrive.
            setTimeout(() => out.end(), 500);
            for (const sibling of tracked.children) sibling.resetPendingClock();
            if (tracked.done) this.untrack(tracked);
          },
        }),
    );
    tracked = new TrackedJob(namespace, name, body.spec.template.spec.containers[0].name, children, outputs, !!array);
    this.tracked.set(`${namespace}/${name}`, tracked);
    for (const c of children) c.observe({ state: 'pending', reason: 'job created' });
    const watch = this.watchOf(namespace);
    watch.start();
    // What the watch saw before the job was tracked (a fast pod) is applied now.
    this.evaluate(tracked, watch);
    if (signal?.aborted) for (const c of children) void c.cancel('the run stopped');
    return children;
  }

  private watchOf(namespace: string): NamespaceWatch {
    let watch = this.watches.get(namespace);
    if (!watch) {
      watch = new NamespaceWatch(this.kc, namespace, this.o.pollMs ?? 1000, (e) => this.onEvent(namespace, e));
      this.watches.set(namespace, watch);
    }
    return watch;
  }

  private onEvent(namespace: string, e: WatchEvent): void {
    const jobName =
      e.kind === 'job'
        ? e.object?.metadata?.name
        : (e.object?.metadata?.labels?.['job-name'] ?? e.object?.metadata?.labels?.['batch.kubernetes.io/job-name']);
    const tracked = this.tracked.get(`${namespace}/${jobName}`);
    if (!tracked) return;
    const watch = this.watches.get(namespace)!;
    if (e.kind === 'job' && e.type === 'DELETED' && !tracked.deleted) {
      for (const c of tracked.children)
        c.observe({
          state: 'gone',
          message: `Kubernetes job ${namespace}/${tracked.name} was deleted before it finished (outside Tributary?).`,
        });
      return;
    }
    if (e.kind === 'pod' && e.type === 'DELETED') {
      const index = this.indexOf(tracked, e.object);
      const newest = watch.podsOf(tracked.name).filter((p) => this.indexOf(tracked, p) === index);
      // A deleted pod with no successor is the attempt's end (evicted, node lost, deleted outside).
      if (newest.length === 0 && index !== undefined && !tracked.cancelled.has(index))
        tracked.children[index]?.observe(podStatus(e.object, true));
    }
    this.evaluate(tracked, watch);
  }

  private indexOf(tracked: TrackedJob, pod: any): number | undefined {
    if (!tracked.indexed) return 0;
    const raw = pod?.metadata?.annotations?.[INDEX_ANNOTATION] ?? pod?.metadata?.labels?.[INDEX_ANNOTATION];
    return raw === undefined ? undefined : Number(raw);
  }

  /** Every child's status from its newest pod, and the job's own conditions. */
  private evaluate(tracked: TrackedJob, watch: NamespaceWatch): void {
    const newest = new Map<number, any>();
    for (const pod of watch.podsOf(tracked.name)) {
      const index = this.indexOf(tracked, pod);
      if (index === undefined) continue;
      if (!newest.has(index) || createdAt(pod) >= createdAt(newest.get(index))) newest.set(index, pod);
    }
    for (const [index, pod] of newest) {
      const child = tracked.children[index];
      if (!child || child.done || tracked.cancelled.has(index)) continue;
      const status = podStatus(pod);
      if (status.state === 'running') this.followLog(tracked, index, pod);
      // A pod that ended before it was seen running (a short task): its log is read once, then it ends.
      if (
        (status.state === 'succeeded' || status.state === 'failed') &&
        this.o.followLogs !== false &&
        !tracked.logs.has(pod.metadata.name)
      ) {
        tracked.logs.set(pod.metadata.name, new AbortController());
        void this.readLog(tracked, index, pod).then(() => child.observe(status));
        continue;
      }
      child.observe(status);
    }
    const job = watch.jobs.get(tracked.name);
    const failed = job?.status?.conditions?.find((c: any) => c.type === 'Failed' && c.status === 'True');
    if (failed?.reason === 'DeadlineExceeded')
      for (const c of tracked.children)
        c.observe({ state: 'failed', kind: 'TIMEOUT', message: `Kubernetes job ${tracked.name} ran past its deadline.` });
  }

  private followLog(tracked: TrackedJob, index: number, pod: any): void {
    if (this.o.followLogs === false) return;
    const podName: string = pod.metadata.name;
    if (tracked.logs.has(podName)) return;
    const out = tracked.outputs[index]!;
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => out.writable && !out.writableEnded && out.write(chunk));
    tracked.logs.set(podName, new AbortController());
    new Log(this.kc)
      .log(tracked.namespace, podName, tracked.container, sink, { follow: true })
      .then((abort) => {
        if (tracked.done) abort.abort();
        else tracked.logs.set(podName, abort);
      })
      .catch(() => undefined);
  }

  private async readLog(tracked: TrackedJob, index: number, pod: any): Promise<void> {
    try {
      const text = await this.core.readNamespacedPodLog({
        name: pod.metadata.name,
        namespace: tracked.namespace,
        container: tracked.container,
      });
      const out = tracked.outputs[index]!;
      if (text && !out.writableEnded) out.write(text);
    } catch {
      // The log is gone (pod deleted): the task's output is still in the datastore.
    }
  }

  /** Cancel one attempt: the whole job when it is the last one running, else just its pod. */
  private async terminate(tracked: TrackedJob, index: number): Promise<void> {
    tracked.cancelled.add(index);
    // A run that stops cancels every attempt in one go: let the others register, then delete the job once.
    await new Promise((resolve) => setImmediate(resolve));
    const others = tracked.children.filter((c, i) => i !== index && !c.done && !tracked.cancelled.has(i));
    if (others.length === 0) {
      tracked.deleted = true;
      tracked.deleting ??= this.deleteJob(tracked);
      await tracked.deleting;
      return;
    }
    // Its siblings go on; the controller may start this index again, whose result is ignored.
    const pods =
      this.watches
        .get(tracked.namespace)
        ?.podsOf(tracked.name)
        .filter((p) => this.indexOf(tracked, p) === index) ?? [];
    await Promise.all(
      pods.map((p) =>
        this.core
          .deleteNamespacedPod({ name: p.metadata.name, namespace: tracked.namespace, gracePeriodSeconds: 0 })
          .catch(() => undefined),
      ),
    );
  }

  private async deleteJob(tracked: TrackedJob): Promise<void> {
    try {
      await withTransientRetry(
        () => this.batch.deleteNamespacedJob({ name: tracked.name, namespace: tracked.namespace, propagationPolicy: 'Background' }),
        transient,
      );
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  private untrack(tracked: TrackedJob): void {
    this.tracked.delete(`${tracked.namespace}/${tracked.name}`);
    for (const a of tracked.logs.values()) a.abort();
    // No job of ours left in the namespace: stop watching it (an idle backend makes no requests).
    if (![...this.tracked.values()].some((t) => t.namespace === tracked.namespace)) {
      this.watches.get(tracked.namespace)?.stop();
      this.watches.delete(tracked.namespace);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.tracked.values()].flatMap((t) => t.children.map((c) => c.cancel('the compute backend closed'))));
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }
}

/** @public */
export function createKubernetesCompute(options: KubernetesComputeOptions = {}): KubernetesCompute {
  return new KubernetesCompute(options);
}
