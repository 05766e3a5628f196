/** `tributary runs`: a flow's runs, newest first, filtered, through the client. */
import { type Run, type RunFilter, type RunStatus, runLiveness } from '@tributary/core';
import { flag, intOption, optionValue } from './args.ts';
import { loadFlow } from './load-flow.ts';
import { out } from './output.ts';
import { safeJson, safeText } from './safe-text.ts';
import { commandHelp, parseStrict, usageError } from './commands.ts';
import { flowTarget, openClient } from './open-client.ts';

const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'aborted'];

export async function cmdRuns(tokens: string[]): Promise<number> {
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
