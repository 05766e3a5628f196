/**
 * The job controller: keeps each Job's pods (one per outstanding completion, at most
 * `parallelism`; one per completion index for Indexed Jobs), counts their outcomes, applies the
 * backoff limits, deadlines, pod failure policy and TTL, and writes the Job status as the real
 * controller does (§4.1 of docs compute.md). Deletion with propagation policies lives here too.
 */
import { formatIndexes } from './indexes.ts';
import type { PodFaults } from './faults.ts';
import type { Kubelet } from './kubelet.ts';
import { now, type Condition, type JobStatus, type KubeJob, type KubePod } from './model.ts';
import { evaluatePodFailurePolicy } from './pod-failure-policy.ts';
import { setCondition } from './pod-status.ts';
import { INDEX_KEY, podFromTemplate, TRACKING_FINALIZER } from './pod-template.ts';
import type { ObjectStore } from './store.ts';

type Ending = { type: 'Complete' | 'Failed'; reason: string; message: string };

interface JobState {
  namespace: string;
  name: string;
  uid: string;
  succeeded: number;
  failed: number;
  succeededIndexes: Set<number>;
  failedIndexes: Set<number>;
  indexFailures: Map<number, number>;
  /** Pods whose outcome is counted (or deliberately not). */
  counted: Set<string>;
  /** Pods the controller deleted itself, and whether that counts as a failure. */
  deletedByController: Map<string, boolean>;
  ending?: Ending;
  finished: boolean;
  deadlineHit: boolean;
  deadlineTimer?: NodeJS.Timeout;
  ttlTimer?: NodeJS.Timeout;
  queued: boolean;
  foreground: boolean;
  /** The startTime the deadline timer was armed for (it moves when a suspended Job resumes). */
  startTime?: string;
}

export type Propagation = 'Background' | 'Foreground' | 'Orphan';

export interface JobControllerOptions {
  store: ObjectStore;
  faults: PodFaults;
}

function indexOf(pod: KubePod): number | undefined {
  const value = pod.metadata.annotations?.[INDEX_KEY];
  return value === undefined ? undefined : Number(value);
}

const isTerminal = (pod: KubePod) => pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed';
const isActive = (pod: KubePod) => !isTerminal(pod) && !pod.metadata.deletionTimestamp;

export class JobController {
  private readonly states = new Map<string, JobState>();
  private stopped = false;
  kubelet!: Kubelet;

  constructor(private readonly options: JobControllerOptions) {}

  private get store(): ObjectStore {
    return this.options.store;
  }

  private stateOf(pod: KubePod): JobState | undefined {
    const owner = pod.metadata.ownerReferences?.find((o) => o.kind === 'Job' && o.controller);
    if (!owner) return undefined;
    const state = this.states.get(`${pod.metadata.namespace}/${owner.name}`);
    return state?.uid === owner.uid ? state : undefined;
  }

  created(job: KubeJob): void {
    const state: JobState = {
      namespace: job.metadata.namespace!,
      name: job.metadata.name,
      uid: job.metadata.uid!,
      succeeded: 0,
      failed: 0,
      succeededIndexes: new Set(),
      failedIndexes: new Set(),
      indexFailures: new Map(),
      counted: new Set(),
      deletedByController: new Map(),
      finished: false,
      deadlineHit: false,
      queued: false,
      foreground: false,
    };
    this.states.set(`${state.namespace}/${state.name}`, state);
    this.queue(state);
  }

  /** After a PATCH or PUT: parallelism, suspend, deadlines and TTL may have changed. */
  updated(job: KubeJob): void {
    const state = this.states.get(`${job.metadata.namespace}/${job.metadata.name}`);
    if (!state) return;
    this.armDeadline(state, job);
    if (state.finished) this.armTtl(state, job);
    this.queue(state);
  }

