import { userInfo } from 'node:os';
import type { RunRecord } from '../ports/metadata-store.ts';

/**
 * A namespace is a tag: the client sees the runs that carry it (`user:alice`, `production:<token>`,
 * or any tag), or every run when it is `null` (the global namespace), as in Metaflow.
 * @public
 */
export type Namespace = string | null;

/**
 * Who is running: `$TRIBUTARY_USER`, else `$USER` / `$USERNAME`, else the OS account. Runs record it
 * (and the system tag `user:<name>`), and the client's default namespace is `user:<name>`.
 * @public
 */
export function currentUser(): string {
  try {
    return process.env.TRIBUTARY_USER || process.env.USER || process.env.USERNAME || userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The namespace a client starts in: `$TRIBUTARY_NAMESPACE` (`global` for none), else
 * `user:<currentUser()>`.
 * @public
 */
export function defaultNamespace(): Namespace {
  const env = process.env.TRIBUTARY_NAMESPACE;
  if (env !== undefined && env !== '') return parseNamespace(env);
  return `user:${currentUser()}`;
}

/** `global` (or `none`) is the global namespace; anything else is the tag. @public */
export function parseNamespace(text: string): Namespace {
  return text === 'global' || text === 'none' ? null : text;
}

/** Whether a run is visible in a namespace. @internal */
export function inNamespace(run: Pick<RunRecord, 'tags' | 'systemTags'>, namespace: Namespace): boolean {
  return namespace === null || run.systemTags.includes(namespace) || run.tags.includes(namespace);
}

/** How a namespace reads in messages. @internal */
export function describeNamespace(namespace: Namespace): string {
  return namespace === null ? 'the global namespace' : `namespace ${namespace}`;
}
