/** Pod status pieces the kubelet writes at each stage, shaped as a 1.32 kubelet writes them. */
import type { Condition, ContainerState, ContainerStatus, KubePod } from './model.ts';
import { now } from './model.ts';

/** Sets a condition, keeping its lastTransitionTime when the status did not change. */
export function setCondition(conditions: Condition[], next: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>): void {
  const at = conditions.findIndex((c) => c.type === next.type);
  const previous = at >= 0 ? conditions[at] : undefined;
  const condition: Condition = {
    type: next.type,
    status: next.status,
    lastProbeTime: null,
    lastTransitionTime: previous && previous.status === next.status ? previous.lastTransitionTime! : now(),
    ...(next.reason ? { reason: next.reason } : {}),
    ...(next.message ? { message: next.message } : {}),
  };
  if (at >= 0) conditions[at] = condition;
  else conditions.push(condition);
}

export type PodStage = 'scheduled' | 'running' | 'succeeded' | 'failed';

/** The five conditions a kubelet keeps, for a stage of the pod. */
export function stageConditions(pod: KubePod, stage: PodStage): void {
  const conditions = (pod.status.conditions ??= []);
  const done = stage === 'succeeded' || stage === 'failed';
  const doneReason = stage === 'succeeded' ? 'PodCompleted' : 'PodFailed';
  setCondition(conditions, { type: 'PodReadyToStartContainers', status: stage === 'running' ? 'True' : 'False' });
  setCondition(conditions, { type: 'Initialized', status: 'True', ...(stage === 'succeeded' ? { reason: 'PodCompleted' } : {}) });
  if (stage === 'running') {
    setCondition(conditions, { type: 'Ready', status: 'True' });
    setCondition(conditions, { type: 'ContainersReady', status: 'True' });
  } else {
    const reason = done ? doneReason : 'ContainersNotReady';
    const names = pod.spec.containers.map((c) => c.name).join(' ');
    const message = done ? undefined : `containers with unready status: [${names}]`;
    setCondition(conditions, { type: 'Ready', status: 'False', reason, ...(message ? { message } : {}) });
    setCondition(conditions, { type: 'ContainersReady', status: 'False', reason, ...(message ? { message } : {}) });
  }
  setCondition(conditions, { type: 'PodScheduled', status: 'True' });
  // The order a real pod lists them in.
  const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled', 'DisruptionTarget'];
  conditions.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}

/** Sets every container's status; the first container's state is `main`, the others (which never run) follow it. */
export function setContainerStates(
  pod: KubePod,
  main: ContainerState,
  extra: {
    containerID?: string;
    imageID?: string;
    ready?: boolean;
    started?: boolean;
    restartCount?: number;
    lastState?: ContainerState;
  } = {},
): void {
  const previous = pod.status.containerStatuses ?? [];
  pod.status.containerStatuses = pod.spec.containers.map((container, i): ContainerStatus => {
    const before = previous.find((s) => s.name === container.name);
    // Containers after the first are not run by the emulator: they show the pod's progress, and end as Completed.
    const state: ContainerState =
      i === 0 || !main.terminated ? main : { terminated: { exitCode: 0, reason: 'Completed', finishedAt: main.terminated.finishedAt } };
    const status: ContainerStatus = {
      name: container.name,
      image: container.image ?? '',
      imageID: extra.imageID ?? before?.imageID ?? '',
      ready: extra.ready ?? false,
      restartCount: i === 0 ? (extra.restartCount ?? before?.restartCount ?? 0) : 0,
      state,
      lastState: i === 0 ? (extra.lastState ?? before?.lastState ?? {}) : {},
    };
    const id = i === 0 ? (extra.containerID ?? before?.containerID) : before?.containerID;
    if (id && !state.waiting) status.containerID = i === 0 ? id : `${id.slice(0, -1)}${i}`;
    status.started = extra.started ?? false;
    return status;
  });
}

/** `Guaranteed` when every container's limits equal its requests for cpu and memory, `BestEffort` with none, else `Burstable`. */
export function qosClass(pod: KubePod): string {
  const containers = pod.spec.containers;
  const any = containers.some((c) => Object.keys(c.resources?.limits ?? {}).length + Object.keys(c.resources?.requests ?? {}).length > 0);
  if (!any) return 'BestEffort';
  const guaranteed = containers.every((c) =>
    ['cpu', 'memory'].every(
      (r) =>
        c.resources?.limits?.[r] !== undefined &&
        String(c.resources.requests?.[r] ?? c.resources.limits[r]) === String(c.resources.limits[r]),
    ),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
