/** `tributary card list|view`: the cards a task rendered (`@card`), read through the client. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tributaryHome, type Card } from '@tributary/core';
import { flag, optionValue } from './args.ts';
import { commandHelp, homeOption, parseStrict, usageError } from './commands.ts';
import { openClient } from './open-client.ts';
import { out } from './output.ts';
import { parsePathspec } from './pathspec.ts';
import { safeJson, safeText } from './safe-text.ts';
import { oneTask, resolveTasks } from './task-commands.ts';

const USAGE = 'Usage: tributary card list|view <Flow/run/step[/task]> [--id ID] [--out FILE] (see tributary card --help)';

function describe(c: Card): string {
  const kb = (c.size / 1024).toFixed(1);
  return `${c.id ?? '(default)'}  ${c.type}  ${c.status === 'running' ? 'live' : c.status}  attempt ${c.attempt}  ${kb} KB  ${c.renderedAt.toISOString()}${c.error ? `  error: ${safeText(c.error)}` : ''}`;
}

export async function cmdCard(tokens: string[]): Promise<number> {
  const args = parseStrict('card', tokens, 2);
  if (flag(args, 'help')) {
    out(commandHelp('card'));
    return 0;
  }
  const [action, target] = args.positional;
  if (!action || !['list', 'view'].includes(action))
    throw usageError(action ? `Unknown card action ${safeText(action)}: list or view. ${USAGE}` : USAGE);
  const ps = parsePathspec(target, 3, 4, USAGE);
  const id = optionValue(args, 'id');
  const outPath = optionValue(args, 'out');
  if (action === 'list' && (id !== undefined || outPath !== undefined)) throw usageError('--id and --out go with card view.');
  const client = await openClient(args);
  try {
    const { step, tasks } = await resolveTasks(client, ps);
    const task = oneTask(ps, step, tasks, `card ${action}`);
    if (action === 'list') {
      const cards = await task.cards();
      if (flag(args, 'json')) out(`${safeJson(JSON.stringify({ task: task.pathspec, cards: cards.map((c) => c.toJSON()) }, null, 2))}\n`);
      else if (cards.length === 0) out(`${safeText(task.pathspec)} has no cards (is step ${safeText(step)} decorated with @card?)\n`);
      else for (const c of cards) out(`${describe(c)}\n`);
      return 0;
    }
    const card = await task.card(id);
    const html = await card.html();
    if (outPath === '-') {
      out(html);
      return 0;
    }
    const file = outPath
      ? resolve(outPath)
      : join(tributaryHome(homeOption(args)), 'cards', ...task.pathspec.split('/'), `${card.id ?? 'default'}.html`);
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, html);
    renameSync(tmp, file);
    out(`${file}\n`);
    return 0;
  } finally {
    await client.close();
  }
}
