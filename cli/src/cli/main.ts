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
  type GraphFormat,
  type MetadataStore,
  type TaskRecord,
} from '../index.ts';
import { loadFlow } from './load-flow.ts';
import { ProgressDisplay } from './progress.ts';
import { toJsonSafe } from './to-json.ts';

const USAGE = `tributary — ML workflows as TypeScript classes

Usage:
  tributary run <flow.ts> [--<param> value] [--max-workers N] [--max-num-splits N] [--tag T]...
  tributary resume <flow.ts> [step] [--origin-run-id ID] [--dry-run]
  tributary show <flow.ts> [--format text|mermaid|dot|json]
  tributary runs <FlowName | flow.ts> [--limit N]
  tributary logs <Flow/run/step/task> [--stderr] [--attempt N]
  tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]

Common options:
  --flow <Name>        pick a flow when the file exports several
  --home <dir>         folder of the embedded default stores (default $TRIBUTARY_HOME or ./.tributary)
  --datastore <url>    e.g. file:///data/tributary
  --metadata <url>     e.g. sqlite:///data/tributary/metadata.sqlite
  --quiet              print only errors and the run's pathspec (task output stays in 'tributary logs')
  --no-progress        plain progress lines instead of the live display on a terminal
`;

interface Parsed {
  positional: string[];
  options: Map<string, string[]>;
}

const BOOLEAN = new Set(['json', 'quiet', 'help', 'stderr', 'stdout', 'echo-logs', 'no-progress', 'dry-run']);

function parse(argv: string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      let [name, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (value === undefined) {
        if (BOOLEAN.has(name)) value = 'true';
        else {
          value = argv[++i];
          if (value === undefined) throw new TributaryError('PARAM_INVALID', `Option --${name} needs a value.`);
        }
      }
      options.set(name, [...(options.get(name) ?? []), value]);
    } else positional.push(a);
  }
  return { positional, options };
}

function take(p: Parsed, name: string): string | undefined {
  const v = p.options.get(name);
  p.options.delete(name);
  return v?.[v.length - 1];
}

