/** `tributary logs` and `tributary dump`: a task's output and artifacts, read through the client. */
import { inspect } from 'node:util';
import { Client, type Task, TributaryError, type FlowGraph } from '@tributary/core';
import { flag, optionValue, type ParsedArgs } from './args.ts';
import { err, out } from './output.ts';
import { parsePathspec, type Pathspec } from './pathspec.ts';
import { safeJson, safeText } from './safe-text.ts';
import { toJsonSafe } from './to-json.ts';
import { commandHelp, parseStrict, usageError } from './commands.ts';
import { openClient } from './open-client.ts';

/** The task a pathspec names: its task id, or the tasks of its step (default: the end step). */
export async function resolveTasks(client: Client, ps: Pathspec): Promise<{ step: string; tasks: Task[] }> {
  if (ps.taskId) {
    const run = await client.run(`${ps.flow}/${ps.runId}`);
    const record = await client.metadata.getTask({ flow: ps.flow, runId: ps.runId, taskId: ps.taskId });
    if (ps.step && record.step !== ps.step)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${ps.taskId} of ${ps.flow}/${ps.runId} belongs to step ${safeText(record.step)}, not ${ps.step}: its pathspec is ${ps.flow}/${ps.runId}/${safeText(record.step)}/${ps.taskId}.`,
      );
    return { step: record.step, tasks: [await client.task(`${run.pathspec}/${record.step}/${ps.taskId}`)] };
  }
  const run = await client.run(`${ps.flow}/${ps.runId}`);
  const graph = run.graph as Partial<FlowGraph>;
  const step = ps.step ?? graph.end!;
  const tasks: Task[] = [];
  const steps = graph.order ?? [];
  if (step === '_parameters' || !steps.length || steps.includes(step)) for await (const t of run.step(step).tasks()) tasks.push(t);
  if (tasks.length === 0) {
    throw new TributaryError(
      'NOT_FOUND',
      steps.length && !steps.includes(step) && step !== '_parameters'
        ? `Run ${ps.flow}/${ps.runId} has no step ${step}. Its steps: ${steps.map((s) => safeText(s)).join(', ')}.`
        : `Run ${ps.flow}/${ps.runId} has no task of step ${step}${run.status === 'running' ? ' yet' : ''} (the run is ${run.status}).`,
    );
  }
  return { step, tasks };
}

function taskLine(t: Task): string {
  return `${safeText(t.pathspec)}  ${safeText(t.key)}  ${t.status}${t.originPathspec ? `  (cloned from ${safeText(t.originPathspec)})` : ''}`;
}

export function oneTask(ps: Pathspec, step: string, tasks: Task[], command: string): Task {
  if (tasks.length === 1) return tasks[0]!;
  const shown = tasks.slice(0, 10).map((t) => `  ${taskLine(t)}`);
  if (tasks.length > 10) shown.push(`  ... and ${tasks.length - 10} more (tributary dump ${ps.flow}/${ps.runId}/${step} lists them all)`);
  throw usageError(
    `Step ${safeText(step)} of ${ps.flow}/${ps.runId} has ${tasks.length} tasks; name one: tributary ${command} ${ps.flow}/${ps.runId}/${safeText(step)}/<task>\n${shown.join('\n')}`,
  );
}

export function attemptOption(args: ParsedArgs): number | undefined {
  const v = optionValue(args, 'attempt');
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v))
    throw usageError(`--attempt must be an attempt number (0, 1, ...), got "${safeText(v)}".`, { option: 'attempt' });
  return Number(v);
}

export async function cmdLogs(tokens: string[]): Promise<number> {
  const args = parseStrict('logs', tokens, 1);
  if (flag(args, 'help')) {
    out(commandHelp('logs'));
    return 0;
  }
  const ps = parsePathspec(args.positional[0], 3, 4, 'Usage: tributary logs <Flow/run/step[/task]> [--stdout | --stderr] [--attempt N]');
  if (ps.step === '_parameters') throw usageError('The _parameters step runs no code and has no logs; see its values with tributary dump.');
  const only = flag(args, 'stderr') ? 'stderr' : flag(args, 'stdout') ? 'stdout' : undefined;
  if (flag(args, 'stderr') && flag(args, 'stdout'))
    throw usageError('Give --stdout or --stderr, not both (without either, both are printed).');
  const attemptArg = attemptOption(args);
  const client = await openClient(args);
  try {
    const { step, tasks } = await resolveTasks(client, ps);
    let task = oneTask(ps, step, tasks, 'logs');
    if (task.attemptCount === 0)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${safeText(task.pathspec)} has not started (it is ${task.status}): it has no attempt, so no output.`,
      );
    if (attemptArg !== undefined && attemptArg >= task.attemptCount)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${safeText(task.pathspec)} has ${task.attemptCount} attempt${task.attemptCount === 1 ? '' : 's'} (${task.attemptCount === 1 ? '0' : `0 to ${task.attemptCount - 1}`}); there is no attempt ${attemptArg}.`,
      );
    let attempt = attemptArg ?? task.attemptCount - 1;
    const streams: ReadonlyArray<'stdout' | 'stderr'> = only ? [only] : ['stdout', 'stderr'];
    const stored = async (t: Task, at: number) => Promise.all(streams.map((s) => t.log(s, at)));
    let logs = await stored(task, attempt);
    // A task cloned by resume ran in its origin run: its output is stored there.
    for (let hops = 0; task.originPathspec && hops < 100 && logs.every((l) => l === undefined); hops++) {
      err(
        `(no output stored for attempt ${attempt} of ${safeText(task.pathspec)}: it was cloned from ${safeText(task.originPathspec)}; showing that task's output)\n`,
      );
      task = (await task.origin())!;
      attempt = Math.max(0, task.attemptCount - 1);
      logs = await stored(task, attempt);
    }
    streams.forEach((stream, i) => {
      // Task output is printed raw: it is the user's own output (colours, progress bars), like a log file.
      if (logs[i]) (stream === 'stderr' && !only ? process.stderr : process.stdout).write(logs[i]);
    });
    if (logs.every((l) => l === undefined)) err(`(${await whyNoLogs(task, attempt, only)})\n`);
    return 0;
  } finally {
    await client.close();
  }
}

