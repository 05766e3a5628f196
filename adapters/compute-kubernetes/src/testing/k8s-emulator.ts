/**
 * A wire-level Kubernetes API server for tests: batch/v1 Jobs, Pods (with logs) and Secrets over
 * loopback http, for the real `@kubernetes/client-node` and for kubectl. There is no real API
 * server to be had on these machines (no kube-apiserver, k3s, kind or kwok; no docker), so this
 * does what the API server, the job controller and a kubelet do, as far as Jobs need: every pod's
 * first container really runs, as a local process in an empty directory with only its declared
 * environment (the shared container runtime of `@tributary/conformance/testing`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContainerRuntime, type ContainerRuntime } from '@tributary/conformance/testing';
import { namespaceObjects, type ApiContext } from './api-context.ts';
import { ApiFaults, PodFaults, type ApiFaultRule, type FaultRule } from './faults.ts';
import { serveApi } from './http-server.ts';
import { JobController } from './job-controller.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import { Kubelet } from './kubelet.ts';
import type { KubeJob, KubePod, KubeSecret } from './model.ts';
import { createRouter } from './routes.ts';
import { loadJobValidator } from './schema-validation.ts';
import { ObjectStore } from './store.ts';

/** @public */
export interface KubernetesEmulatorOptions {
  /** Delay between pod stages (created → scheduled → container started; image-pull back-off), ms. Default 20: small, but watchers see each stage. */
  stepMs?: number;
  /** The namespaces that exist. Default `['default']`; creating in another is a 404, as on a real cluster. */
  namespaces?: string[];
  /** Validate every created and updated Job against the Kubernetes OpenAPI schema (needs `kubernetes-models`). Default true. */
  validate?: boolean;
  /**
   * What the platform gives every container (a pod identity's credentials, say), as a mutating
   * webhook or the node would: never part of any request, any stored object or any response; a
   * pod's own env overrides it.
   */
  containerEnv?: Record<string, string>;
  /** Runs the containers; default a fresh `createContainerRuntime()`, closed by `stop()`. One passed in is left open. */
  runtime?: ContainerRuntime;
}

/** @public */
export interface KubernetesEmulator {
  /** `http://127.0.0.1:<port>`: the cluster server. */
  url: string;
  port: number;
  /** A kubeconfig file (server = url, `insecure-skip-tls-verify: true`, token `emulator-token`, context `emulator`, namespace default); removed by `stop()`. */
  kubeconfigPath: string;
  /** The same kubeconfig, as text (for `KubeConfig.loadFromString`). */
  kubeconfig(): string;
  /** Requests received per operation (`create job`, `read job`, `list pods`, `watch jobs`, `read pod log`, `discovery`, …), failed ones included. */
  requests: Record<string, number>;
  /** Empties `requests` and `received` (the same objects, so references stay valid). */
  resetCounts(): void;
  /** Every Job body exactly as POSTed (JSON-parsed), rejected ones included, for tests that check what was sent. */
  received: unknown[];
  /** Requests rejected as 422 Invalid (schema or semantic validation): a test of a well-behaved client asserts 0. */
  readonly invalid: number;
  /** The Jobs as stored now (copies), in one namespace or all. */
  jobs(namespace?: string): KubeJob[];
  /** The Pods as stored now (copies), in one namespace or all. */
  pods(namespace?: string): KubePod[];
  /** The Secrets as stored now (copies). */
  secrets(namespace?: string): KubeSecret[];
  /** What a pod's container printed (the current or last run); undefined if the pod is gone or never ran. */
  log(pod: string, namespace?: string): string | undefined;
  /** Containers running now. */
  readonly running: number;
  /** Adds a pod fault for pods created from now on; rules are tried in the order added. */
  inject(rule: FaultRule): void;
  /** Removes every pod fault and API fault. */
  clearFaults(): void;
  /** Makes the next `times` matching requests fail with 500 InternalError, 429 TooManyRequests (`Retry-After: 1`) or 503. */
  failApi(rule: ApiFaultRule): void;
  /** The Job vanishes as if deleted by someone else: DELETED for watchers, its pods killed at once and removed. */
  deleteJobOutside(name: string, namespace?: string): void;
  /** Closes the server (and every watch and log stream), kills every container, removes the kubeconfig. */
  stop(): Promise<void>;
}

/** @public */
export async function startKubernetesEmulator(options: KubernetesEmulatorOptions = {}): Promise<KubernetesEmulator> {
  const validate = options.validate !== false ? await loadJobValidator() : undefined;
  const stepMs = options.stepMs ?? 20;
  const store = new ObjectStore();
  const runtime = options.runtime ?? createContainerRuntime();
  const podFaults = new PodFaults();
  const apiFaults = new ApiFaults();
  const controller = new JobController({ store, faults: podFaults });
  const kubelet = new Kubelet({
    store,
    runtime,
    stepMs,
    containerEnv: { ...options.containerEnv },
    changed: (pod, removed) => controller.podChanged(pod, removed),
  });
  controller.kubelet = kubelet;
  let invalid = 0;
  const requests: Record<string, number> = {};
  const received: unknown[] = [];
  const ctx: ApiContext = {
    store,
    controller,
    kubelet,
    namespaces: namespaceObjects(options.namespaces ?? ['default']),
    validate,
    received,
    rejected: () => void invalid++,
  };
  let address = '';
  const server = await serveApi({
    resolve: createRouter(ctx, () => address),
    intercept(method, path, operation) {
      requests[operation] = (requests[operation] ?? 0) + 1;
      return apiFaults.take(method, path, operation);
    },
  });
  address = `127.0.0.1:${server.port}`;
  const url = `http://${address}`;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-kube-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  const yaml = kubeconfigYaml(url);
  writeFileSync(kubeconfigPath, yaml);
  let stopped = false;

  return {
    url,
    port: server.port,
    kubeconfigPath,
    kubeconfig: () => yaml,
    requests,
    received,
    get invalid() {
      return invalid;
    },
    resetCounts() {
      for (const key of Object.keys(requests)) delete requests[key];
      received.length = 0;
    },
    jobs: (namespace) => store.all<KubeJob>('jobs', namespace),
    pods: (namespace) => store.all<KubePod>('pods', namespace),
    secrets: (namespace) => store.all<KubeSecret>('secrets', namespace),
    log: (pod, namespace = 'default') => kubelet.log(namespace, pod, false)?.read(),
    get running() {
      return runtime.running;
    },
    inject: (rule) => podFaults.inject(rule),
    clearFaults() {
      podFaults.clear();
      apiFaults.clear();
    },
    failApi: (rule) => apiFaults.add(rule),
    deleteJobOutside(name, namespace = 'default') {
      if (!store.peek('jobs', namespace, name)) throw new Error(`no job ${namespace}/${name}`);
      controller.deleteJob(namespace, name, 'Background', 0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      controller.stop();
      kubelet.stop();
      await server.close();
      if (!options.runtime) await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
