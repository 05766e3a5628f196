import { existsSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import {
  ArtifactStore,
  buildGraph,
  describeParams,
  formatResumePlan,
  planResume,
  resumeFlow,
  runLiveness,
  type Run,
  openConfiguredAdapter,
  renderGraph,
  runFlow,
  tributaryHome,
  TributaryError,
  type Datastore,
  type FlowGraph,
  type GraphFormat,
  type MetadataStore,
  type TaskRecord,
  type ComputeBackend,
  type ComputeJob,
  workerLaunchSpec,
} from '@tributary/core';
import type { ChildProcess } from 'node:child_process';
// The embedded default adapters, registered (and loaded only when a command opens them).
import '../defaults.ts';
import {
  flag,
  intOption,
  optionValue,
  parseArgs,
  refuseControlChars,
  refuseExtraPositionals,
  type OptionSpec,
  type ParsedArgs,
} from './args.ts';
import { taskBootstrap } from './bootstrap-command.ts';
import { loadFlow } from './load-flow.ts';
import { err, handleClosedPipes, keepRunningOnClosedPipes, out } from './output.ts';
import { parsePathspec, type Pathspec } from './pathspec.ts';
import { ProgressDisplay } from './progress.ts';
import { hasControlChars, safeJson, safeText } from './safe-text.ts';
import { toJsonSafe } from './to-json.ts';

const USAGE = `tributary — ML workflows as TypeScript classes

Usage:
  tributary run <flow.ts> [--<param> value] [--max-workers N] [--max-num-splits N] [--tag T]...
  tributary resume <flow.ts> [step] [--origin-run-id ID] [--rerun-changed] [--dry-run]
  tributary show <flow.ts> [--format text|mermaid|dot|json]
  tributary runs <FlowName | flow.ts> [--limit N]
  tributary logs <Flow/run/step[/task]> [--stdout | --stderr] [--attempt N]
  tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]
  tributary bootstrap [--out FILE]   the task file of remote images (Kubernetes, AWS Batch)

Common options:
  --flow <Name>        pick a flow when the file exports several
  --home <dir>         folder of the embedded default stores (default $TRIBUTARY_HOME or ./.tributary)
  --datastore <url>    e.g. file:///data/tributary
  --metadata <url>     e.g. sqlite:///data/tributary/metadata.sqlite
  --compute <url>      local:// (warm workers) or local-jobs:// (one process per task attempt)
  --with <kind>        run every step on kubernetes or batch (--with batch:queue=gpu,memory=8192)
  --env-pass <NAME>    give tasks this environment variable (they get no other of yours)
  --quiet              print only errors and the run's pathspec (task output stays in 'tributary logs')
  --no-progress        plain progress lines instead of the live display on a terminal

'tributary <command> --help' shows a command's options; 'tributary run <flow.ts> --help' the flow's parameters.
Exit codes: 0 done, 1 failed, 2 usage or parameter error, 130/143/129 run stopped by SIGINT/SIGTERM/SIGHUP.
Set TRIBUTARY_DEBUG=1 to see stack traces of errors.
`;

const HELP: OptionSpec = { name: 'help', kind: 'flag', help: 'show this help' };
const FLOW: OptionSpec = { name: 'flow', kind: 'value', value: 'Name', help: 'pick a flow when the file exports several' };
const STORES: OptionSpec[] = [
  { name: 'home', kind: 'value', value: 'dir', help: 'folder of the embedded default stores (default $TRIBUTARY_HOME or ./.tributary)' },
  { name: 'datastore', kind: 'value', value: 'url', help: 'datastore URL, e.g. file:///data/tributary' },
  { name: 'metadata', kind: 'value', value: 'url', help: 'metadata store URL, e.g. sqlite:///data/tributary/metadata.sqlite' },
];
const EXECUTION: OptionSpec[] = [
  { name: 'max-workers', kind: 'value', value: 'N', help: 'task processes at once (default: the number of CPUs)' },
  { name: 'max-num-splits', kind: 'value', value: 'N', help: 'refuse a foreach with more splits than this' },
  { name: 'tag', kind: 'list', value: 'T', help: 'tag the run (repeatable)' },
  {
    name: 'compute',
    kind: 'value',
    value: 'url',
    help: 'where tasks run: local:// (warm workers, the default) or local-jobs:// (one process per task attempt, the remote path)',
  },
  {
    name: 'with',
    kind: 'list',
    value: 'kind[:k=v,...]',
    help: "run every step on kubernetes or batch (e.g. --with kubernetes, --with batch:queue=gpu); a step's own @kubernetes/@batch wins",
  },
  {
    name: 'env-pass',
    kind: 'list',
    value: 'NAME',
    help: 'pass this environment variable to tasks (repeatable); tasks get nothing else of this environment',
  },
  { name: 'quiet', kind: 'flag', help: "print only errors and the run's pathspec (task output stays in 'tributary logs')" },
  { name: 'no-progress', kind: 'flag', help: 'plain progress lines instead of the live display on a terminal' },
];

interface Command {
  args: string;
  summary: string;
  options: OptionSpec[];
}

const COMMANDS: Record<string, Command> = {
  run: {
    args: '<flow.ts> [--<param> value]... [options]',
    summary: 'Run a flow. Its parameters are options after the file (see: tributary run <flow.ts> --help).',
    options: [
      FLOW,
      ...STORES,
      ...EXECUTION,
      { name: 'echo-logs', kind: 'flag', help: 'print task output (the default; --quiet hides it)' },
      HELP,
    ],
  },
  resume: {
    args: '<flow.ts> [step] [options]',
    summary: "Resume a flow's latest run (or --origin-run-id): clone what succeeded, run the rest; from [step] on when given.",
    options: [
      FLOW,
      { name: 'origin-run-id', kind: 'value', value: 'ID', help: 'the run to resume (default: the latest run of the flow)' },
      { name: 'dry-run', kind: 'flag', help: 'print what would be cloned and what would run, run nothing' },
      { name: 'rerun-changed', kind: 'flag', help: 're-run steps whose code changed since the origin run (default: clone them)' },
      ...STORES,
      ...EXECUTION,
      HELP,
    ],
  },
  show: {
    args: '<flow.ts> [options]',
    summary: "Print a flow's graph.",
    options: [FLOW, { name: 'format', kind: 'value', value: 'text|mermaid|dot|json', help: 'output format (default text)' }, HELP],
  },
  runs: {
    args: '<FlowName | flow.ts> [options]',
    summary: 'List the runs of a flow, newest first; a dead `running` run shows as stale.',
    options: [FLOW, { name: 'limit', kind: 'value', value: 'N', help: 'how many runs (default 20)' }, ...STORES, HELP],
  },
  logs: {
    args: '<Flow/run/step[/task]> [options]',
    summary:
      'Print what a task printed (stdout, then stderr), as it printed it. A step with one task needs no task id.\n--stdout/--stderr print one stream, to stdout (so it can be piped).',
    options: [
      { name: 'stdout', kind: 'flag', help: 'only the task’s stdout' },
      { name: 'stderr', kind: 'flag', help: 'only the task’s stderr (written to stdout)' },
      { name: 'attempt', kind: 'value', value: 'N', help: 'which attempt (0, 1, ...; default the last one)' },
      ...STORES,
      HELP,
    ],
  },
  bootstrap: {
    args: '[--out FILE]',
    summary:
      'Write the task bootstrap of remote images (Kubernetes, AWS Batch): one file, with the datastore adapters installed here.\n' +
      'Bake it into an image with Node 20 at /opt/tributary/task.mjs (the default path), e.g. COPY task.mjs /opt/tributary/task.mjs.',
    options: [{ name: 'out', kind: 'value', value: 'FILE', help: 'write it to FILE (default: standard output)' }, HELP],
  },
  dump: {
    args: '<Flow/run[/step[/task[/artifact]]]> [options]',
    summary: "Print a task's artifacts (default: the end step's task); a step with several tasks lists them.",
    options: [{ name: 'json', kind: 'flag', help: 'JSON output (values made JSON-safe)' }, ...STORES, HELP],
  },
};

/** Every option `run` and `resume` take: a flow parameter with one of these names could never be set. */
const RESERVED = new Set([...COMMANDS.run!.options, ...COMMANDS.resume!.options].map((o) => o.name));

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

function usageError(message: string, context: Record<string, unknown> = {}): TributaryError {
  return new TributaryError('PARAM_INVALID', message, { context });
}

function debug(): boolean {
  return process.env.TRIBUTARY_DEBUG === '1' || process.env.TRIBUTARY_DEBUG === 'true';
}

function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  const width = Math.max(...c.options.map((o) => optionLabel(o).length));
  const lines = [`Usage: tributary ${name} ${c.args}`, '', c.summary, '', 'Options:'];
  for (const o of c.options) lines.push(`  ${optionLabel(o).padEnd(width)}  ${o.help}`);
  return `${lines.join('\n')}\n`;
}

