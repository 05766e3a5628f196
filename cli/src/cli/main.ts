import { inspect } from 'node:util';
import {
  buildGraph,
  describeParams,
  formatResumePlan,
  planResume,
  resumeFlow,
  type RunResult,
  renderGraph,
  runFlow,
  TributaryError,
  type GraphFormat,
  type ComputeBackend,
  type ComputeJob,
  workerLaunchSpec,
} from '@tributary/core';
import type { ChildProcess } from 'node:child_process';
// The embedded default adapters, registered (and loaded only when a command opens them).
import '../defaults.ts';
import { flag, intOption, optionValue, parseArgs, refuseControlChars, refuseExtraPositionals } from './args.ts';
import { taskBootstrap } from './bootstrap-command.ts';
import { loadFlow } from './load-flow.ts';
import { err, handleClosedPipes, keepRunningOnClosedPipes, out } from './output.ts';
import { ProgressDisplay } from './progress.ts';
import { hasControlChars, safeJson, safeText } from './safe-text.ts';

import { COMMANDS, RESERVED, SIGNAL_EXIT, USAGE, commandHelp, debug, homeOption, parseStrict, usageError } from './commands.ts';
import { cmdRuns } from './runs-command.ts';
import { cmdDump, cmdLogs } from './task-commands.ts';
import { cmdTag } from './tag-command.ts';
import { cmdCard } from './card-command.ts';
import { cmdService } from './service-command.ts';
import { cmdUi } from './ui-command.ts';

interface DeclaredParam {
  name: string;
  type: string;
  default?: unknown;
  help?: string;
  required: boolean;
}

/** Why a parameter cannot be given on the command line, or undefined. */
function paramConflict(p: DeclaredParam, all: DeclaredParam[]): string | undefined {
  if (!/^[A-Za-z_$][\w$-]*$/.test(p.name)) return `its name is not usable as an option (--${safeText(p.name)})`;
  if (RESERVED.has(p.name)) return `it has the name of the option --${p.name} of tributary run/resume`;
  if (p.type === 'boolean' && RESERVED.has(`no-${p.name}`)) return `its negation --no-${p.name} is an option of tributary run/resume`;
  const negated = p.name.startsWith('no-') ? all.find((q) => q.name === p.name.slice(3) && q.type === 'boolean') : undefined;
  if (negated) return `--${p.name} is the negation of the boolean parameter --${negated.name}`;
  return undefined;
}

function renameHint(flow: string, name: string): string {
  const base = flow.replace(/Flow$/, '') || flow;
  const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return `${base.charAt(0).toLowerCase()}${base.slice(1)}${camel.charAt(0).toUpperCase()}${camel.slice(1)}`;
}

function paramsHelp(file: string, flowName: string, params: DeclaredParam[]): string {
  const lines = [`Parameters of ${flowName} (options after ${file}):`];
  for (const d of params) {
    const conflict = paramConflict(d, params);
    const label = d.type === 'boolean' ? `--[no-]${d.name}` : `--${d.name} <${d.type}>`;
    const dflt = d.required ? ' (required)' : ` (default ${JSON.stringify(d.default)})`;
    lines.push(`  ${safeText(label)}${dflt}${d.help ? `  ${safeText(d.help)}` : ''}${conflict ? `  [cannot be set: ${conflict}]` : ''}`);
  }
  if (params.length === 0) lines.push('  (none)');
  return `${lines.join('\n')}\n`;
}