  /** From the kubelet: a pod changed or was removed. Outcomes are counted here, as they happen. */
  podChanged(pod: KubePod, removed: boolean): void {
    const state = this.stateOf(pod);
    if (!state) return;
    const uid = pod.metadata.uid!;
    if (!state.counted.has(uid)) {
      const job = this.store.peek<KubeJob>('jobs', state.namespace, state.name);
      const replaceOnTerminating = job?.spec.podReplacementPolicy !== 'Failed';
      if (pod.status.phase === 'Succeeded') this.countSuccess(state, pod);
      else if (pod.status.phase === 'Failed' || removed || (replaceOnTerminating && pod.metadata.deletionTimestamp))
        this.countFailure(state, pod);
      if (state.counted.has(uid) && !removed) this.dropFinalizer(pod);
    }
    if (removed && state.foreground) this.finishForeground(state);
    this.queue(state);
  }

  private countSuccess(state: JobState, pod: KubePod): void {
    state.counted.add(pod.metadata.uid!);
    const index = indexOf(pod);
    if (index === undefined) state.succeeded++;
    else if (!state.succeededIndexes.has(index) && !state.failedIndexes.has(index)) {
      state.succeededIndexes.add(index);
      state.succeeded++;
    }
  }

  private countFailure(state: JobState, pod: KubePod): void {
    const uid = pod.metadata.uid!;
    state.counted.add(uid);
    const byController = state.deletedByController.get(uid);
    if (byController === false) return;
    const job = this.store.peek<KubeJob>('jobs', state.namespace, state.name);
    if (!job) return;
    const verdict = job.spec.podFailurePolicy ? evaluatePodFailurePolicy(job.spec, pod) : { action: 'Count' as const };
    if (verdict.action === 'Ignore') return;
    state.failed++;
    const index = indexOf(pod);
    if (verdict.action === 'FailJob') {
      state.ending ??= { type: 'Failed', reason: 'PodFailurePolicy', message: verdict.message! };
    } else if (index !== undefined && job.spec.backoffLimitPerIndex !== undefined && !byController) {
      const failures = (state.indexFailures.get(index) ?? 0) + 1;
      state.indexFailures.set(index, failures);
      if (verdict.action === 'FailIndex' || failures > job.spec.backoffLimitPerIndex) state.failedIndexes.add(index);
    }
  }

  private dropFinalizer(pod: KubePod): void {
    this.store.update<KubePod>('pods', pod.metadata.namespace!, pod.metadata.name, (p) => {
      p.metadata.finalizers = (p.metadata.finalizers ?? []).filter((f) => f !== TRACKING_FINALIZER);
      if (p.metadata.finalizers.length === 0) delete p.metadata.finalizers;
    });
  }

  private queue(state: JobState): void {
    if (state.queued || this.stopped) return;
    state.queued = true;
    // Coalesces a burst of pod changes into one reconcile, as the controller's work queue does.
    setImmediate(() => {
      state.queued = false;
      if (!this.stopped) this.reconcile(state);
    });
  }