function optionLabel(o: OptionSpec): string {
  return o.kind === 'flag' ? `--${o.name}` : `--${o.name} <${o.value ?? 'value'}>`;
}

/** Parse a command's words strictly: unknown options and stray words are usage errors. */
function parseStrict(name: string, tokens: string[], positionals: number): ParsedArgs {
  const args = parseArgs(tokens, COMMANDS[name]!.options);
  if (flag(args, 'help')) return args;
  if (args.unknown.length) {
    throw usageError(
      `Unknown option ${safeText(args.unknown[0]!.option)} for tributary ${name}. Its options are: ${COMMANDS[name]!.options.map((o) => `--${o.name}`).join(', ')}.`,
      { option: args.unknown[0]!.option },
    );
  }
  refuseExtraPositionals(args, positionals, name, tokens);
  refuseControlChars(args, name);
  return args;
}

async function openStores(args: ParsedArgs): Promise<{ datastore: Datastore; metadata: MetadataStore; close: () => Promise<void> }> {
  const home = tributaryHome(homeOption(args));
  const ds = await openConfiguredAdapter('datastore', optionValue(args, 'datastore'), home);
  let md: Awaited<ReturnType<typeof openConfiguredAdapter<'metadata'>>>;
  try {
    md = await openConfiguredAdapter('metadata', optionValue(args, 'metadata'), home);
  } catch (e) {
    if (ds.owned) await ds.adapter.close();
    throw e;
  }
  return {
    datastore: ds.adapter,
    metadata: md.adapter,
    close: async () => {
      if (ds.owned) await ds.adapter.close();
      if (md.owned) await md.adapter.close();
    },
  };
}