async function cmdRun(tokens: string[]): Promise<number> {
  const options = COMMANDS.run!.options;
  // First pass: only what is needed to load the flow (its parameters decide how the rest parses).
  const pre = parseArgs(tokens, options);
  const file = pre.positional[0];
  if (flag(pre, 'help') && file === undefined) {
    out(commandHelp('run'));
    return 0;
  }
  const early = pre.unknown.find((u) => u.after === 0);
  if (early)
    throw usageError(
      `${safeText(early.option)} comes before the flow file: flow parameters follow it (tributary run <flow.ts> ${safeText(early.option)} ...). See tributary run --help.`,
    );
  if (file === undefined) throw usageError('Usage: tributary run <flow.ts> [--<param> value]... (see tributary run --help)');
  if (hasControlChars(file)) throw usageError(`Flow file "${safeText(file)}" contains a control character. Remove it.`);
  const flowName = optionValue(pre, 'flow');
  if (flowName !== undefined && hasControlChars(flowName))
    throw usageError(`Option --flow contains a control character: "${safeText(flowName)}". Remove it.`);
  const { flowClass, module, exportName, flowName: flow } = await loadFlow(file, flowName);
  const declared = describeParams(flowClass);
  const args = parseArgs(
    tokens,
    options,
    declared.filter((d) => !paramConflict(d, declared)).map((d) => ({ name: d.name, boolean: d.type === 'boolean' })),
  );
  if (flag(args, 'help')) {
    out(`${commandHelp('run')}\n${paramsHelp(file, flow, declared)}`);
    return 0;
  }
  for (const d of declared) {
    const conflict = paramConflict(d, declared);
    if (conflict)
      throw usageError(
        `Parameter ${safeText(d.name)} of ${flow} cannot be set from the command line: ${conflict}. Rename the parameter (for example to ${renameHint(flow, d.name)}).`,
        { artifact: d.name },
      );
  }
  if (args.unknown.length) {
    const bad = args.unknown[0]!.option;
    throw usageError(
      `Unknown parameter ${safeText(bad)} for ${flow}. ${declared.length ? `Its parameters are: ${declared.map((p) => (p.type === 'boolean' ? `--[no-]${p.name}` : `--${p.name}`)).join(', ')}.` : 'It declares no parameters.'} See tributary run ${file} --help.`,
      { option: bad },
    );
  }
  refuseExtraPositionals(args, 1, 'run', tokens);
  refuseControlChars({ ...args, positional: [] }, 'run');
  const home = homeOption(args);
  const datastore = optionValue(args, 'datastore');
  const metadata = optionValue(args, 'metadata');
  const maxWorkers = intOption(args, 'max-workers');
  const maxNumSplits = intOption(args, 'max-num-splits');
  const tags = args.options.get('tag') ?? [];
  const quiet = flag(args, 'quiet');
  const compute = optionValue(args, 'compute');
  const envPass = args.options.get('env-pass') ?? [];
  const withCompute = args.options.get('with') ?? [];
  // Steps that run remotely need no local worker: none is started ahead.
  const warm = compute || withCompute.some(remoteWith) ? {} : await takeWarmWorker(flow);
  return closingWarm(warm, () =>
    runWithDisplay(quiet, flag(args, 'no-progress'), (ui) =>
      runFlow(flowClass, {
        ...warm,
        params: Object.fromEntries(args.params),
        flowModule: module,
        flowExport: exportName,
        ...(home ? { home } : {}),
        ...(datastore ? { datastore } : {}),
        ...(metadata ? { metadata } : {}),
        ...(maxWorkers ? { maxWorkers } : {}),
        ...(maxNumSplits ? { maxNumSplits } : {}),
        ...(compute ? { compute } : {}),
        ...(withCompute.length ? { with: withCompute } : {}),
        envPass,
        tags,
        // Like Metaflow, task output is shown by default (prefixed with its pathspec); --quiet hides it.
        echoLogs: !quiet,
        ...ui,
      }),
    ),
  );
}

async function cmdResume(tokens: string[]): Promise<number> {
  const args = parseArgs(tokens, COMMANDS.resume!.options);
  if (flag(args, 'help')) {
    out(commandHelp('resume'));
    return 0;
  }
  if (args.unknown.length) {
    throw usageError(
      `Unknown option ${safeText(args.unknown[0]!.option)} for tributary resume; resume reuses the origin run's parameters. See tributary resume --help.`,
      { option: args.unknown[0]!.option },
    );
  }
  refuseExtraPositionals(args, 2, 'resume', tokens);
  refuseControlChars(args, 'resume');
  const file = args.positional[0];
  if (!file) throw usageError('Usage: tributary resume <flow.ts> [step] [--origin-run-id ID] [--rerun-changed] [--dry-run]');
  const { flowClass, module, exportName, flowName } = await loadFlow(file, optionValue(args, 'flow'));
  const step = args.positional[1];
  const originRunId = optionValue(args, 'origin-run-id');
  const home = homeOption(args);
  const datastore = optionValue(args, 'datastore');
  const metadata = optionValue(args, 'metadata');
  const maxWorkers = intOption(args, 'max-workers');
  const maxNumSplits = intOption(args, 'max-num-splits');
  const quiet = flag(args, 'quiet');
  const tags = args.options.get('tag');
  const compute = optionValue(args, 'compute');
  const envPass = args.options.get('env-pass') ?? [];
  const withCompute = args.options.get('with') ?? [];
  const common = {
    ...(home ? { home } : {}),
    ...(metadata ? { metadata } : {}),
    ...(originRunId ? { originRunId } : {}),
    ...(step ? { step } : {}),
    ...(flag(args, 'rerun-changed') ? { rerunChanged: true } : {}),
  };
  if (flag(args, 'dry-run')) {
    out(`${formatResumePlan(await planResume(flowClass, common))}\n`);
    return 0;
  }
  const warm = compute || withCompute.some(remoteWith) ? {} : await takeWarmWorker(flowName);
  return closingWarm(warm, () =>
    runWithDisplay(quiet, flag(args, 'no-progress'), (ui) =>
      resumeFlow(flowClass, {
        ...warm,
        ...common,
        ...(compute ? { compute } : {}),
        ...(withCompute.length ? { with: withCompute } : {}),
        envPass,
        flowModule: module,
        flowExport: exportName,
        ...(datastore ? { datastore } : {}),
        ...(maxWorkers ? { maxWorkers } : {}),
        ...(maxNumSplits ? { maxNumSplits } : {}),
        ...(tags ? { tags } : {}),
        echoLogs: !quiet,
        ...ui,
      }),
    ),
  );
}

