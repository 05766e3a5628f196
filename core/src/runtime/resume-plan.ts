import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { TributaryError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { MetadataStore, RunRecord, TaskRecord } from '../ports/metadata-store.ts';
import { finalizeUnfinishedTasks } from './finalize-tasks.ts';
import type { OriginTask } from '../execution/planned-task.ts';
import { changedSteps, needsOriginMetadata, transitionBlocker } from './resume-rules.ts';

/** One line of a resume plan. @public */
export interface ResumePlanEntry {
  step: string;
  /** Task key (`step[indices]#iteration`); absent for a step that never ran in the origin. */
  key?: string;
  /**
   * `clone`: reused as is; `re-run`: runs again; `run`: a step that never ran in the origin;
   * `unused`: an origin task the current flow has no place for (its step was renamed or removed).
   */
  action: 'clone' | 're-run' | 'run' | 'unused';
  reason: string;
  originPathspec?: string;
  /** A cloned task whose step's code changed since the origin run (`rerunChanged` re-runs it). */
  codeChanged?: boolean;
}

/** @public */
export interface ResumePlan {
  flow: string;
  originRunId: string;
  originStatus: string;
  entries: ResumePlanEntry[];
  /** Steps whose code changed since the origin run (their method's source differs). */
  changedSteps: string[];
  /** Whether changed steps re-run (`rerunChanged`). */
  rerunChanged: boolean;
}

/** The run to resume: the given one, or the latest run of the flow. @internal */
export async function findOrigin(metadata: MetadataStore, flow: string, originRunId: string | undefined): Promise<RunRecord> {
  if (originRunId !== undefined) return metadata.getRun(flow, originRunId);
  const latest = await metadata.latestRun(flow);
  if (!latest) throw new TributaryError('NOT_FOUND', `There is no run of ${flow} to resume. Run it first: tributary run <flow.ts>.`);
  return latest;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started (Linux: clock ticks since boot, from /proc), or undefined where that is
 * not known. Recorded with the orchestrator's pid so that a pid reused by another process later
 * is not mistaken for the orchestrator.
 * @internal
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/**
 * Is a run marked `running` really running? On this host the orchestrator's process tells (its
 * pid, checked against the process start time recorded with it); elsewhere, or when the pid is
 * alive but cannot be told apart from a reused one, the heartbeat does (stale after
 * `staleAfterMs`).
 * @public
 */
export async function runLiveness(
  metadata: MetadataStore,
  run: RunRecord,
  staleAfterMs = 30_000,
): Promise<{ alive: boolean; why: string }> {
  if (run.status !== 'running') return { alive: false, why: `it is ${run.status}` };
  const params = (await metadata.listTasks({ flow: run.flow, runId: run.runId, step: '_parameters', limit: 1 })).items[0];
  const info = params ? await metadata.getMetadata({ flow: run.flow, runId: run.runId, taskId: params.taskId }) : {};
  const pid = Number(info.pid);
  const heartbeat =
    run.heartbeatAt === undefined
      ? {
          fresh: Date.now() - run.createdAt <= staleAfterMs,
          why: `it never recorded a heartbeat (created ${ago(Date.now() - run.createdAt)} ago)`,
        }
      : { fresh: Date.now() - run.heartbeatAt <= staleAfterMs, why: `its last heartbeat was ${ago(Date.now() - run.heartbeatAt)} ago` };
  if (info.host === hostname() && Number.isInteger(pid) && pid !== process.pid) {
    if (!pidAlive(pid)) return { alive: false, why: `its orchestrator (pid ${pid}) is gone` };
    const started = info['pid-start'];
    const now = processStartTime(pid);
    if (started !== undefined && now !== undefined) {
      return started === now
        ? { alive: true, why: `its orchestrator (pid ${pid}) is still alive on this host` }
        : { alive: false, why: `its orchestrator (pid ${pid}) is gone (the pid now belongs to another process)` };
    }
    // A live pid without a start time to compare could be a reused one: trust the heartbeat.
    return heartbeat.fresh
      ? { alive: true, why: `its orchestrator (pid ${pid}) is alive and heartbeating` }
      : { alive: false, why: heartbeat.why };
  }
  return { alive: heartbeat.fresh, why: heartbeat.why };
}

/**
 * A run still marked `running` is either alive (refuse to resume it) or was killed (mark it
 * failed, then resume).
 * @internal
 */
export async function retireIfStale(metadata: MetadataStore, run: RunRecord, staleAfterMs: number): Promise<void> {
  if (run.status !== 'running') return;
  const { alive, why } = await runLiveness(metadata, run, staleAfterMs);
  const dead = !alive;
  if (!dead) {
    throw new TributaryError(
      'CONFLICT',
      `Run ${run.flow}/${run.runId} is still running (${why}). Wait for it to finish, or stop it, before resuming it.`,
    );
  }
  try {
    await metadata.finishRun(run.flow, run.runId, 'failed');
  } catch (err) {
    if (!TributaryError.is(err, 'CONFLICT')) throw err; // someone else retired it first
  }
  run.status = 'failed';
  await finalizeUnfinishedTasks(
    metadata,
    run.flow,
    run.runId,
    {
      code: 'WORKER_LOST',
      message: `The orchestrator of run ${run.flow}/${run.runId} stopped without finishing this attempt (${why}).`,
    },
    'lost its orchestrator',
  );
}

/** Every task of the origin run, by key. @internal */
export async function originTasks(metadata: MetadataStore, run: RunRecord): Promise<Map<string, OriginTask & { parents: string[] }>> {
  const out = new Map<string, OriginTask & { parents: string[] }>();
  let cursor: string | undefined;
  do {
    const page = await metadata.listTasks({ flow: run.flow, runId: run.runId, limit: 10_000, ...(cursor ? { cursor } : {}) });
    for (const t of page.items)
      out.set(t.key, {
        taskId: t.taskId,
        step: t.step,
        key: t.key,
        pathspec: `${run.flow}/${run.runId}/${t.step}/${t.taskId}`,
        status: t.status,
        parents: t.parents,
      });
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/** @internal */
export interface ResumePlanOptions {
  /** Re-run this step (and everything after it) even where the origin succeeded. */
  step?: string | undefined;
  /** Re-run steps whose code changed since the origin run. */
  rerunChanged?: boolean | undefined;
}

/**
 * Decide, for every task of the origin, whether a resume of the *current* flow clones it,
 * re-runs it, or has no use for it, with the rules the orchestrator applies (resume-rules.ts):
 * a task is cloned when it succeeded, its step still exists, it is not asked to re-run, what it
 * decided at run time (foreach items, switch case) fits the current graph, and its inputs are
 * clones of its origin inputs.
 * @internal
 */
export async function buildResumePlan(
  metadata: MetadataStore,
  graph: FlowGraph,
  origin: RunRecord,
  options: ResumePlanOptions = {},
): Promise<ResumePlan> {
  const tasks = [...(await originTasks(metadata, origin)).values()].sort((a, b) => Number(a.taskId) - Number(b.taskId));
  const changed = changedSteps(origin.graph as FlowGraph | undefined, graph);
  const rerunChanged = options.rerunChanged === true;
  const notCloned = new Map<string, string>(); // origin taskId → why it is not cloned
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const entries: ResumePlanEntry[] = [];
  const ran = new Set<string>();
  const runId = origin.runId;
  for (const t of tasks) {
    if (t.step === '_parameters') {
      entries.push({
        step: t.step,
        key: t.key,
        action: 'clone',
        reason: `parameters of run ${runId} are reused`,
        originPathspec: t.pathspec,
      });
      continue;
    }
    const node = graph.nodes[t.step];
    if (!node) {
      const why = `step ${t.step} is not in the flow any more (renamed or removed): this task of run ${runId} is not used`;
      notCloned.set(t.taskId, why);
      entries.push({ step: t.step, key: t.key, action: 'unused', reason: why, originPathspec: t.pathspec });
      continue;
    }
    ran.add(t.step);
    let why: string | undefined;
    if (t.status !== 'succeeded') {
      const attempts = t.status === 'failed' ? await metadata.listAttempts({ flow: origin.flow, runId, taskId: t.taskId }) : [];
      const last = attempts.at(-1);
      why =
        t.status === 'failed'
          ? `failed in run ${runId}${last?.error ? ` (${last.error.code}: ${last.error.message.split('\n')[0]!.slice(0, 120)})` : ''}`
          : `was ${t.status} when run ${runId} stopped`;
    } else if (t.step === options.step) why = `step ${options.step} was asked to re-run`;
    else if (rerunChanged && changed.has(t.step)) why = `its code changed since run ${runId} (rerun changed steps)`;
    else {
      const parent = t.parents.find((p) => notCloned.has(p));
      const moved = t.parents
        .map((p) => byId.get(p)?.step)
        .find((s) => s !== undefined && s !== '_parameters' && !node.inFuncs.includes(s));
      if (parent)
        why = `its input ${byId.get(parent)?.key ?? parent} ${graph.nodes[byId.get(parent)?.step ?? ''] ? 're-runs' : 'is not used'}`;
      else if (moved) why = `its inputs changed: step ${moved} does not lead to ${t.step} any more`;
      else if (needsOriginMetadata(node)) {
        why = transitionBlocker(node, await metadata.getMetadata({ flow: origin.flow, runId, taskId: t.taskId }), runId);
      }
    }
    if (why) {
      notCloned.set(t.taskId, why);
      entries.push({ step: t.step, key: t.key, action: 're-run', reason: why, originPathspec: t.pathspec });
    } else {
      const codeChanged = changed.has(t.step);
      entries.push({
        step: t.step,
        key: t.key,
        action: 'clone',
        reason: `succeeded in run ${runId}${codeChanged ? '; its code changed since' : ''}`,
        originPathspec: t.pathspec,
        ...(codeChanged ? { codeChanged } : {}),
      });
    }
  }
  for (const s of graph.order) if (!ran.has(s)) entries.push({ step: s, action: 'run', reason: `never ran in run ${runId}` });
  return { flow: origin.flow, originRunId: runId, originStatus: origin.status, entries, changedSteps: [...changed], rerunChanged };
}

/** "12 tasks: reason" lines for a folded group, the most frequent reasons first. */
function foldedReasons(group: ResumePlanEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of group) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  if (sorted.length === 1) return sorted[0]![0];
  const shown = sorted.slice(0, 3).map(([r, n]) => `${n}× ${r}`);
  if (sorted.length > 3) shown.push(`${sorted.length - 3} other reason(s)`);
  return shown.join('; ');
}

/**
 * Print a plan for people: one line per task; more than three consecutive tasks of one step with
 * the same action (foreach splits) folded into one line with their reasons counted.
 * @public
 */
export function formatResumePlan(plan: ResumePlan): string {
  const lines = [`Resume plan for ${plan.flow}: a new run linked to run ${plan.originRunId} (${plan.originStatus}). Nothing has run yet.`];
  const width = Math.max(4, ...plan.entries.map((e) => e.step.length));
  const label = (e: ResumePlanEntry) => (e.codeChanged ? 'clone*' : e.action).padEnd(7);
  for (let i = 0; i < plan.entries.length;) {
    const e = plan.entries[i]!;
    let j = i + 1;
    while (
      j < plan.entries.length &&
      plan.entries[j]!.step === e.step &&
      plan.entries[j]!.action === e.action &&
      !!plan.entries[j]!.codeChanged === !!e.codeChanged
    )
      j++;
    const group = plan.entries.slice(i, j);
    if (group.length > 3) {
      lines.push(`  ${e.step.padEnd(width)}  ${label(e)} ${group.length} tasks ${e.key} … ${group.at(-1)!.key}: ${foldedReasons(group)}`);
    } else {
      for (const x of group) {
        lines.push(
          `  ${x.step.padEnd(width)}  ${label(x)} ${x.key ?? '(all tasks)'}${x.originPathspec ? ` ← ${x.originPathspec}` : ''}: ${x.reason}`,
        );
      }
    }
    i = j;
  }
  const count = (a: string) => plan.entries.filter((e) => e.action === a).length;
  const unused = count('unused');
  lines.push(
    `${count('clone')} task(s) cloned (no data copied), ${count('re-run')} re-run, ${count('run')} step(s) that never ran will run, and whatever they lead to.` +
      (unused ? ` ${unused} task(s) of run ${plan.originRunId} have no place in the current flow.` : ''),
  );
  const changedClones = [...new Set(plan.entries.filter((e) => e.codeChanged).map((e) => e.step))];
  if (changedClones.length) {
    lines.push(
      `* cloned although the code of ${changedClones.join(', ')} changed since run ${plan.originRunId}: pass --rerun-changed (rerunChanged: true) to re-run ${changedClones.length > 1 ? 'them' : 'it'}.`,
    );
  } else if (plan.rerunChanged && plan.changedSteps.length) {
    lines.push(`Steps whose code changed since run ${plan.originRunId} re-run: ${plan.changedSteps.join(', ')}.`);
  }
  return lines.join('\n');
}