/** `--home`, or $TRIBUTARY_HOME, refused when it holds a control character (a NUL is an untyped TypeError deep in fs). */
function homeOption(args: ParsedArgs): string | undefined {
  const home = optionValue(args, 'home');
  const env = process.env.TRIBUTARY_HOME;
  if (home === undefined && env !== undefined && hasControlChars(env))
    throw usageError(`TRIBUTARY_HOME contains a control character: "${safeText(env)}". Fix the variable or pass --home <dir>.`);
  const dir = tributaryHome(home);
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new TributaryError(
      'CONFIG',
      `The Tributary home ${safeText(dir)}${home === undefined ? ' (from $TRIBUTARY_HOME or the default ./.tributary)' : ''} is not a directory. Pass --home <dir>: a folder for the default stores.`,
      { context: { path: dir } },
    );
  return home;
}

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
  const warm = compute || withCompute.length ? {} : await takeWarmWorker(flow);
  return runWithDisplay(quiet, flag(args, 'no-progress'), (ui) =>
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
  const warm = compute || withCompute.length ? {} : await takeWarmWorker(flowName);
  return runWithDisplay(quiet, flag(args, 'no-progress'), (ui) =>
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
  start: (ui: { signal: AbortSignal; onEvent: ProgressDisplay['handle']; onTaskOutput: ProgressDisplay['output'] }) => Promise<Run>,
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
    display.notice(`${signal}: stopping the run (tasks are stopped and the run is recorded aborted); press Ctrl-C again to exit at once.`);
    abort.abort(new Error(`interrupted (${signal})`));
  };
  const signals = Object.keys(SIGNAL_EXIT) as NodeJS.Signals[];
  for (const s of signals) process.on(s, onSignal);
  keepRunningOnClosedPipes();
  try {
    const run = await start({ signal: abort.signal, onEvent: display.handle, onTaskOutput: display.output });
    await run.close();
    return reportRun(run, stoppedBy);
  } finally {
    display.stop();
    for (const s of signals) process.off(s, onSignal);
  }
}