/**
 * Run (or resume) with the progress display; report the outcome as an exit code. SIGINT, SIGTERM
 * and SIGHUP stop the run the same way (tasks killed, the run recorded `aborted`), then the CLI
 * exits 128 + the signal number; a second signal while stopping exits at once.
 */
async function runWithDisplay(
  quiet: boolean,
  noProgress: boolean,
  start: (ui: { signal: AbortSignal; onEvent: ProgressDisplay['handle']; onTaskOutput: ProgressDisplay['output'] }) => Promise<RunResult>,
): Promise<number> {
  const display = new ProgressDisplay({ out: process.stderr, live: process.stderr.isTTY === true && !noProgress, quiet });
  const abort = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      display.notice(`${signal} again: exiting now, without waiting for the run to stop.`);
      process.exit(SIGNAL_EXIT[signal] ?? 1);
    }
    stoppedBy = signal;
    display.notice(
      `${signal}: stopping the run (its tasks are stopped, and it is recorded aborted if it started); press Ctrl-C again to exit at once.`,
    );
    abort.abort(new Error(`interrupted (${signal})`));
  };
  const signals = Object.keys(SIGNAL_EXIT) as NodeJS.Signals[];
  for (const s of signals) process.on(s, onSignal);
  keepRunningOnClosedPipes();
  try {
    let run: RunResult;
    try {
      run = await start({ signal: abort.signal, onEvent: display.handle, onTaskOutput: display.output });
    } catch (error) {
      // Stopped before the run was recorded (while step environments were solved or built).
      if (stoppedBy && TributaryError.is(error) && error.code === 'ABORTED') {
        err(`error [ABORTED]: stopped by ${stoppedBy} before the run started; no run was recorded.\n`);
        return SIGNAL_EXIT[stoppedBy] ?? 1;
      }
      throw error;
    }
    await run.close();
    return reportRun(run, stoppedBy);
  } finally {
    display.stop();
    for (const s of signals) process.off(s, onSignal);
  }
}

function reportRun(run: RunResult, stoppedBy: NodeJS.Signals | undefined): number {
  if (run.successful) {
    out(`${run.pathspec}\n`);
    return 0;
  }
  if (run.status === 'aborted' && stoppedBy) {
    err(
      `error [ABORTED]: Run ${run.pathspec} was stopped by ${stoppedBy} and is recorded aborted. Resume it: tributary resume <flow.ts>\n`,
    );
    return SIGNAL_EXIT[stoppedBy] ?? 1;
  }
  err(`\nerror [${run.error?.code ?? 'RUN_FAILED'}]: ${run.error?.message ?? `Run ${run.pathspec} ${run.status}`}\n`);
  // The failing task's own traceback is what the user needs to fix it (like Metaflow prints it).
  const cause = run.error?.cause as Error | undefined;
  if (cause?.stack && cause.stack !== cause.message) err(`${cause.stack}\n`);
  return 1;
}

async function cmdShow(tokens: string[]): Promise<number> {
  const args = parseStrict('show', tokens, 1);
  if (flag(args, 'help')) {
    out(commandHelp('show'));
    return 0;
  }
  const file = args.positional[0];
  if (!file) throw usageError('Usage: tributary show <flow.ts> [--format text|mermaid|dot|json]');
  const format = (optionValue(args, 'format') ?? 'text') as GraphFormat;
  if (!['text', 'mermaid', 'dot', 'json'].includes(format))
    throw usageError(`--format must be text, mermaid, dot or json; got ${safeText(format)}.`);
  const { flowClass } = await loadFlow(file, optionValue(args, 'flow'));
  const text = renderGraph(buildGraph(flowClass), format);
  out(`${format === 'json' ? safeJson(text) : text}\n`);
  return 0;
}