function takeInt(p: Parsed, name: string): number | undefined {
  const v = take(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new TributaryError('PARAM_INVALID', `--${name} must be a positive integer, got ${JSON.stringify(v)}.`);
  return n;
}

async function openStores(p: Parsed): Promise<{ datastore: Datastore; metadata: MetadataStore; close: () => Promise<void> }> {
  const home = tributaryHome(take(p, 'home'));
  const ds = await openConfiguredAdapter('datastore', take(p, 'datastore'), home);
  const md = await openConfiguredAdapter('metadata', take(p, 'metadata'), home);
  return {
    datastore: ds.adapter,
    metadata: md.adapter,
    close: async () => {
      if (ds.owned) await ds.adapter.close();
      if (md.owned) await md.adapter.close();
    },
  };
}

async function cmdRun(p: Parsed): Promise<number> {
  const file = p.positional[1];
  if (!file) throw new TributaryError('PARAM_INVALID', 'Usage: tributary run <flow.ts> [--<param> value]');
  const { flowClass, module, exportName } = await loadFlow(file, take(p, 'flow'));
  if (take(p, 'help')) {
    const params = describeParams(flowClass);
    process.stdout.write(`Usage: tributary run ${file} [options]\n\nParameters of ${flowClass.name}:\n`);
    for (const d of params) {
      process.stdout.write(
        `  --${d.name} <${d.type}>${d.required ? ' (required)' : ` (default ${JSON.stringify(d.default)})`}${d.help ? `  ${d.help}` : ''}\n`,
      );
    }
    if (params.length === 0) process.stdout.write('  (none)\n');
    return 0;
  }
  const home = take(p, 'home');
  const datastore = take(p, 'datastore');
  const metadata = take(p, 'metadata');
  const maxWorkers = takeInt(p, 'max-workers');
  const maxNumSplits = takeInt(p, 'max-num-splits');
  const tags = p.options.get('tag') ?? [];
  p.options.delete('tag');
  const quiet = take(p, 'quiet') === 'true';
  const noProgress = take(p, 'no-progress') === 'true';
  // Like Metaflow, task output is shown by default (prefixed with its pathspec); --quiet hides it.
  const echoLogs = !quiet;
  take(p, 'echo-logs');
  const params: Record<string, string> = {};
  for (const [k, v] of p.options) params[k] = v[v.length - 1]!;
  return runWithDisplay(quiet, noProgress, (ui) =>
    runFlow(flowClass, {
      params,
      flowModule: module,
      flowExport: exportName,
      ...(home ? { home } : {}),
      ...(datastore ? { datastore } : {}),
      ...(metadata ? { metadata } : {}),
      ...(maxWorkers ? { maxWorkers } : {}),
      ...(maxNumSplits ? { maxNumSplits } : {}),
      tags,
      echoLogs,
      ...ui,
    }),
  );
}

async function cmdResume(p: Parsed): Promise<number> {
  const file = p.positional[1];
  if (!file) throw new TributaryError('PARAM_INVALID', 'Usage: tributary resume <flow.ts> [step] [--origin-run-id ID] [--dry-run]');
  const { flowClass, module, exportName } = await loadFlow(file, take(p, 'flow'));
  const step = p.positional[2];
  const originRunId = take(p, 'origin-run-id');
  const dryRun = take(p, 'dry-run') === 'true';
  const home = take(p, 'home');
  const datastore = take(p, 'datastore');
  const metadata = take(p, 'metadata');
  const maxWorkers = takeInt(p, 'max-workers');
  const maxNumSplits = takeInt(p, 'max-num-splits');
  const quiet = take(p, 'quiet') === 'true';
  const noProgress = take(p, 'no-progress') === 'true';
  const tags = p.options.get('tag');
  p.options.delete('tag');
  const leftover = [...p.options.keys()];
  if (leftover.length) {
    throw new TributaryError(
      'PARAM_INVALID',
      `resume reuses the origin run's parameters; unknown option(s) ${leftover.map((k) => `--${k}`).join(', ')}.`,
    );
  }
  const common = {
    ...(home ? { home } : {}),
    ...(metadata ? { metadata } : {}),
    ...(originRunId ? { originRunId } : {}),
    ...(step ? { step } : {}),
  };
  if (dryRun) {
    process.stdout.write(`${formatResumePlan(await planResume(flowClass, common))}\n`);
    return 0;
  }
  return runWithDisplay(quiet, noProgress, (ui) =>
    resumeFlow(flowClass, {
      ...common,
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

/** Run (or resume) with the progress display and Ctrl-C wired in; report the outcome as an exit code. */
async function runWithDisplay(
  quiet: boolean,
  noProgress: boolean,
  start: (ui: { signal: AbortSignal; onEvent: ProgressDisplay['handle']; onTaskOutput: ProgressDisplay['output'] }) => Promise<Run>,
): Promise<number> {
  const display = new ProgressDisplay(process.stderr, process.stderr.isTTY === true && !noProgress, quiet);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted (SIGINT)'));
  process.once('SIGINT', onSigint);
  try {
    const run = await start({ signal: abort.signal, onEvent: display.handle, onTaskOutput: display.output });
    await run.close();
    return reportRun(run);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function reportRun(run: Run): number {
  if (!run.successful) {
    process.stderr.write(`\n${run.error?.message ?? `Run ${run.pathspec} ${run.status}`}\n`);
    const cause = run.error?.cause as Error | undefined;
    if (cause?.stack && cause.stack !== cause.message) process.stderr.write(`${cause.stack}\n`);
    return 1;
  }
  process.stdout.write(`${run.pathspec}\n`);
  return 0;
}

async function cmdRuns(p: Parsed): Promise<number> {
  const target = p.positional[1];
  if (!target) throw new TributaryError('PARAM_INVALID', 'Usage: tributary runs <FlowName | flow.ts> [--limit N]');
  const flow = /\.[cm]?[jt]s$/.test(target) ? (await loadFlow(target, take(p, 'flow'))).flowClass.name : target;
  const limit = takeInt(p, 'limit') ?? 20;
  const stores = await openStores(p);
  try {
    const page = await stores.metadata.listRuns({ flow, limit });
    if (page.items.length === 0) process.stdout.write(`No runs of ${flow}.\n`);
    for (const run of page.items) {
      let status: string = run.status;
      if (run.status === 'running') {
        const live = await runLiveness(stores.metadata, run);
        if (!live.alive) status = `stale (${live.why}; resume it to finish it)`;
      }
      const when = new Date(run.createdAt).toISOString().replace('T', ' ').slice(0, 19);
      const took = run.finishedAt ? ` in ${((run.finishedAt - run.createdAt) / 1000).toFixed(1)}s` : '';
      process.stdout.write(
        `${flow}/${run.runId}  ${when}  ${status}${took}${run.originRunId ? `  (resumed from ${run.originRunId})` : ''}${run.tags.length ? `  tags: ${run.tags.join(', ')}` : ''}\n`,
      );
    }
    return 0;
  } finally {
    await stores.close();
  }
}

async function cmdShow(p: Parsed): Promise<number> {
  const file = p.positional[1];
  if (!file) throw new TributaryError('PARAM_INVALID', 'Usage: tributary show <flow.ts> [--format text|mermaid|dot|json]');
  const { flowClass } = await loadFlow(file, take(p, 'flow'));
  const format = (take(p, 'format') ?? 'text') as GraphFormat;
  if (!['text', 'mermaid', 'dot', 'json'].includes(format))
    throw new TributaryError('PARAM_INVALID', `--format must be text, mermaid, dot or json; got ${format}.`);
  process.stdout.write(`${renderGraph(buildGraph(flowClass), format)}\n`);
  return 0;
}

function splitPathspec(spec: string | undefined, min: number, usage: string): string[] {
  const parts = (spec ?? '').split('/').filter(Boolean);
  if (parts.length < min) throw new TributaryError('PARAM_INVALID', usage);
  return parts;
}

async function resolveTask(metadata: MetadataStore, flow: string, runId: string, step?: string, taskId?: string): Promise<TaskRecord> {
  if (taskId) {
    const t = await metadata.getTask({ flow, runId, taskId });
    if (step && t.step !== step)
      throw new TributaryError('NOT_FOUND', `Task ${taskId} of ${flow}/${runId} belongs to step ${t.step}, not ${step}.`);
    return t;
  }
  const run = await metadata.getRun(flow, runId);
  const target = step ?? (run.graph as { end: string }).end;
  const page = await metadata.listTasks({ flow, runId, step: target, limit: 2 });
  if (page.items.length === 0) throw new TributaryError('NOT_FOUND', `Run ${flow}/${runId} has no task of step ${target}.`);
  if (page.items.length > 1)
    throw new TributaryError(
      'PARAM_INVALID',
      `Step ${target} of ${flow}/${runId} has several tasks; name one: ${flow}/${runId}/${target}/<task>.`,
    );
  return page.items[0]!;
}

async function cmdLogs(p: Parsed): Promise<number> {
  const [flow, runId, step, taskId] = splitPathspec(p.positional[1], 3, 'Usage: tributary logs <Flow/run/step[/task]> [--stderr]');
  const stores = await openStores(p);
  try {
    const task = await resolveTask(stores.metadata, flow!, runId!, step, taskId);
    const attemptOpt = take(p, 'attempt');
    const attempt = attemptOpt !== undefined ? Number(attemptOpt) : Math.max(0, task.attempts - 1);
    const which = take(p, 'stderr') ? ['stderr'] : take(p, 'stdout') ? ['stdout'] : ['stdout', 'stderr'];
    for (const stream of which) {
      const key = `${flow}/${runId}/${task.step}/${task.taskId}/${attempt}.${stream}.log`;
      const head = await stores.datastore.head(key);
      if (!head) continue;
      const bytes = await stores.datastore.get(key);
      (stream === 'stderr' ? process.stderr : process.stdout).write(bytes);
    }
    return 0;
  } finally {
    await stores.close();
  }
}

async function cmdDump(p: Parsed): Promise<number> {
  const [flow, runId, step, taskId, artifact] = splitPathspec(
    p.positional[1],
    2,
    'Usage: tributary dump <Flow/run[/step[/task[/artifact]]]> [--json]',
  );
  const json = take(p, 'json') === 'true';
  const stores = await openStores(p);
  try {
    const task = await resolveTask(stores.metadata, flow!, runId!, step, taskId);
    const refs = await stores.metadata.listArtifacts({ flow: flow!, runId: runId!, taskId: task.taskId });
    const store = new ArtifactStore(stores.datastore, flow!);
    const chosen = artifact ? refs.filter((r) => r.name === artifact) : refs;
    if (artifact && chosen.length === 0)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${flow}/${runId}/${task.step}/${task.taskId} has no artifact ${artifact}. It has: ${refs.map((r) => r.name).join(', ')}.`,
      );
    const values: Record<string, unknown> = {};
    for (const ref of chosen) values[ref.name] = await store.load(ref);
    const pathspec = `${flow}/${runId}/${task.step}/${task.taskId}`;
    if (json) {
      const out = {
        pathspec,
        status: task.status,
        artifacts: Object.fromEntries(
          chosen.map((r) => [r.name, { type: r.type, size: r.size, sha: r.sha, value: toJsonSafe(values[r.name]) }]),
        ),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      process.stdout.write(`${pathspec} (${task.status})\n`);
      for (const r of chosen) {
        process.stdout.write(
          `  ${r.name}: ${r.type}, ${r.size} bytes, sha256 ${r.sha.slice(0, 12)}\n    ${inspect(values[r.name], { depth: 4, maxArrayLength: 20, breakLength: 100 }).split('\n').join('\n    ')}\n`,
        );
      }
    }
    return 0;
  } finally {
    await stores.close();
  }
}

/** Run the CLI; resolves with the exit code. @internal */
export async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const cmd = p.positional[0];
  try {
    switch (cmd) {
      case 'run':
        return await cmdRun(p);
      case 'resume':
        return await cmdResume(p);
      case 'show':
        return await cmdShow(p);
      case 'runs':
        return await cmdRuns(p);
      case 'logs':
        return await cmdLogs(p);
      case 'dump':
        return await cmdDump(p);
      case undefined:
      case 'help':
        process.stdout.write(USAGE);
        return cmd ? 0 : 2;
      default:
        process.stderr.write(`Unknown command ${cmd}.\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (TributaryError.is(err)) {
      process.stderr.write(`${err.name} [${err.code}]: ${err.message}\n`);
      return err.code === 'PARAM_INVALID' ? 2 : 1;
    }
    throw err;
  }
}
