/** The CLI's commands, their options and help, and the strict parsing every command shares. */
import { existsSync, statSync } from 'node:fs';
import { tributaryHome, TributaryError } from '@tributary/core';
import { flag, optionValue, parseArgs, refuseControlChars, refuseExtraPositionals, type OptionSpec, type ParsedArgs } from './args.ts';
import { hasControlChars, safeText } from './safe-text.ts';

export const USAGE = `tributary — ML workflows as TypeScript classes

Usage:
  tributary run <flow.ts> [--<param> value] [--max-workers N] [--max-num-splits N] [--tag T]...
  tributary resume <flow.ts> [step] [--origin-run-id ID] [--rerun-changed] [--dry-run]
  tributary show <flow.ts> [--format text|mermaid|dot|json]
  tributary runs <FlowName | flow.ts> [--limit N] [--tag T]... [--user U] [--status S] [--namespace NS]
  tributary logs <Flow/run/step[/task]> [--stdout | --stderr] [--attempt N]
  tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]
  tributary tag add|remove <Flow/run> <tag>...   tributary tag replace <Flow/run> <old> <new>
  tributary tag list <Flow/run | FlowName>
  tributary card list|view <Flow/run/step[/task]> [--id ID] [--out FILE]
  tributary ui [--port N] [--host H]   a read-only run browser in your web browser
  tributary service [--port N] [--metadata URL] [--token T]   the metadata service for a team (HTTP)
  tributary bootstrap [--out FILE]   the task file of remote images (Kubernetes, AWS Batch)

Common options:
  --flow <Name>        pick a flow when the file exports several
  --home <dir>         folder of the embedded default stores (default $TRIBUTARY_HOME or ./.tributary)
  --datastore <url>    e.g. file:///data/tributary
  --metadata <url>     e.g. sqlite:///data/tributary/metadata.sqlite
  --compute <url>      local:// (warm workers) or local-jobs:// (one process per task attempt)
  --with <kind>        run every step on kubernetes or batch (--with batch:queue=gpu,memory=8192); --with card: a default card on every step
  --env-pass <NAME>    give tasks this environment variable (they get no other of yours)
  --namespace <NS>     read only runs tagged NS (user:alice, production:TOKEN; default global, or $TRIBUTARY_NAMESPACE)
  --quiet              print only errors and the run's pathspec (task output stays in 'tributary logs')
  --no-progress        plain progress lines instead of the live display on a terminal

'tributary <command> --help' shows a command's options; 'tributary run <flow.ts> --help' the flow's parameters.
Exit codes: 0 done, 1 failed, 2 usage or parameter error, 130/143/129 run stopped by SIGINT/SIGTERM/SIGHUP.
Set TRIBUTARY_DEBUG=1 to see stack traces of errors.
`;