function reportRun(run: Run, stoppedBy: NodeJS.Signals | undefined): number {
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

async function cmdRuns(tokens: string[]): Promise<number> {
  const args = parseStrict('runs', tokens, 1);
  if (flag(args, 'help')) {
    out(commandHelp('runs'));
    return 0;
  }
  const target = args.positional[0];
  if (!target) throw usageError('Usage: tributary runs <FlowName | flow.ts> [--limit N]');
  let flow: string;
  if (/\.[cm]?[jt]s$/.test(target)) flow = (await loadFlow(target, optionValue(args, 'flow'))).flowName;
  else {
    flow = target;
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(flow))
      throw usageError(`"${safeText(flow)}" is neither a flow name nor a flow file (.ts/.js). Usage: tributary runs <FlowName | flow.ts>`);
  }
  const limit = intOption(args, 'limit') ?? 20;
  const stores = await openStores(args);
  try {
    const page = await stores.metadata.listRuns({ flow, limit });
    if (page.items.length === 0) out(`No runs of ${flow}.\n`);
    for (const run of page.items) {
      let status: string = run.status;
      if (run.status === 'running') {
        const live = await runLiveness(stores.metadata, run);
        if (!live.alive) status = `stale (${live.why}; resume it to finish it)`;
      }
      const when = new Date(run.createdAt).toISOString().replace('T', ' ').slice(0, 19);
      const took = run.finishedAt ? ` in ${((run.finishedAt - run.createdAt) / 1000).toFixed(1)}s` : '';
      const origin = run.originRunId ? `  (resumed from ${safeText(run.originRunId)})` : '';
      const tags = run.tags.length ? `  tags: ${run.tags.map((t) => safeText(t)).join(', ')}` : '';
      out(`${safeText(flow)}/${safeText(run.runId)}  ${when}  ${safeText(status)}${took}${origin}${tags}\n`);
    }
    return 0;
  } finally {
    await stores.close();
  }
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

/** All tasks of a step, in creation order. */
async function stepTasks(metadata: MetadataStore, flow: string, runId: string, step: string): Promise<TaskRecord[]> {
  const tasks: TaskRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await metadata.listTasks({ flow, runId, step, ...(cursor ? { cursor } : {}) });
    tasks.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return tasks;
}

/** The task a pathspec names: its task id, or the only task of its step (default: the end step). */
async function resolveTasks(metadata: MetadataStore, ps: Pathspec): Promise<{ step: string; tasks: TaskRecord[] }> {
  const run = await metadata.getRun(ps.flow, ps.runId);
  if (ps.taskId) {
    const t = await metadata.getTask({ flow: ps.flow, runId: ps.runId, taskId: ps.taskId });
    if (ps.step && t.step !== ps.step)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${ps.taskId} of ${ps.flow}/${ps.runId} belongs to step ${safeText(t.step)}, not ${ps.step}: its pathspec is ${ps.flow}/${ps.runId}/${safeText(t.step)}/${ps.taskId}.`,
      );
    return { step: t.step, tasks: [t] };
  }
  const graph = run.graph as Partial<FlowGraph>;
  const step = ps.step ?? graph.end!;
  const tasks = await stepTasks(metadata, ps.flow, ps.runId, step);
  if (tasks.length === 0) {
    const steps = graph.order ?? [];
    throw new TributaryError(
      'NOT_FOUND',
      steps.length && !steps.includes(step)
        ? `Run ${ps.flow}/${ps.runId} has no step ${step}. Its steps: ${steps.map((s) => safeText(s)).join(', ')}.`
        : `Run ${ps.flow}/${ps.runId} has no task of step ${step}${run.status === 'running' ? ' yet' : ''} (the run is ${run.status}).`,
    );
  }
  return { step, tasks };
}

function taskLine(ps: Pathspec, t: TaskRecord): string {
  return `${ps.flow}/${ps.runId}/${safeText(t.step)}/${safeText(t.taskId)}  ${safeText(t.key)}  ${t.status}${t.originPathspec ? `  (cloned from ${safeText(t.originPathspec)})` : ''}`;
}

function oneTask(ps: Pathspec, step: string, tasks: TaskRecord[], command: string): TaskRecord {
  if (tasks.length === 1) return tasks[0]!;
  const shown = tasks.slice(0, 10).map((t) => `  ${taskLine(ps, t)}`);
  if (tasks.length > 10) shown.push(`  ... and ${tasks.length - 10} more (tributary dump ${ps.flow}/${ps.runId}/${step} lists them all)`);
  throw usageError(
    `Step ${safeText(step)} of ${ps.flow}/${ps.runId} has ${tasks.length} tasks; name one: tributary ${command} ${ps.flow}/${ps.runId}/${safeText(step)}/<task>\n${shown.join('\n')}`,
  );
}

function attemptOption(args: ParsedArgs): number | undefined {
  const v = optionValue(args, 'attempt');
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v))
    throw usageError(`--attempt must be an attempt number (0, 1, ...), got "${safeText(v)}".`, { option: 'attempt' });
  return Number(v);
}

async function cmdLogs(tokens: string[]): Promise<number> {
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
  const stores = await openStores(args);
  try {
    const { step, tasks } = await resolveTasks(stores.metadata, ps);
    let task = oneTask(ps, step, tasks, 'logs');
    let pathspec = `${ps.flow}/${ps.runId}/${task.step}/${task.taskId}`;
    if (task.attempts === 0)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${safeText(pathspec)} has not started (it is ${task.status}): it has no attempt, so no output.`,
      );
    if (attemptArg !== undefined && attemptArg >= task.attempts)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${safeText(pathspec)} has ${task.attempts} attempt${task.attempts === 1 ? '' : 's'} (${task.attempts === 1 ? '0' : `0 to ${task.attempts - 1}`}); there is no attempt ${attemptArg}.`,
      );
    let attempt = attemptArg ?? task.attempts - 1;
    const streams = only ? [only] : (['stdout', 'stderr'] as const);
    // A task cloned by resume ran in its origin run: its output is stored there.
    for (let hops = 0; task.originPathspec && hops < 100 && !(await hasLogs(stores.datastore, pathspec, attempt, streams)); hops++) {
      const origin = parsePathspec(task.originPathspec, 4, 4, `Invalid origin pathspec of ${pathspec}`);
      err(
        `(no output stored for attempt ${attempt} of ${pathspec}: it was cloned from ${task.originPathspec}; showing that task's output)\n`,
      );
      task = await stores.metadata.getTask({ flow: origin.flow, runId: origin.runId, taskId: origin.taskId! });
      pathspec = `${origin.flow}/${origin.runId}/${task.step}/${task.taskId}`;
      attempt = Math.max(0, task.attempts - 1);
    }
    let printed = false;
    for (const stream of streams) {
      const key = `${pathspec}/${attempt}.${stream}.log`;
      if (!(await stores.datastore.head(key))) continue;
      const bytes = await stores.datastore.get(key);
      // Task output is printed raw: it is the user's own output (colours, progress bars), like a log file.
      (stream === 'stderr' && !only ? process.stderr : process.stdout).write(bytes);
      printed = true;
    }
    if (!printed) err(`(${await whyNoLogs(stores.metadata, task, pathspec, attempt, only)})\n`);
    return 0;
  } finally {
    await stores.close();
  }
}

