// Issue 12, item 4: typed failures from a pod's status (the shapes of real kubelet / scheduler / job
// controller statuses, see /work/shared/notes/compute.md §3 and §4.1).
import { describe, expect, test } from 'vitest';
import type { RemoteJobStatus } from '@tributary/core';
import { podStatus } from '../src/pod-status.ts';

const NAME = 't-train-8xl25-pfh9f';
const T0 = '2026-12-02T10:00:00Z';
const T1 = '2026-12-02T10:00:05Z';
const T2 = '2026-12-02T10:01:05Z';

function pod(status: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: NAME,
      namespace: 'ml',
      creationTimestamp: T0,
      labels: { 'job-name': 't-train-8xl25', 'batch.kubernetes.io/job-name': 't-train-8xl25' },
    },
    spec: { restartPolicy: 'Never', containers: [{ name: 'train', image: 'reg/img:1' }] },
    status,
  };
}

function container(state: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { name: 'train', image: 'reg/img:1', imageID: '', ready: false, restartCount: 0, started: false, state, ...extra };
}

const scheduled = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: T0 };

function waiting(reason: string, message?: string) {
  return pod({
    phase: 'Pending',
    conditions: [
      scheduled,
      { type: 'Initialized', status: 'True', lastTransitionTime: T0 },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [train]' },
      { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [train]' },
    ],
    hostIP: '10.0.0.5',
    startTime: T0,
    containerStatuses: [container({ waiting: { reason, ...(message ? { message } : {}) } })],
  });
}

function terminated(phase: 'Succeeded' | 'Failed', t: Record<string, unknown>, more: Record<string, unknown> = {}) {
  return pod({
    phase,
    conditions: [scheduled, { type: 'Ready', status: 'False', reason: phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed' }],
    hostIP: '10.0.0.5',
    podIP: '10.1.0.7',
    startTime: T0,
    containerStatuses: [
      container({ terminated: { startedAt: T1, finishedAt: T2, containerID: 'containerd://abc', ...t } }, { started: false }),
    ],
    ...more,
  });
}

const running = pod({
  phase: 'Running',
  conditions: [scheduled, { type: 'Ready', status: 'True', lastTransitionTime: T1 }],
  hostIP: '10.0.0.5',
  podIP: '10.1.0.7',
  startTime: T0,
  containerStatuses: [container({ running: { startedAt: T1 } }, { ready: true, started: true })],
});

function failure(s: RemoteJobStatus): Extract<RemoteJobStatus, { state: 'failed' }> {
  expect(s.state).toBe('failed');
  return s as Extract<RemoteJobStatus, { state: 'failed' }>;
}

describe('podStatus: before it runs', () => {
  test('issue 12 item 4: Pending, ContainerCreating → pending', () => {
    expect(podStatus(waiting('ContainerCreating'))).toEqual({ state: 'pending', reason: 'ContainerCreating' });
  });

  test('issue 12 item 4: Pending with no container status yet → pending', () => {
    expect(podStatus(pod({ phase: 'Pending' })).state).toBe('pending');
    expect(podStatus(pod({ phase: 'Pending', conditions: [scheduled], qosClass: 'Burstable' })).state).toBe('pending');
  });

  test('issue 12 item 4: PodScheduled False / Unschedulable → pending, with the scheduler’s message', () => {
    const msg =
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.';
    const s = podStatus(
      pod({
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: msg, lastTransitionTime: T0, lastProbeTime: null },
        ],
        qosClass: 'Burstable',
      }),
    );
    expect(s.state).toBe('pending');
    expect((s as { reason?: string }).reason).toContain('Unschedulable');
    expect((s as { reason?: string }).reason).toContain('2 Insufficient memory');
  });

  test.each([
    ['ImagePullBackOff', 'Back-off pulling image "reg/nope:1"'],
    ['CreateContainerConfigError', 'secret "db-credentials" not found'],
    ['InvalidImageName', 'Failed to apply default image tag "Reg/Bad Image": couldn\'t parse image name'],
    ['ErrImageNeverPull', 'Container image "reg/img:1" is not present with pull policy of Never'],
  ])('issue 12 item 4: waiting %s → unstartable, with the reason and message', (reason, message) => {
    const s = podStatus(waiting(reason, message));
    expect(s.state).toBe('unstartable');
    expect((s as { reason: string }).reason).toContain(reason);
    expect((s as { reason: string }).reason).toContain(message);
  });

  test('issue 12 item 4: ErrImagePull (a first failed pull, retried by the kubelet) → still pending', () => {
    const s = podStatus(waiting('ErrImagePull', 'rpc error: code = Unknown desc = failed to pull and unpack image "reg/img:1": 503'));
    expect(s.state).toBe('pending');
    expect((s as { reason?: string }).reason).toBe('ErrImagePull');
  });
});

describe('podStatus: running and finished', () => {
  test('issue 12 item 4: Running → running', () => {
    expect(podStatus(running)).toEqual({ state: 'running' });
  });

  test('issue 12 item 4: Succeeded (Completed, exit 0) → succeeded, also when the pod is deleted afterwards', () => {
    const done = terminated('Succeeded', { exitCode: 0, reason: 'Completed' });
    expect(podStatus(done)).toEqual({ state: 'succeeded' });
    expect(podStatus(done, true)).toEqual({ state: 'succeeded' });
  });

  test('issue 12 item 4: Failed, terminated OOMKilled 137 → COMPUTE_OOM', () => {
    const s = failure(podStatus(terminated('Failed', { exitCode: 137, reason: 'OOMKilled' })));
    expect(s.kind).toBe('COMPUTE_OOM');
    expect(s.exitCode).toBe(137);
    expect(s.message).toContain(NAME);
    expect(s.message).toContain('memory');
  });

  test('issue 12 item 4: Failed, terminated Error exit 3 → NON_ZERO_EXIT with exit code 3', () => {
    const s = failure(podStatus(terminated('Failed', { exitCode: 3, reason: 'Error', message: 'Traceback: boom' })));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBe(3);
    expect(s.message).toContain('exit code 3');
    expect(s.message).toContain('Traceback: boom');
  });

  test('issue 12 item 4: Failed with reason Evicted → COMPUTE_PREEMPTED', () => {
    const evicted = pod({
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 512Mi. ',
      startTime: T0,
      containerStatuses: [
        container({
          terminated: {
            exitCode: 137,
            reason: 'ContainerStatusUnknown',
            message: 'The container could not be located when the pod was terminated',
          },
        }),
      ],
    });
    const s = failure(podStatus(evicted));
    expect(s.kind).toBe('COMPUTE_PREEMPTED');
    expect(s.message).toContain('Evicted');
    expect(s.message).toContain('low on resource');
  });

  test('issue 12 item 4: Failed with reason Evicted and no container status → COMPUTE_PREEMPTED', () => {
    expect(failure(podStatus(pod({ phase: 'Failed', reason: 'Evicted', message: 'Pod was evicted' }))).kind).toBe('COMPUTE_PREEMPTED');
  });

  test.each([
    ['TerminationByKubelet', 'Pod was terminated in response to imminent node shutdown.'],
    ['DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint'],
    ['PreemptionByScheduler', 'default-scheduler: preempting to accommodate a higher priority pod'],
    ['EvictionByEvictionAPI', 'Eviction API: evicting'],
  ])('issue 12 item 4: a DisruptionTarget condition (%s) → COMPUTE_PREEMPTED', (reason, message) => {
    const disruption = { type: 'DisruptionTarget', status: 'True', reason, message, lastTransitionTime: T2, lastProbeTime: null };
    const failed = terminated('Failed', { exitCode: 137, reason: 'Error' }, { conditions: [scheduled, disruption] });
    const s = failure(podStatus(failed));
    expect(s.kind).toBe('COMPUTE_PREEMPTED');
    expect(s.message).toContain(reason);
    // Deleted by the cluster while it ran: the same.
    const deleted = pod({ ...(running.status as object), conditions: [scheduled, disruption] });
    expect(failure(podStatus(deleted, true)).kind).toBe('COMPUTE_PREEMPTED');
  });

  test.each([
    ['Terminated', 'Pod was terminated in response to imminent node shutdown.'],
    ['NodeShutdown', 'Pod was rejected as the node is shutting down.'],
    ['Preempting', 'Preempted in order to admit critical pod'],
  ])('issue 12 item 4: Failed with pod reason %s (graceful node shutdown, kubelet preemption) → COMPUTE_PREEMPTED', (reason, message) => {
    const s = failure(podStatus(terminated('Failed', { exitCode: 143, reason: 'Error' }, { reason, message })));
    expect(s.kind).toBe('COMPUTE_PREEMPTED');
    expect(s.message).toContain(reason);
  });

  test('issue 12 item 4: a DisruptionTarget condition with status False does not count', () => {
    const stale = { type: 'DisruptionTarget', status: 'False', reason: 'PreemptionByScheduler' };
    const failed = terminated('Failed', { exitCode: 2, reason: 'Error' }, { conditions: [scheduled, stale] });
    const s = failure(podStatus(failed));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBe(2);
  });

  test('issue 12 item 4: Failed with reason DeadlineExceeded (activeDeadlineSeconds, @timeout) → TIMEOUT', () => {
    const past = terminated(
      'Failed',
      { exitCode: 137, reason: 'Error' },
      { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' },
    );
    const s = failure(podStatus(past));
    expect(s.kind).toBe('TIMEOUT');
    expect(s.message).toContain('deadline');
    // Also before the container status caught up.
    expect(failure(podStatus(pod({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active…' }))).kind).toBe('TIMEOUT');
  });

  test('issue 12 item 4: deleted while Running (no DisruptionTarget) → gone', () => {
    const s = podStatus(running, true);
    expect(s.state).toBe('gone');
    expect((s as { message?: string }).message).toContain(NAME);
  });

  test('issue 12 item 4: deleted while Pending → gone', () => {
    expect(podStatus(waiting('ContainerCreating'), true).state).toBe('gone');
  });

  test('issue 12 item 4: deleted after the container failed → the container’s failure, not gone', () => {
    const s = failure(podStatus(terminated('Failed', { exitCode: 1, reason: 'Error' }), true));
    expect(s.kind).toBe('NON_ZERO_EXIT');
    expect(s.exitCode).toBe(1);
  });
});
