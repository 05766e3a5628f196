/**
 * The node: takes the pods the job controller creates through their lifecycle as a kubelet does
 * (scheduled → ContainerCreating → Running → Succeeded/Failed), running the first container's
 * command in the shared container runtime, and applies pod faults, pod deadlines and deletions.
 * Every change goes through the store, so clients see it in reads and watches.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerExit, ContainerProcess, ContainerRuntime } from '@tributary/conformance/testing';
import { ContainerConfigError, containerArgv, containerEnv, memoryLimitMiB } from './container-env.ts';
import type { PlannedFault } from './faults.ts';
import { now, type ContainerState, type KubePod, type KubeSecret } from './model.ts';
import { ContainerLog } from './pod-logs.ts';
import { setCondition, setContainerStates, stageConditions } from './pod-status.ts';
import type { ObjectStore } from './store.ts';

export const NODE_NAME = 'emulator-node';
/** Containers are local processes: the pod and host IP that reaches them is loopback. */
export const NODE_IP = '127.0.0.1';

const EVICTION_MESSAGE =
  'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container main was using 3145728Ki, request is 0, has larger consumption of memory. ';

type Cause = 'deadline' | 'evict' | 'node-lost' | 'deleted';

interface PodRuntime {
  namespace: string;
  name: string;
  fault: PlannedFault | undefined;
  process?: ContainerProcess;
  /** One per container run, the last the current one (`previous=true` reads the one before). */
  logs: ContainerLog[];
  timers: Set<NodeJS.Timeout>;
  cause?: Cause;
  waitingForConfig: boolean;
  terminal: boolean;
  deleting: boolean;
  containerID: string;
  restartCount: number;
}

export interface KubeletOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  stepMs: number;
  /** What the platform gives every container (credentials of a pod identity, say); the pod's own env overrides it. */
  containerEnv: Record<string, string>;
  /** Called after every change the kubelet makes to a pod, and once more after it is removed. */
  changed: (pod: KubePod, removed: boolean) => void;
}

