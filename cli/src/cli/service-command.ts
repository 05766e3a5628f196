/** `tributary service`: the metadata service (HTTP) over a store, until SIGINT/SIGTERM. */
import { readFileSync } from 'node:fs';
import { openConfiguredAdapter, redactUrl, tributaryHome, type MetadataStore } from '@tributary/core';
import { flag, optionValue } from './args.ts';
import { commandHelp, homeOption, parseStrict, portOption, usageError } from './commands.ts';
import { importOptional } from '../optional-package.ts';
import { err, out } from './output.ts';
import { safeText } from './safe-text.ts';

export async function cmdService(tokens: string[]): Promise<number> {
  const args = parseStrict('service', tokens, 0);
  if (flag(args, 'help')) {
    out(commandHelp('service'));
    return 0;
  }
  const port = portOption(args, 8325);
  const host = optionValue(args, 'host') ?? '127.0.0.1';
  const accepted = serviceTokens(args.options.get('token') ?? [], optionValue(args, 'token-file'));
  const tls = tlsFiles(optionValue(args, 'tls-key'), optionValue(args, 'tls-cert'));
  const given = optionValue(args, 'metadata');
  if (given && /^https?:/i.test(given))
    throw usageError('--metadata of a service is the store behind it (postgres://… or sqlite://…), not another service.');
  const { createMetadataService } = await importOptional<typeof import('@tributary/metadata-service')>(
    '@tributary/metadata-service',
    'tributary service',
  );
  const store = await openServiceStore(given, tributaryHome(homeOption(args)));
  const service = createMetadataService({ store, tokens: accepted, ...(tls ? { tls } : {}), log: (line) => err(`${line}\n`) });
  let url: string;
  try {
    url = await service.listen({ port, host });
  } catch (e) {
    await service.close();
    if ((e as NodeJS.ErrnoException)?.code === 'EADDRINUSE')
      throw usageError(`Port ${port} on ${safeText(host)} is in use: pick another with --port N (0 picks a free one).`, { option: 'port' });
    throw e;
  }
  out(
    `Tributary metadata service: ${url}  (store: ${store.name}${given ? ` ${redactUrl(given)}` : ' (embedded)'}; ` +
      `${accepted.length > 0 ? `${accepted.length} token(s)` : 'no token: open to whoever reaches it'}; SIGTERM or Ctrl-C stops it)\n`,
  );
  await new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve(s));
  });
  // Requests in flight finish; new ones get 503 (a client retries them on another instance).
  await service.close();
  out('Tributary metadata service: stopped.\n');
  return 0;
}

function serviceTokens(fromArgs: string[], file: string | undefined): string[] {
  const tokens = [...fromArgs];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw usageError(`Cannot read --token-file ${safeText(file)}: ${(e as Error).message}`);
    }
    tokens.push(
      ...text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#')),
    );
  }
  if (tokens.length === 0 && process.env.TRIBUTARY_METADATA_TOKEN) tokens.push(process.env.TRIBUTARY_METADATA_TOKEN);
  for (const t of tokens)
    if (t.length < 16 || /\s/.test(t))
      throw usageError('A service token is at least 16 characters with no spaces (e.g. from `openssl rand -hex 32`).', { option: 'token' });
  return tokens;
}

function tlsFiles(key: string | undefined, cert: string | undefined): { key: Buffer; cert: Buffer } | undefined {
  if (key === undefined && cert === undefined) return undefined;
  if (key === undefined || cert === undefined) throw usageError('HTTPS needs both --tls-key and --tls-cert.');
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw usageError(`Cannot read ${what} ${safeText(file)}: ${(e as Error).message}`);
    }
  };
  return { key: read('--tls-key', key), cert: read('--tls-cert', cert) };
}

/**
 * The store behind the service. Postgres gets a short retry budget and timeouts: a database that is
 * down, or that accepts connections and never answers, becomes a 503 within about 10 s (the client
 * retries it on another instance) instead of holding requests past the clients' own timeouts.
 */
async function openServiceStore(given: string | undefined, home: string): Promise<MetadataStore> {
  if (given && /^postgres(ql)?:/i.test(given)) {
    const pg = await importOptional<typeof import('@tributary/metadata-postgres')>('@tributary/metadata-postgres', 'A postgres:// store');
    return pg.createPostgresMetadataStore({
      url: given,
      retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 500 },
      connectTimeoutMs: 3000,
      queryTimeoutMs: 3000,
    });
  }
  return (await openConfiguredAdapter('metadata', given, home)).adapter;
}