  private ownedPods(state: JobState): KubePod[] {
    return this.store
      .all<KubePod>('pods', state.namespace)
      .filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === state.uid))
      .sort((a, b) => (a.metadata.creationTimestamp! < b.metadata.creationTimestamp! ? -1 : a.metadata.name < b.metadata.name ? -1 : 1));
  }

  private reconcile(state: JobState): void {
    const job = this.store.peek<KubeJob>('jobs', state.namespace, state.name);
    if (!job || job.metadata.uid !== state.uid || job.metadata.deletionTimestamp || state.finished) return;
    const spec = job.spec;
    const pods = this.ownedPods(state);
    const active = pods.filter(isActive);
    const indexed = spec.completionMode === 'Indexed';
    const completions = spec.completions ?? undefined;
    const restarts = active.reduce((n, p) => n + (p.status.containerStatuses?.[0]?.restartCount ?? 0), 0);

    if (!state.ending) {
      if (state.deadlineHit)
        state.ending = { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
      else if (state.failed + restarts > spec.backoffLimit!) {
        state.ending = { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      } else if (indexed && spec.maxFailedIndexes !== undefined && state.failedIndexes.size > spec.maxFailedIndexes) {
        state.ending = {
          type: 'Failed',
          reason: 'MaxFailedIndexesExceeded',
          message: 'Job has exceeded the specified maximal number of failed indexes',
        };
      } else if (indexed && state.succeededIndexes.size + state.failedIndexes.size >= completions!) {
        state.ending =
          state.failedIndexes.size > 0
            ? { type: 'Failed', reason: 'FailedIndexes', message: 'Job has failed indexes' }
            : { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
      } else if (!indexed && (completions !== undefined ? state.succeeded >= completions : state.succeeded > 0 && active.length === 0)) {
        state.ending = { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
      }
    }

    if (state.ending) {
      // A failing Job's remaining pods are terminated and count as failed; a complete one's are just removed.
      for (const pod of active) this.deletePod(state, pod, state.ending.type === 'Failed');
    } else if (spec.suspend) {
      for (const pod of active) this.deletePod(state, pod, false);
    } else if (indexed) {
      this.manageIndexed(state, job, active);
    } else {
      const want = Math.max(
        0,
        completions !== undefined
          ? Math.min(spec.parallelism!, completions - state.succeeded)
          : state.succeeded > 0
            ? 0
            : spec.parallelism!,
      );
      for (let i = active.length; i < want; i++) this.createPod(state, job, undefined);
      // Scale-down: the newest pods go first, not counted as failures.
      for (const pod of active.slice(want).reverse()) this.deletePod(state, pod, false);
    }
    this.writeStatus(state, job);
  }

  private manageIndexed(state: JobState, job: KubeJob, active: KubePod[]): void {
    const parallelism = job.spec.parallelism!;
    const running = new Set(active.map(indexOf));
    let free = parallelism - active.length;
    for (let i = 0; i < job.spec.completions! && free > 0; i++) {
      if (state.succeededIndexes.has(i) || state.failedIndexes.has(i) || running.has(i)) continue;
      this.createPod(state, job, i);
      free--;
    }
    const excess = [...active].sort((a, b) => indexOf(b)! - indexOf(a)!).slice(0, Math.max(0, active.length - parallelism));
    for (const pod of excess) this.deletePod(state, pod, false);
    // An index whose pod is still running after another pod completed it (a replacement race): not needed.
    for (const pod of active) if (state.failedIndexes.has(indexOf(pod)!)) this.deletePod(state, pod, false);
  }

  private writeStatus(state: JobState, job: KubeJob): void {
    const pods = this.ownedPods(state);
    const active = pods.filter(isActive);
    const terminating = pods.filter((p) => !isTerminal(p) && p.metadata.deletionTimestamp).length;
    const spec = job.spec;
    let finishedNow = false;
    const stored = this.store.update<KubeJob>('jobs', state.namespace, state.name, (j) => {
      const s: JobStatus = j.status;
      const conditions: Condition[] = (s.conditions ??= []);
      if (spec.suspend && !state.ending) {
        setCondition(conditions, { type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended' });
      } else {
        if (conditions.some((c) => c.type === 'Suspended' && c.status === 'True')) {
          setCondition(conditions, { type: 'Suspended', status: 'False', reason: 'JobResumed', message: 'Job resumed' });
          delete s.startTime;
        }
        s.startTime ??= now();
      }
      if (active.length > 0) s.active = active.length;
      else delete s.active;
      s.ready = active.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      s.terminating = terminating;
      if (state.succeeded > 0) s.succeeded = state.succeeded;
      if (state.failed > 0) s.failed = state.failed;
      if (spec.completionMode === 'Indexed') {
        const completed = formatIndexes(state.succeededIndexes);
        if (completed) s.completedIndexes = completed;
        if (spec.backoffLimitPerIndex !== undefined) s.failedIndexes = formatIndexes(state.failedIndexes);
      }
      s.uncountedTerminatedPods = {};
      const ending = state.ending;
      if (ending) {
        const interim = ending.type === 'Complete' ? 'SuccessCriteriaMet' : 'FailureTarget';
        setCondition(conditions, { type: interim, status: 'True', reason: ending.reason, message: ending.message });
        // The final condition waits until no pod of the Job is still running or terminating.
        if (active.length === 0 && terminating === 0) {
          setCondition(conditions, { type: ending.type, status: 'True', reason: ending.reason, message: ending.message });
          if (ending.type === 'Complete') s.completionTime = now();
          finishedNow = true;
        }
      }
    });
    if (stored && stored.status.startTime !== state.startTime) {
      state.startTime = stored.status.startTime;
      this.armDeadline(state, stored);
    }
    if (finishedNow && stored) {
      state.finished = true;
      clearTimeout(state.deadlineTimer);
      this.armTtl(state, stored);
    }
  }

  private armDeadline(state: JobState, job: KubeJob): void {
    clearTimeout(state.deadlineTimer);
    const seconds = job.spec.activeDeadlineSeconds;
    const start = job.status.startTime;
    if (seconds === undefined || !start || state.finished) return;
    const due = Date.parse(start) + seconds * 1000 - Date.now();
    state.deadlineTimer = setTimeout(
      () => {
        state.deadlineHit = true;
        this.queue(state);
      },
      Math.max(0, due),
    );
  }

  private armTtl(state: JobState, job: KubeJob): void {
    clearTimeout(state.ttlTimer);
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined) return;
    // The TTL controller deletes finished Jobs with foreground propagation.
    state.ttlTimer = setTimeout(() => {
      if (!this.stopped) this.deleteJob(state.namespace, state.name, 'Foreground');
    }, ttl * 1000);
  }

  private createPod(state: JobState, job: KubeJob, index: number | undefined): void {
    const pod = podFromTemplate(job, index, (name) => this.store.peek('pods', state.namespace, name) !== undefined);
    const created = this.store.create('pods', pod);
    // A copy: a rule's match function must not be able to change the stored Job.
    this.kubelet.admit(created, this.options.faults.take(structuredClone(job), index));
  }

  private deletePod(state: JobState, pod: KubePod, countAsFailed: boolean): void {
    const uid = pod.metadata.uid!;
    if (state.deletedByController.has(uid)) return;
    state.deletedByController.set(uid, countAsFailed);
    this.kubelet.delete(pod.metadata.namespace!, pod.metadata.name);
  }

  /**
   * DELETE of a Job. Background: the Job goes now, its pods after it (their containers stopped).
   * Foreground: the Job is marked (deletionTimestamp, `foregroundDeletion`) and goes once its pods
   * are gone. Orphan (batch/v1's default when no policy is given): the Job goes, its pods stay and
   * lose their owner reference. Returns the Job as it then stands, or undefined if it is gone.
   */
  deleteJob(namespace: string, name: string, propagation: Propagation, graceSeconds?: number): KubeJob | undefined {
    const key = `${namespace}/${name}`;
    const state = this.states.get(key);
    const job = this.store.peek<KubeJob>('jobs', namespace, name);
    if (!job) return undefined;
    const pods = state ? this.ownedPods(state) : [];
    if (state) {
      clearTimeout(state.deadlineTimer);
      clearTimeout(state.ttlTimer);
    }
    if (propagation === 'Foreground') {
      if (state) state.foreground = true;
      const marked = this.store.update<KubeJob>('jobs', namespace, name, (j) => {
        j.metadata.deletionTimestamp ??= now();
        j.metadata.deletionGracePeriodSeconds = 0;
        j.metadata.finalizers = [...new Set([...(j.metadata.finalizers ?? []), 'foregroundDeletion'])];
      });
      for (const pod of pods) this.kubelet.delete(namespace, pod.metadata.name, graceSeconds);
      if (state) this.finishForeground(state);
      return this.store.get<KubeJob>('jobs', namespace, name) ?? marked;
    }
    this.states.delete(key);
    this.store.remove('jobs', namespace, name);
    for (const pod of pods) {
      if (propagation === 'Background') this.kubelet.delete(namespace, pod.metadata.name, graceSeconds);
      else {
        this.store.update<KubePod>('pods', namespace, pod.metadata.name, (p) => {
          p.metadata.ownerReferences = (p.metadata.ownerReferences ?? []).filter((o) => o.uid !== state?.uid);
          if (p.metadata.ownerReferences.length === 0) delete p.metadata.ownerReferences;
        });
      }
    }
    return undefined;
  }

  private finishForeground(state: JobState): void {
    if (this.ownedPods(state).length > 0) return;
    this.states.delete(`${state.namespace}/${state.name}`);
    this.store.remove('jobs', state.namespace, state.name);
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.states.values()) {
      clearTimeout(state.deadlineTimer);
      clearTimeout(state.ttlTimer);
    }
  }
}
