import { existsSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import {
  buildGraph,
  Client,
  parseNamespace,
  type Namespace,
  type Run,
  type RunFilter,
  type RunStatus,
  type Task,
  describeParams,
  formatResumePlan,
  planResume,
  resumeFlow,
  runLiveness,
  type RunResult,
  openConfiguredAdapter,
  renderGraph,
  runFlow,
  tributaryHome,
  TributaryError,
  type FlowGraph,
  type GraphFormat,
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
  tributary runs <FlowName | flow.ts> [--limit N] [--tag T]... [--user U] [--status S] [--namespace NS]
  tributary logs <Flow/run/step[/task]> [--stdout | --stderr] [--attempt N]
  tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]
  tributary tag add|remove <Flow/run> <tag>...   tributary tag replace <Flow/run> <old> <new>
  tributary tag list <Flow/run | FlowName>
  tributary bootstrap [--out FILE]   the task file of remote images (Kubernetes, AWS Batch)

Common options:
  --flow <Name>        pick a flow when the file exports several
  --home <dir>         folder of the embedded default stores (default $TRIBUTARY_HOME or ./.tributary)
  --datastore <url>    e.g. file:///data/tributary
  --metadata <url>     e.g. sqlite:///data/tributary/metadata.sqlite
  --compute <url>      local:// (warm workers) or local-jobs:// (one process per task attempt)
  --with <kind>        run every step on kubernetes or batch (--with batch:queue=gpu,memory=8192)
  --env-pass <NAME>    give tasks this environment variable (they get no other of yours)
  --namespace <NS>     read only runs tagged NS (user:alice, production:TOKEN; default global, or $TRIBUTARY_NAMESPACE)
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
const NAMESPACE: OptionSpec = {
  name: 'namespace',
  kind: 'value',
  value: 'NS',
  help: 'see only runs tagged NS (user:alice, production:TOKEN, any tag) or global (the default, unless $TRIBUTARY_NAMESPACE is set)',
};
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
    options: [
      FLOW,
      { name: 'limit', kind: 'value', value: 'N', help: 'how many runs (default 20)' },
      { name: 'tag', kind: 'list', value: 'T', help: 'only runs with this tag (repeatable: all of them)' },
      { name: 'user', kind: 'value', value: 'U', help: 'only runs of this user' },
      { name: 'status', kind: 'value', value: 'S', help: 'only runs with this status: running, succeeded, failed or aborted' },
      { name: 'json', kind: 'flag', help: 'JSON output, one document' },
      NAMESPACE,
      ...STORES,
      HELP,
    ],
  },
  logs: {
    args: '<Flow/run/step[/task]> [options]',
    summary:
      'Print what a task printed (stdout, then stderr), as it printed it. A step with one task needs no task id.\n--stdout/--stderr print one stream, to stdout (so it can be piped).',
    options: [
      { name: 'stdout', kind: 'flag', help: 'only the task’s stdout' },
      { name: 'stderr', kind: 'flag', help: 'only the task’s stderr (written to stdout)' },
      { name: 'attempt', kind: 'value', value: 'N', help: 'which attempt (0, 1, ...; default the last one)' },
      NAMESPACE,
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
    options: [{ name: 'json', kind: 'flag', help: 'JSON output (values made JSON-safe)' }, NAMESPACE, ...STORES, HELP],
  },
  tag: {
    args: 'add|remove|replace|list <Flow/run | FlowName> [tag...]',
    summary:
      "Change or list a run's user tags (system tags such as user:<name> never change).\n" +
      '  tag add <Flow/run> <tag>...       add tags\n' +
      '  tag remove <Flow/run> <tag>...    remove tags\n' +
      '  tag replace <Flow/run> <old>... --to <new>...   remove and add in one step (or: tag replace <Flow/run> <old> <new>)\n' +
      "  tag list <Flow/run>               the run's tags;  tag list <FlowName>: every tag of the flow's runs, with counts",
    options: [
      { name: 'to', kind: 'list', value: 'tag', help: 'with replace: the tags to add (repeatable)' },
      { name: 'json', kind: 'flag', help: 'JSON output' },
      NAMESPACE,
      ...STORES,
      HELP,
    ],
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

/** The namespace a read command sees: --namespace, else $TRIBUTARY_NAMESPACE, else global. */
function namespaceOption(args: ParsedArgs): Namespace {
  const given = optionValue(args, 'namespace') ?? process.env.TRIBUTARY_NAMESPACE;
  if (given === undefined || given === '') return null;
  if (given.length > 500) throw usageError('--namespace is a tag (at most 500 characters), or global.');
  return parseNamespace(given);
}

/** A client on the command's stores, in its namespace. */
async function openClient(args: ParsedArgs): Promise<Client> {
  const home = tributaryHome(homeOption(args));
  return Client.open({
    home,
    ...(optionValue(args, 'datastore') !== undefined ? { datastore: optionValue(args, 'datastore')! } : {}),
    ...(optionValue(args, 'metadata') !== undefined ? { metadata: optionValue(args, 'metadata')! } : {}),
    namespace: namespaceOption(args),
  });
}

function flowTarget(target: string | undefined, usage: string): string | undefined {
  if (!target) throw usageError(usage);
  if (/\.[cm]?[jt]s$/.test(target)) return undefined;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(target))
    throw usageError(`"${safeText(target)}" is neither a flow name nor a flow file (.ts/.js). ${usage}`);
  return target;
}

const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'aborted'];