export const HELP: OptionSpec = { name: 'help', kind: 'flag', help: 'show this help' };
export const FLOW: OptionSpec = { name: 'flow', kind: 'value', value: 'Name', help: 'pick a flow when the file exports several' };
export const STORES: OptionSpec[] = [
  { name: 'home', kind: 'value', value: 'dir', help: 'folder of the embedded default stores (default $TRIBUTARY_HOME or ./.tributary)' },
  { name: 'datastore', kind: 'value', value: 'url', help: 'datastore URL, e.g. file:///data/tributary' },
  { name: 'metadata', kind: 'value', value: 'url', help: 'metadata store URL, e.g. sqlite:///data/tributary/metadata.sqlite' },
];
export const NAMESPACE: OptionSpec = {
  name: 'namespace',
  kind: 'value',
  value: 'NS',
  help: 'see only runs tagged NS (user:alice, production:TOKEN, any tag) or global (the default, unless $TRIBUTARY_NAMESPACE is set)',
};
export const EXECUTION: OptionSpec[] = [
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
    help: "run every step on kubernetes or batch (e.g. --with kubernetes, --with batch:queue=gpu; a step's own decorator wins), or give every step a default card (--with card)",
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

export interface Command {
  args: string;
  summary: string;
  options: OptionSpec[];
}

export const COMMANDS: Record<string, Command> = {
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
  ui: {
    args: '[options]',
    summary:
      "Serve a read-only web app over the stores: flows, runs (filter by status and tag), a run's graph with per-step\n" +
      "status and task counts (live while it runs), a step's tasks page by page, a task's attempts, logs, artifacts and cards.",
    options: [
      { name: 'port', kind: 'value', value: 'N', help: 'port (default 8324; 0 picks a free one)' },
      { name: 'host', kind: 'value', value: 'H', help: 'address to bind (default 127.0.0.1: only this machine)' },
      NAMESPACE,
      ...STORES,
      HELP,
    ],
  },
  service: {
    args: '[options]',
    summary:
      'Serve the metadata store over HTTP, for a team: clients, the UI, CI jobs and containers use --metadata http(s)://host:port\n' +
      'and need no database credentials. Stateless: run several against one Postgres behind a load balancer.\n' +
      'Clients send the token from $TRIBUTARY_METADATA_TOKEN. GET /health (liveness) and GET /ready (the database answers) need none.',
    options: [
      { name: 'port', kind: 'value', value: 'N', help: 'port (default 8325; 0 picks a free one)' },
      { name: 'host', kind: 'value', value: 'H', help: 'address to bind (default 127.0.0.1: only this machine; 0.0.0.0 for all)' },
      {
        name: 'metadata',
        kind: 'value',
        value: 'url',
        help: 'the store behind it: postgres://… in production (default: the embedded SQLite store of --home)',
      },
      {
        name: 'token',
        kind: 'list',
        value: 'T',
        help: 'accept this bearer token (repeatable, to rotate; default $TRIBUTARY_METADATA_TOKEN; none: no auth, loopback only)',
      },
      { name: 'token-file', kind: 'value', value: 'FILE', help: 'accept the tokens in FILE, one a line (keeps them out of `ps`)' },
      { name: 'tls-key', kind: 'value', value: 'FILE', help: 'serve HTTPS with this PEM private key (with --tls-cert)' },
      { name: 'tls-cert', kind: 'value', value: 'FILE', help: 'the PEM certificate (chain) for --tls-key' },
      { name: 'home', kind: 'value', value: 'dir', help: 'folder of the embedded default store (default $TRIBUTARY_HOME or ./.tributary)' },
      HELP,
    ],
  },
  card: {
    args: 'list|view <Flow/run/step[/task]> [options]',
    summary:
      'The cards a task rendered (@card). A step with one task needs no task id.\n' +
      '  card list <task>    its cards: id, type, status (live while the step runs), size\n' +
      '  card view <task>    write one card to an HTML file (self-contained: open it anywhere) and print its path',
    options: [
      { name: 'id', kind: 'value', value: 'ID', help: "with view: which card (default: the task's only card, or its card without an id)" },
      {
        name: 'out',
        kind: 'value',
        value: 'FILE',
        help: 'with view: write it here (- for stdout; default <home>/cards/<pathspec>/<id>.html)',
      },
      { name: 'json', kind: 'flag', help: 'with list: JSON output' },
      NAMESPACE,
      ...STORES,
      HELP,
    ],
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
export const RESERVED = new Set([...COMMANDS.run!.options, ...COMMANDS.resume!.options].map((o) => o.name));

export const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export function usageError(message: string, context: Record<string, unknown> = {}): TributaryError {
  return new TributaryError('PARAM_INVALID', message, { context });
}

export function debug(): boolean {
  return process.env.TRIBUTARY_DEBUG === '1' || process.env.TRIBUTARY_DEBUG === 'true';
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  const width = Math.max(...c.options.map((o) => optionLabel(o).length));
  const lines = [`Usage: tributary ${name} ${c.args}`, '', c.summary, '', 'Options:'];
  for (const o of c.options) lines.push(`  ${optionLabel(o).padEnd(width)}  ${o.help}`);
  return `${lines.join('\n')}\n`;
}

export function optionLabel(o: OptionSpec): string {
  return o.kind === 'flag' ? `--${o.name}` : `--${o.name} <${o.value ?? 'value'}>`;
}

/** Parse a command's words strictly: unknown options and stray words are usage errors. */
export function parseStrict(name: string, tokens: string[], positionals: number): ParsedArgs {
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
export function homeOption(args: ParsedArgs): string | undefined {
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

/** `--port` of a server command: 0 to 65535 (0 picks a free one), else `fallback`. */
export function portOption(args: ParsedArgs, fallback: number): number {
  const text = optionValue(args, 'port') ?? String(fallback);
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65535)
    throw usageError(`--port must be a port number from 0 to 65535 (0 picks a free one), got "${safeText(text)}".`, { option: 'port' });
  return port;
}