async function hasLogs(datastore: Datastore, pathspec: string, attempt: number, streams: readonly string[]): Promise<boolean> {
  for (const s of streams) if (await datastore.head(`${pathspec}/${attempt}.${s}.log`)) return true;
  return false;
}

async function whyNoLogs(
  metadata: MetadataStore,
  task: TaskRecord,
  pathspec: string,
  attempt: number,
  only: string | undefined,
): Promise<string> {
  const head = `no output stored for attempt ${attempt} of task ${safeText(pathspec)}`;
  const record = (await metadata.listAttempts({ flow: task.flow, runId: task.runId, taskId: task.taskId })).find(
    (a) => a.attempt === attempt,
  );
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

async function cmdDump(tokens: string[]): Promise<number> {
  const args = parseStrict('dump', tokens, 1);
  if (flag(args, 'help')) {
    out(commandHelp('dump'));
    return 0;
  }
  const ps = parsePathspec(args.positional[0], 2, 5, 'Usage: tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]');
  const json = flag(args, 'json');
  const stores = await openStores(args);
  try {
    const { step, tasks } = await resolveTasks(stores.metadata, ps);
    if (tasks.length > 1) {
      const stepPathspec = `${ps.flow}/${ps.runId}/${safeText(step)}`;
      if (json) {
        const list = tasks.map((t) => ({
          pathspec: `${ps.flow}/${ps.runId}/${t.step}/${t.taskId}`,
          key: t.key,
          status: t.status,
          attempts: t.attempts,
          ...(t.originPathspec ? { originPathspec: t.originPathspec } : {}),
        }));
        out(`${safeJson(JSON.stringify({ pathspec: `${ps.flow}/${ps.runId}/${step}`, tasks: list }, null, 2))}\n`);
      } else {
        out(`${stepPathspec} has ${tasks.length} tasks; dump one with tributary dump ${stepPathspec}/<task>:\n`);
        for (const t of tasks) out(`  ${taskLine(ps, t)}\n`);
      }
      return 0;
    }
    const task = tasks[0]!;
    const refs = await stores.metadata.listArtifacts({ flow: ps.flow, runId: ps.runId, taskId: task.taskId });
    const pathspec = `${ps.flow}/${ps.runId}/${task.step}/${task.taskId}`;
    const store = new ArtifactStore(stores.datastore, ps.flow).forTask(pathspec);
    const chosen = ps.artifact ? refs.filter((r) => r.name === ps.artifact) : refs;
    if (ps.artifact && chosen.length === 0)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${safeText(pathspec)} has no artifact ${ps.artifact}. ${refs.length ? `It has: ${refs.map((r) => safeText(r.name)).join(', ')}.` : `It has none (it is ${task.status}).`}`,
      );
    const values: Record<string, unknown> = {};
    for (const ref of chosen) values[ref.name] = await store.load(ref);
    // A failed task has no artifacts: what its last attempt failed with is what the reader wants.
    const failure =
      task.status === 'failed'
        ? (await stores.metadata.listAttempts({ flow: ps.flow, runId: ps.runId, taskId: task.taskId })).filter((a) => a.error).pop()
        : undefined;
    if (json) {
      const doc = {
        pathspec,
        status: task.status,
        ...(failure?.error ? { error: { attempt: failure.attempt, ...failure.error } } : {}),
        artifacts: Object.fromEntries(
          chosen.map((r) => [r.name, { type: r.type, size: r.size, sha: r.sha, value: toJsonSafe(values[r.name]) }]),
        ),
      };
      out(`${safeJson(JSON.stringify(doc, null, 2))}\n`);
    } else {
      out(`${safeText(pathspec)} (${task.status})\n`);
      if (failure?.error)
        out(
          `  attempt ${failure.attempt} failed: [${safeText(failure.error.code)}] ${safeText(failure.error.message, { multiline: true })}\n`,
        );
      for (const r of chosen) {
        const shown = inspect(values[r.name], { depth: 4, maxArrayLength: 20, breakLength: 100 });
        out(
          `  ${safeText(r.name)}: ${safeText(r.type)}, ${r.size} bytes, sha256 ${safeText(r.sha.slice(0, 12))}\n    ${shown.split('\n').join('\n    ')}\n`,
        );
      }
    }
    return 0;
  } finally {
    await stores.close();
  }
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
};

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
