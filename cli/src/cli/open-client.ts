/** The client a read command uses: its stores (--home, --datastore, --metadata) and namespace (--namespace). */
import { Client, parseNamespace, type Namespace, tributaryHome } from '@tributary/core';
import { optionValue, type ParsedArgs } from './args.ts';
import { safeText } from './safe-text.ts';
import { homeOption, usageError } from './commands.ts';

/** The namespace a read command sees: --namespace, else $TRIBUTARY_NAMESPACE, else global. */
export function namespaceOption(args: ParsedArgs): Namespace {
  const given = optionValue(args, 'namespace') ?? process.env.TRIBUTARY_NAMESPACE;
  if (given === undefined || given === '') return null;
  if (given.length > 500) throw usageError('--namespace is a tag (at most 500 characters), or global.');
  return parseNamespace(given);
}

/** A client on the command's stores, in its namespace. */
export async function openClient(args: ParsedArgs): Promise<Client> {
  const home = tributaryHome(homeOption(args));
  return Client.open({
    home,
    ...(optionValue(args, 'datastore') !== undefined ? { datastore: optionValue(args, 'datastore')! } : {}),
    ...(optionValue(args, 'metadata') !== undefined ? { metadata: optionValue(args, 'metadata')! } : {}),
    namespace: namespaceOption(args),
  });
}

export function flowTarget(target: string | undefined, usage: string): string | undefined {
  if (!target) throw usageError(usage);
  if (/\.[cm]?[jt]s$/.test(target)) return undefined;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(target))
    throw usageError(`"${safeText(target)}" is neither a flow name nor a flow file (.ts/.js). ${usage}`);
  return target;
}
