/** `tributary ui`: the read-only run browser, served on 127.0.0.1 until Ctrl-C. */
import { flag, optionValue } from './args.ts';
import { commandHelp, parseStrict, portOption, usageError } from './commands.ts';
import { openClient } from './open-client.ts';
import { err, out } from './output.ts';
import { safeText } from './safe-text.ts';

export async function cmdUi(tokens: string[]): Promise<number> {
  const args = parseStrict('ui', tokens, 0);
  if (flag(args, 'help')) {
    out(commandHelp('ui'));
    return 0;
  }
  const port = portOption(args, 8324);
  const host = optionValue(args, 'host') ?? '127.0.0.1';
  // Loaded on demand: the other commands never load the UI's server.
  const { startUiServer } = await import('@tributary/ui');
  const client = await openClient(args);
  let server;
  try {
    server = await startUiServer({ client, port, host });
  } catch (e) {
    await client.close();
    if ((e as NodeJS.ErrnoException)?.code === 'EADDRINUSE')
      throw usageError(`Port ${port} on ${safeText(host)} is in use: pick another with --port N (0 picks a free one).`, { option: 'port' });
    throw e;
  }
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
    err(
      `warning: serving on ${safeText(host)}: anyone who reaches it can read every run and artifact these stores hold (the UI has no login).\n`,
    );
  out(`Tributary UI: ${server.url}  (namespace ${client.namespace ?? 'global'}; read-only; Ctrl-C stops it)\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve(s));
  });
  await server.close();
  await client.close();
  void signal;
  return 0;
}