async function cmdBootstrap(tokens: string[]): Promise<number> {
  const args = parseStrict('bootstrap', tokens, 0);
  if (flag(args, 'help')) {
    out(commandHelp('bootstrap'));
    return 0;
  }
  const file = optionValue(args, 'out');
  const built = await taskBootstrap(file);
  if (file)
    err(
      `wrote ${file} (${(built.code.length / 1024).toFixed(0)} KiB, sha256 ${built.sha.slice(0, 12)}; adapters: ${built.adapters.join(', ')})\n`,
    );
  else out(built.code);
  return 0;
}

const HANDLERS: Record<string, (tokens: string[]) => Promise<number>> = {
  bootstrap: cmdBootstrap,
  run: cmdRun,
  resume: cmdResume,
  show: cmdShow,
  runs: cmdRuns,
  logs: cmdLogs,
  dump: cmdDump,
  tag: cmdTag,
  card: cmdCard,
  ui: cmdUi,
  service: cmdService,
};

/** A `--with` that moves steps off this machine (not `--with card`). */
const remoteWith = (w: string) => w !== 'card' && !w.startsWith('card:');

/** One line per error, with its code; the stack only with TRIBUTARY_DEBUG=1. */
function reportError(e: unknown): number {
  if (TributaryError.is(e)) {
    err(`error [${e.code}]: ${e.message}\n`);
    if (debug()) {
      err(`${e.stack ?? ''}\n`);
      if (e.cause instanceof Error && e.cause.stack) err(`Caused by: ${e.cause.stack}\n`);
    }
    return e.code === 'PARAM_INVALID' ? 2 : 1;
  }
  const label = e instanceof Error ? `${e.name}: ${e.message}` : `a non-error value was thrown: ${inspect(e)}`;
  err(
    `error [UNEXPECTED]: ${label}\n${debug() && e instanceof Error ? `${e.stack}\n` : 'This is not an error Tributary expected; set TRIBUTARY_DEBUG=1 to see its stack trace.\n'}`,
  );
  return 1;
}

/** Run the CLI; resolves with the exit code. @internal */
/** A worker process the bin script started before the CLI loaded (see bin/tributary.js). @internal */
export interface WarmWorker {
  child: ChildProcess;
  /** The Node arguments it was started with. */
  args: string[];
}

let warmWorker: WarmWorker | undefined;

/**
 * The warm worker, adopted by a local compute backend for the run, when it was started the way the
 * run would start one. Otherwise it is stopped and the run starts its own workers.
 */
/**
 * The compute backend that adopted the warm worker belongs to the CLI, not to runFlow: close it
 * however the run ended, or a run that failed before it started (metadata unreachable, a refused
 * token) would leave the worker alive and the CLI waiting on it.
 */
async function closingWarm<T>(warm: { compute?: ComputeBackend }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await warm.compute?.close().catch(() => undefined);
  }
}

async function takeWarmWorker(flow: string): Promise<{ compute?: ComputeBackend; warmWorkers?: ComputeJob[] }> {
  const warm = warmWorker;
  warmWorker = undefined;
  if (!warm) return {};
  const spec = workerLaunchSpec(`${flow} worker`);
  if (warm.child.exitCode !== null || warm.child.signalCode !== null || spec.args.join('\0') !== warm.args.join('\0')) {
    warm.child.kill();
    return {};
  }
  const { createLocalCompute } = await import('@tributary/compute-local');
  const compute = createLocalCompute();
  return { compute, warmWorkers: [compute.adopt(warm.child, spec)] };
}

export async function main(argv: string[], options: { warm?: WarmWorker | undefined } = {}): Promise<number> {
  warmWorker = options.warm;
  try {
    return await runCommand(argv);
  } finally {
    // Not taken by a run (another command, --help, an error before the run): stop it.
    warmWorker?.child.kill();
    warmWorker = undefined;
  }
}

async function runCommand(argv: string[]): Promise<number> {
  handleClosedPipes();
  const [cmd, ...tokens] = argv;
  try {
    if (cmd === undefined) {
      err(USAGE);
      throw usageError('No command given.');
    }
    if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
      const topic = cmd === 'help' ? tokens[0] : undefined;
      if (topic !== undefined && !COMMANDS[topic])
        throw usageError(`Unknown command ${safeText(topic)}. Commands: ${Object.keys(COMMANDS).join(', ')}.`);
      out(topic ? commandHelp(topic) : USAGE);
      return 0;
    }
    const handler = HANDLERS[cmd];
    if (!handler) {
      throw usageError(
        cmd.startsWith('-')
          ? `Options go after the command: tributary <command> ${safeText(cmd)} ... Commands: ${Object.keys(COMMANDS).join(', ')} (see tributary --help).`
          : `Unknown command ${safeText(cmd)}. Commands: ${Object.keys(COMMANDS).join(', ')} (see tributary --help).`,
      );
    }
    return await handler(tokens);
  } catch (e) {
    return reportError(e);
  }
}