async function cmdRuns(tokens: string[]): Promise<number> {
  const args = parseStrict('runs', tokens, 1);
  if (flag(args, 'help')) {
    out(commandHelp('runs'));
    return 0;
  }
  const usage = 'Usage: tributary runs <FlowName | flow.ts> [--limit N] [--tag T]... [--user U] [--status S] [--namespace NS]';
  const target = args.positional[0];
  const flow = flowTarget(target, usage) ?? (await loadFlow(target!, optionValue(args, 'flow'))).flowName;
  const limit = intOption(args, 'limit') ?? 20;
  const status = optionValue(args, 'status') as RunStatus | undefined;
  if (status !== undefined && !RUN_STATUSES.includes(status))
    throw usageError(`--status must be one of ${RUN_STATUSES.join(', ')}; got ${safeText(status)}.`);
  const filter: RunFilter = {
    ...(args.options.get('tag')?.length ? { tags: args.options.get('tag')! } : {}),
    ...(optionValue(args, 'user') !== undefined ? { user: optionValue(args, 'user')! } : {}),
    ...(status ? { status } : {}),
  };
  const client = await openClient(args);
  try {
    const runs: Run[] = [];
    for await (const run of client.flow(flow).runs({ ...filter, pageSize: Math.min(limit, 1000) })) {
      runs.push(run);
      if (runs.length >= limit) break;
    }
    const liveness = await Promise.all(runs.map((r) => (r.status === 'running' ? runLiveness(client.metadata, r.record) : undefined)));
    if (flag(args, 'json')) {
      const doc = runs.map((r, i) => ({ ...r.toJSON(), ...(liveness[i] && !liveness[i].alive ? { stale: liveness[i].why } : {}) }));
      out(`${safeJson(JSON.stringify({ flow, namespace: client.namespace, runs: doc }, null, 2))}\n`);
      return 0;
    }
    if (runs.length === 0) {
      const hidden = client.namespace === null ? undefined : await client.withNamespace(null).flow(flow).latestRun(filter);
      out(
        `No runs of ${safeText(flow)}${Object.keys(filter).length ? ' that match' : ''}${client.namespace === null ? '' : ` in namespace ${safeText(client.namespace)}`}.` +
          `${hidden ? ' Other namespaces have some: --namespace global shows them.' : ''}\n`,
      );
    }
    runs.forEach((run, i) => {
      const live = liveness[i];
      const status = live && !live.alive ? `stale (${live.why}; resume it to finish it)` : run.status;
      const when = run.createdAt.toISOString().replace('T', ' ').slice(0, 19);
      const took = run.finishedAt ? ` in ${((run.finishedAt.getTime() - run.createdAt.getTime()) / 1000).toFixed(1)}s` : '';
      const origin = run.originRunId ? `  (resumed from ${safeText(run.originRunId)})` : '';
      const tags = run.tags.length ? `  tags: ${run.tags.map((t) => safeText(t)).join(', ')}` : '';
      out(`${safeText(flow)}/${safeText(run.runId)}  ${when}  ${safeText(status)}${took}  by ${safeText(run.user)}${origin}${tags}\n`);
    });
    return 0;
  } finally {
    await client.close();
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

/** The task a pathspec names: its task id, or the tasks of its step (default: the end step). */
async function resolveTasks(client: Client, ps: Pathspec): Promise<{ step: string; tasks: Task[] }> {
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

function oneTask(ps: Pathspec, step: string, tasks: Task[], command: string): Task {
  if (tasks.length === 1) return tasks[0]!;
  const shown = tasks.slice(0, 10).map((t) => `  ${taskLine(t)}`);
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

async function cmdDump(tokens: string[]): Promise<number> {
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
    if (json) {
      const doc = {
        pathspec: task.pathspec,
        status: task.status,
        ...(failure?.error ? { error: { attempt: failure.attempt, code: failure.error.code, message: failure.error.message } } : {}),
        artifacts: Object.fromEntries(
          chosen.map((r, i) => [r.name, { type: r.type, size: r.size, sha: r.sha, value: toJsonSafe(values[i]) }]),
        ),
      };
      out(`${safeJson(JSON.stringify(doc, null, 2))}\n`);
    } else {
      out(`${safeText(task.pathspec)} (${task.status})\n`);
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

async function cmdTag(tokens: string[]): Promise<number> {
  const args = parseStrict('tag', tokens, 1000);
  if (flag(args, 'help')) {
    out(commandHelp('tag'));
    return 0;
  }
  const [action, target, ...tags] = args.positional;
  const usage = 'Usage: tributary tag add|remove|replace|list <Flow/run | FlowName> [tag...] (see tributary tag --help)';
  if (!action || !['add', 'remove', 'replace', 'list'].includes(action))
    throw usageError(action ? `Unknown tag action ${safeText(action)}: add, remove, replace or list. ${usage}` : usage);
  if (!target) throw usageError(usage);
  const to = args.options.get('to') ?? [];
  if (to.length && action !== 'replace') throw usageError('--to goes with tag replace only.');
  for (const t of [...tags, ...to])
    if (t.length === 0 || t.length > 500) throw usageError(`Tags are 1-500 characters; got "${safeText(t)}".`);
  const json = flag(args, 'json');
  const client = await openClient(args);
  try {
    if (action === 'list' && !target.includes('/')) {
      if (tags.length) throw usageError('tag list takes a run or a flow, no tags.');
      const flow = parsePathspec(`${target}/0`, 2, 2, usage).flow;
      const counts = new Map<string, number>();
      for await (const run of client.flow(flow).runs({ pageSize: 1000 })) for (const t of run.tags) counts.set(t, (counts.get(t) ?? 0) + 1);
      const sorted = [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      if (json) out(`${safeJson(JSON.stringify({ flow, namespace: client.namespace, tags: Object.fromEntries(sorted) }, null, 2))}\n`);
      else if (sorted.length === 0)
        out(
          `No run of ${safeText(flow)}${client.namespace === null ? '' : ` in namespace ${safeText(client.namespace)}`} has user tags.\n`,
        );
      else for (const [t, n] of sorted) out(`${safeText(t)}  (${n} run${n === 1 ? '' : 's'})\n`);
      return 0;
    }
    const ps = parsePathspec(target, 2, 2, usage);
    let run = await client.run(`${ps.flow}/${ps.runId}`);
    if (action === 'add' || action === 'remove') {
      if (tags.length === 0) throw usageError(`tag ${action} needs at least one tag: tributary tag ${action} ${run.pathspec} <tag>...`);
      run = action === 'add' ? await run.addTags(...tags) : await run.removeTags(...tags);
    } else if (action === 'replace') {
      const [remove, add] = to.length ? [tags, to] : tags.length === 2 ? [[tags[0]!], [tags[1]!]] : [undefined, undefined];
      if (!remove || !add)
        throw usageError(`tag replace takes <old> <new>, or <old>... --to <new>...: tributary tag replace ${run.pathspec} old-tag new-tag`);
      run = await run.replaceTags(remove, add);
    } else if (tags.length) throw usageError('tag list takes a run or a flow, no tags.');
    if (json) out(`${safeJson(JSON.stringify({ pathspec: run.pathspec, tags: run.tags, systemTags: run.systemTags }, null, 2))}\n`);
    else {
      out(`${safeText(run.pathspec)}\n`);
      out(`  tags:        ${run.tags.length ? run.tags.map((t) => safeText(t)).join(', ') : '(none)'}\n`);
      out(`  system tags: ${run.systemTags.map((t) => safeText(t)).join(', ')}\n`);
    }
    return 0;
  } finally {
    await client.close();
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
  tag: cmdTag,
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