async function whyNoLogs(task: Task, attempt: number, only: string | undefined): Promise<string> {
  const head = `no output stored for attempt ${attempt} of task ${safeText(task.pathspec)}`;
  const record = (await task.attempts()).find((a) => a.attempt === attempt);
  if (!record) return `${head}: the attempt never started`;
  if (record.status === 'running')
    return `${head}: the attempt is still running (or its run was killed); a warm worker stores output when the attempt ends, a job every 2 s`;
  if (
    record.status === 'failed' &&
    record.error &&
    ['WORKER_LOST', 'TIMEOUT', 'COMPUTE_OOM', 'COMPUTE_PREEMPTED'].includes(record.error.code)
  )
    return `${head}: its process ended before storing output (${safeText(record.error.code)}: ${safeText(record.error.message)})`;
  return `${head}: the task printed nothing${only ? ` to ${only}` : ''}`;
}

export async function cmdDump(tokens: string[]): Promise<number> {
  const args = parseStrict('dump', tokens, 1);
  if (flag(args, 'help')) {
    out(commandHelp('dump'));
    return 0;
  }
  const ps = parsePathspec(args.positional[0], 2, 5, 'Usage: tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]');
  const json = flag(args, 'json');
  const client = await openClient(args);
  try {
    const { step, tasks } = await resolveTasks(client, ps);
    if (tasks.length > 1) {
      const stepPathspec = `${ps.flow}/${ps.runId}/${safeText(step)}`;
      if (json) {
        const list = tasks.map((t) => ({
          pathspec: t.pathspec,
          key: t.key,
          status: t.status,
          attempts: t.attemptCount,
          ...(t.originPathspec ? { originPathspec: t.originPathspec } : {}),
        }));
        out(`${safeJson(JSON.stringify({ pathspec: `${ps.flow}/${ps.runId}/${step}`, tasks: list }, null, 2))}\n`);
      } else {
        out(`${stepPathspec} has ${tasks.length} tasks; dump one with tributary dump ${stepPathspec}/<task>:\n`);
        for (const t of tasks) out(`  ${taskLine(t)}\n`);
      }
      return 0;
    }
    const task = tasks[0]!;
    const chosen = ps.artifact ? [await task.artifact(ps.artifact)] : await task.artifacts();
    const values = await Promise.all(chosen.map((a) => a.get()));
    // A failed task has no artifacts: what its last attempt failed with is what the reader wants.
    const failure = task.status === 'failed' ? (await task.attempts()).filter((a) => a.error).pop() : undefined;
    // The environment the task ran in (`@pypi`...): which exact packages made its results.
    const environment = ps.artifact ? undefined : await task.environment();
    const envDoc = environment && {
      id: environment.id,
      kind: environment.lock.kind,
      platform: environment.lock.platform,
      ...(environment.lock.runtime ? { runtime: environment.lock.runtime } : {}),
      packages: environment.lock.packages.map((p) => ({ name: p.name, version: p.version })),
    };
    if (json) {
      const doc = {
        pathspec: task.pathspec,
        status: task.status,
        ...(envDoc ? { environment: envDoc } : {}),
        ...(failure?.error ? { error: { attempt: failure.attempt, code: failure.error.code, message: failure.error.message } } : {}),
        artifacts: Object.fromEntries(
          chosen.map((r, i) => [r.name, { type: r.type, size: r.size, sha: r.sha, value: toJsonSafe(values[i]) }]),
        ),
      };
      out(`${safeJson(JSON.stringify(doc, null, 2))}\n`);
    } else {
      out(`${safeText(task.pathspec)} (${task.status})\n`);
      if (envDoc) {
        const packages = envDoc.packages.map((p) => `${p.name} ${p.version}`).join(', ');
        out(
          `  environment: @${safeText(envDoc.kind)} ${envDoc.id} (${safeText(envDoc.platform)}${envDoc.runtime ? `, ${safeText(envDoc.kind === 'npm' ? 'node' : 'python')} ${safeText(envDoc.runtime)}` : ''}): ${safeText(packages)}\n`,
        );
      }
      if (failure?.error)
        out(
          `  attempt ${failure.attempt} failed: [${safeText(failure.error.code)}] ${safeText(failure.error.message, { multiline: true })}\n`,
        );
      chosen.forEach((r, i) => {
        const shown = inspect(values[i], { depth: 4, maxArrayLength: 20, breakLength: 100 });
        out(
          `  ${safeText(r.name)}: ${safeText(r.type)}, ${r.size} bytes, sha256 ${safeText(r.sha.slice(0, 12))}\n    ${shown.split('\n').join('\n    ')}\n`,
        );
      });
    }
    return 0;
  } finally {
    await client.close();
  }
}
