/** `tributary tag`: change or list a run's user tags, through the client. */
import { flag } from './args.ts';
import { out } from './output.ts';
import { parsePathspec } from './pathspec.ts';
import { safeJson, safeText } from './safe-text.ts';
import { commandHelp, parseStrict, usageError } from './commands.ts';
import { openClient } from './open-client.ts';

export async function cmdTag(tokens: string[]): Promise<number> {
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
