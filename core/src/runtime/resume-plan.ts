import { hostname } from 'node:os';
import { TributaryError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { MetadataStore, RunRecord, TaskRecord } from '../ports/metadata-store.ts';
import type { OriginTask } from './orchestrator.ts';

/** One line of a resume plan. @public */
export interface ResumePlanEntry {
  step: string;
  /** Task key (`step[indices]#iteration`); absent for a step that never ran in the origin. */
  key?: string;
  action: 'clone' | 're-run' | 'run';
  reason: string;
  originPathspec?: string;
}

/** @public */
export interface ResumePlan {
  flow: string;
  originRunId: string;
  originStatus: string;
  entries: ResumePlanEntry[];
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
 * Is a run marked `running` really running? On this host the orchestrator's pid tells;
 * elsewhere the heartbeat does (stale after `staleAfterMs`).
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
  if (info.host === hostname() && Number.isInteger(pid) && pid !== process.pid) {
    const alive = pidAlive(pid);
    return { alive, why: alive ? `its orchestrator (pid ${pid}) is still alive on this host` : `its orchestrator (pid ${pid}) is gone` };
  }
  const age = Date.now() - (run.heartbeatAt ?? run.createdAt);
  return { alive: age <= staleAfterMs, why: `its last heartbeat was ${(age / 1000).toFixed(0)} s ago` };
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

/**
 * Decide, for every task of the origin, whether a resume clones or re-runs it, with the same
 * rule the orchestrator applies: a task is cloned when it succeeded, its step is not the one
 * asked to re-run, and none of its inputs is re-run.
 * @internal
 */
export async function buildResumePlan(
  metadata: MetadataStore,
  graph: FlowGraph,
  origin: RunRecord,
  step: string | undefined,
): Promise<ResumePlan> {
  const tasks = [...(await originTasks(metadata, origin)).values()].sort((a, b) => Number(a.taskId) - Number(b.taskId));
  const rerun = new Map<string, string>(); // taskId → why it re-runs
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const entries: ResumePlanEntry[] = [];
  const ran = new Set<string>();
  for (const t of tasks) {
    ran.add(t.step);
    if (t.step === '_parameters') {
      entries.push({
        step: t.step,
        key: t.key,
        action: 'clone',
        reason: `parameters of run ${origin.runId} are reused`,
        originPathspec: t.pathspec,
      });
      continue;
    }
    let why: string | undefined;
    if (t.status !== 'succeeded') {
      const attempts =
        t.status === 'failed' ? await metadata.listAttempts({ flow: origin.flow, runId: origin.runId, taskId: t.taskId }) : [];
      const last = attempts.at(-1);
      why =
        t.status === 'failed'
          ? `failed in run ${origin.runId}${last?.error ? ` (${last.error.code}: ${last.error.message.split('\n')[0]!.slice(0, 120)})` : ''}`
          : `was ${t.status} when run ${origin.runId} stopped`;
    } else if (t.step === step) why = `step ${step} was asked to re-run`;
    else {
      const parent = t.parents.find((p) => rerun.has(p));
      if (parent) why = `its input ${byId.get(parent)?.key ?? parent} re-runs`;
    }
    if (why) {
      rerun.set(t.taskId, why);
      entries.push({ step: t.step, key: t.key, action: 're-run', reason: why, originPathspec: t.pathspec });
    } else
      entries.push({ step: t.step, key: t.key, action: 'clone', reason: `succeeded in run ${origin.runId}`, originPathspec: t.pathspec });
  }
  for (const s of graph.order) if (!ran.has(s)) entries.push({ step: s, action: 'run', reason: `never ran in run ${origin.runId}` });
  return { flow: origin.flow, originRunId: origin.runId, originStatus: origin.status, entries };
}

/** Print a plan for people: one line per task, long runs of clones of one step folded. @public */
export function formatResumePlan(plan: ResumePlan): string {
  const lines = [`Resume plan for ${plan.flow}: a new run linked to run ${plan.originRunId} (${plan.originStatus}). Nothing has run yet.`];
  const width = Math.max(4, ...plan.entries.map((e) => e.step.length));
  for (let i = 0; i < plan.entries.length;) {
    const e = plan.entries[i]!;
    let j = i + 1;
    while (j < plan.entries.length && plan.entries[j]!.step === e.step && plan.entries[j]!.action === 'clone' && e.action === 'clone') j++;
    const n = j - i;
    if (n > 3) {
      lines.push(`  ${e.step.padEnd(width)}  clone   ${n} tasks ${plan.entries[i]!.key} … ${plan.entries[j - 1]!.key}: ${e.reason}`);
    } else {
      for (const x of plan.entries.slice(i, j)) {
        lines.push(
          `  ${x.step.padEnd(width)}  ${x.action.padEnd(6)}  ${x.key ?? '(all tasks)'}${x.originPathspec ? ` ← ${x.originPathspec}` : ''}: ${x.reason}`,
        );
      }
    }
    i = j;
  }
  const count = (a: string) => plan.entries.filter((e) => e.action === a).length;
  lines.push(
    `${count('clone')} task(s) cloned (no data copied), ${count('re-run')} re-run, ${count('run')} step(s) that never ran will run, and whatever they lead to.`,
  );
  return lines.join('\n');
}