export class Kubelet {
  private readonly pods = new Map<string, PodRuntime>();
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: KubeletOptions) {
    // A container waiting for a missing Secret starts once the Secret appears, as the kubelet retries.
    this.unsubscribe = options.store.subscribe((resource, type, object) => {
      if (resource !== 'secrets' || type === 'DELETED') return;
      for (const rt of this.pods.values()) if (rt.waitingForConfig && rt.namespace === object.metadata.namespace) this.startContainer(rt);
    });
  }

  private key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  private later(rt: PodRuntime, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      rt.timers.delete(timer);
      if (!this.stopped) fn();
    }, ms);
    rt.timers.add(timer);
  }

  private update(rt: PodRuntime, mutate: (pod: KubePod) => void): KubePod | undefined {
    const pod = this.options.store.update<KubePod>('pods', rt.namespace, rt.name, mutate);
    if (pod) this.options.changed(pod, false);
    return pod;
  }

  /** Takes a pod just created by the controller. */
  admit(pod: KubePod, fault: PlannedFault | undefined): void {
    const rt: PodRuntime = {
      namespace: pod.metadata.namespace!,
      name: pod.metadata.name,
      fault,
      logs: [],
      timers: new Set(),
      waitingForConfig: false,
      terminal: false,
      deleting: false,
      containerID: `containerd://${randomBytes(32).toString('hex')}`,
      restartCount: 0,
    };
    this.pods.set(this.key(rt.namespace, rt.name), rt);
    this.later(rt, this.options.stepMs, () => this.schedule(rt));
  }

  private schedule(rt: PodRuntime): void {
    if (rt.deleting) return;
    if (rt.fault?.fault === 'stuck-pending') {
      this.update(rt, (pod) => {
        setCondition((pod.status.conditions ??= []), {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message:
            '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.',
        });
      });
      return;
    }
    const pod = this.update(rt, (p) => {
      p.spec.nodeName = NODE_NAME;
      p.status.hostIP = NODE_IP;
      p.status.hostIPs = [{ ip: NODE_IP }];
      p.status.startTime = now();
      stageConditions(p, 'scheduled');
      setContainerStates(p, { waiting: { reason: 'ContainerCreating' } });
    });
    const deadline = pod?.spec.activeDeadlineSeconds;
    // The kubelet counts a pod's deadline from its start on the node, image pulls included.
    if (deadline !== undefined) this.later(rt, deadline * 1000, () => this.deadline(rt));
    this.later(rt, this.options.stepMs, () => (rt.fault?.fault === 'image-pull' ? this.pullFails(rt) : this.startContainer(rt)));
  }

  private pullFails(rt: PodRuntime): void {
    if (rt.deleting || rt.terminal) return;
    const image = this.options.store.peek<KubePod>('pods', rt.namespace, rt.name)?.spec.containers[0]?.image ?? '';
    this.update(rt, (p) =>
      setContainerStates(p, {
        waiting: {
          reason: 'ErrImagePull',
          message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization`,
        },
      }),
    );
    this.later(rt, this.options.stepMs, () => {
      if (rt.deleting || rt.terminal) return;
      this.update(rt, (p) =>
        setContainerStates(p, { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } }),
      );
    });
  }

  private startContainer(rt: PodRuntime): void {
    if (rt.deleting || rt.terminal || rt.process) return;
    const pod = this.options.store.peek<KubePod>('pods', rt.namespace, rt.name);
    if (!pod) return;
    const container = pod.spec.containers[0]!;
    const podForEnv: KubePod = { ...pod, status: { ...pod.status, podIP: NODE_IP } };
    let env: Record<string, string>;
    try {
      env = {
        ...this.options.containerEnv,
        ...containerEnv(podForEnv, container, (name) => this.options.store.peek<KubeSecret>('secrets', rt.namespace, name)),
      };
    } catch (e) {
      if (!(e instanceof ContainerConfigError)) throw e;
      rt.waitingForConfig = true;
      this.update(rt, (p) => setContainerStates(p, { waiting: { reason: 'CreateContainerConfigError', message: e.message } }));
      return;
    }
    rt.waitingForConfig = false;
    const argv = containerArgv(container, env);
    if (argv.length === 0) {
      // A real container would run its image's entrypoint; there is no image here to have one.
      return this.finish(rt, {
        exitCode: 128,
        reason: 'StartError',
        message: `emulator: container "${container.name}" has no command or args (image entrypoints are not known here)`,
        finishedAt: now(),
      });
    }
    const limit = memoryLimitMiB(container);
    const process = this.options.runtime.run({
      argv,
      env,
      ...(limit !== undefined ? { memoryLimitMiB: limit } : {}),
      graceMs: (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000,
    });
    rt.process = process;
    rt.logs.push(new ContainerLog(process));
    const startedAt = now();
    this.update(rt, (p) => {
      p.status.phase = 'Running';
      p.status.podIP = NODE_IP;
      p.status.podIPs = [{ ip: NODE_IP }];
      stageConditions(p, 'running');
      setContainerStates(
        p,
        { running: { startedAt } },
        { containerID: rt.containerID, imageID: imageID(container.image ?? ''), ready: true, started: true, restartCount: rt.restartCount },
      );
    });
    const fault = rt.fault;
    if (fault && (fault.fault === 'oom' || fault.fault === 'evict' || fault.fault === 'node-lost')) {
      this.later(rt, fault.afterMs, () => this.applyFault(rt, process, fault.fault));
    }
    void process.exited.then((exit) => this.exited(rt, process, exit, startedAt));
  }

  private applyFault(rt: PodRuntime, process: ContainerProcess, fault: PlannedFault['fault']): void {
    if (rt.process !== process || rt.deleting || rt.cause) return;
    if (fault === 'oom') return process.kill('oom');
    rt.cause = fault === 'evict' ? 'evict' : 'node-lost';
    process.kill('killed');
    if (fault === 'node-lost') {
      // The taint manager marks the pod for deletion; the node is gone, so its status still says running.
      this.update(rt, (p) => {
        setCondition((p.status.conditions ??= []), {
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'DeletionByTaintManager',
          message: 'Taint manager: deleting due to NoExecute taint',
        });
        p.metadata.deletionTimestamp = now();
        p.metadata.deletionGracePeriodSeconds = 30;
      });
    }
  }

  private exited(rt: PodRuntime, process: ContainerProcess, exit: ContainerExit, startedAt: string): void {
    if (rt.process !== process) return;
    rt.process = undefined;
    const finishedAt = now();
    const base = { startedAt, finishedAt, containerID: rt.containerID };
    if (rt.cause === 'node-lost') {
      // Pod GC finds the pod on a lost node: it is failed with what it knows, then removed.
      this.later(rt, this.options.stepMs, () => {
        this.finish(rt, {
          ...base,
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the pod was terminated',
        });
        this.remove(rt);
      });
      return;
    }
    if (exit.startError) {
      return this.finish(rt, {
        ...base,
        exitCode: 128,
        reason: 'StartError',
        message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${exit.startError}: unknown`,
      });
    }
    const reason = exit.reason === 'oom' ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
    const terminated: NonNullable<ContainerState['terminated']> = { ...base, exitCode: exit.exitCode, reason };
    const pod = this.options.store.peek<KubePod>('pods', rt.namespace, rt.name);
    const policy = pod?.spec.containers[0]?.terminationMessagePolicy;
    const log = rt.logs[rt.logs.length - 1];
    if (policy === 'FallbackToLogsOnError' && exit.exitCode !== 0 && log) {
      const message = log.fallbackMessage();
      if (message) terminated.message = message;
    }
    const restart = pod?.spec.restartPolicy === 'OnFailure' && exit.exitCode !== 0 && !rt.cause && !rt.deleting;
    if (restart) return this.restart(rt, terminated);
    this.finish(rt, terminated);
  }

  /** `restartPolicy: OnFailure`: the container is restarted in the same pod, after a back-off. */
  private restart(rt: PodRuntime, terminated: NonNullable<ContainerState['terminated']>): void {
    rt.restartCount++;
    this.update(rt, (p) => {
      stageConditions(p, 'scheduled');
      setContainerStates(
        p,
        {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 10s restarting failed container=${p.spec.containers[0]!.name} pod=${p.metadata.name}_${p.metadata.namespace}(${p.metadata.uid})`,
          },
        },
        { restartCount: rt.restartCount, lastState: { terminated } },
      );
    });
    this.later(rt, this.options.stepMs, () => this.startContainer(rt));
  }

  /** The pod's terminal status. */
  private finish(rt: PodRuntime, terminated: NonNullable<ContainerState['terminated']>): void {
    if (rt.terminal) return;
    rt.terminal = true;
    // A container that exits 0 on its SIGTERM still succeeded; a killed one did not.
    const succeeded = terminated.exitCode === 0 && (!rt.cause || rt.cause === 'deleted');
    this.update(rt, (p) => {
      p.status.phase = succeeded ? 'Succeeded' : 'Failed';
      stageConditions(p, succeeded ? 'succeeded' : 'failed');
      setContainerStates(p, { terminated }, { restartCount: rt.restartCount });
      if (rt.cause === 'deadline') {
        p.status.reason = 'DeadlineExceeded';
        p.status.message = 'Pod was active on the node longer than the specified deadline';
      } else if (rt.cause === 'evict') {
        p.status.reason = 'Evicted';
        p.status.message = EVICTION_MESSAGE;
        setCondition(p.status.conditions!, {
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'TerminationByKubelet',
          message: EVICTION_MESSAGE,
        });
      }
    });
    for (const timer of rt.timers) clearTimeout(timer);
    rt.timers.clear();
  }

  private deadline(rt: PodRuntime): void {
    if (rt.terminal || rt.deleting || rt.cause) return;
    rt.cause = 'deadline';
    if (rt.process) return rt.process.kill('killed');
    // Not started yet (an image that cannot be pulled): failed without a container having run.
    rt.terminal = true;
    this.update(rt, (p) => {
      p.status.phase = 'Failed';
      p.status.reason = 'DeadlineExceeded';
      p.status.message = 'Pod was active on the node longer than the specified deadline';
      stageConditions(p, 'failed');
    });
  }

  /**
   * Deletes a pod gracefully: deletionTimestamp (MODIFIED), the container stopped (SIGTERM, SIGKILL
   * after the grace period; `graceSeconds: 0` kills at once), its final status, then DELETED.
   */
  delete(namespace: string, name: string, graceSeconds?: number): KubePod | undefined {
    const rt = this.pods.get(this.key(namespace, name));
    const pod = this.options.store.peek<KubePod>('pods', namespace, name);
    if (!pod) return undefined;
    if (!rt) {
      // A pod the kubelet no longer tracks (terminal, or after stop()): just removed.
      const removed = this.options.store.remove<KubePod>('pods', namespace, name);
      if (removed) this.options.changed(removed, true);
      return removed;
    }
    if (rt.deleting) return this.options.store.get<KubePod>('pods', namespace, name);
    rt.deleting = true;
    const grace = graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const marked = this.update(rt, (p) => {
      p.metadata.deletionTimestamp = now();
      p.metadata.deletionGracePeriodSeconds = grace;
    });
    const process = rt.process;
    if (process && !rt.cause) {
      rt.cause = 'deleted';
      if (grace === 0) process.kill('killed');
      else process.stop();
      void process.exited.then(() => this.remove(rt));
    } else if (!process) {
      this.later(rt, 0, () => this.remove(rt));
    }
    return marked;
  }

  private remove(rt: PodRuntime): void {
    for (const timer of rt.timers) clearTimeout(timer);
    this.pods.delete(this.key(rt.namespace, rt.name));
    const removed = this.options.store.remove<KubePod>('pods', rt.namespace, rt.name);
    if (removed) this.options.changed(removed, true);
  }

  /** A container's log: the current run, or with `previous` the one before; undefined if it never ran. */
  log(namespace: string, name: string, previous: boolean): ContainerLog | undefined {
    const rt = this.pods.get(this.key(namespace, name));
    if (!rt) return undefined;
    return previous ? rt.logs[rt.logs.length - 2] : rt.logs[rt.logs.length - 1];
  }

  /** Stops every timer; the containers are the runtime's to kill. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const rt of this.pods.values()) for (const timer of rt.timers) clearTimeout(timer);
  }
}

function imageID(image: string): string {
  const name = image.includes('/') ? image : `docker.io/library/${image}`;
  return `${name.split(':')[0]}@sha256:${Buffer.from(image).toString('hex').padEnd(64, '0').slice(0, 64)}`;
}
