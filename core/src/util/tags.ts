import { TributaryError } from '../errors.ts';

/**
 * Prefixes of the tags Tributary sets itself (system tags). Namespaces are tags, so a user tag
 * `production:<token>` or `user:<name>` would put a run in a namespace it was not run in: tags
 * with these prefixes are refused as user tags.
 * @public
 */
export const SYSTEM_TAG_PREFIXES: readonly string[] = ['user:', 'runtime:', 'executor:', 'production:'];

/** Tags are 1-500 characters. @public */
export function checkTagText(tags: readonly unknown[]): asserts tags is string[] {
  for (const t of tags)
    if (typeof t !== 'string' || t.length === 0 || t.length > 500)
      throw new TributaryError('PARAM_INVALID', `Tags are 1-500 characters; got ${JSON.stringify(t)}.`);
}

/** New user tags: valid text and no system prefix (`PARAM_INVALID`). @public */
export function checkNewUserTags(tags: readonly unknown[]): asserts tags is string[] {
  checkTagText(tags);
  for (const t of tags) {
    const prefix = SYSTEM_TAG_PREFIXES.find((p) => t.startsWith(p));
    if (prefix)
      throw new TributaryError(
        'PARAM_INVALID',
        `Tag ${t} starts with ${prefix}, which only Tributary sets (system tags: ${SYSTEM_TAG_PREFIXES.join(', ')}); ` +
          `choose another name${prefix === 'production:' ? ', or run with productionToken / $TRIBUTARY_PRODUCTION_TOKEN' : ''}.`,
      );
  }
}

/**
 * What every MetadataStore checks before it changes a run's user tags, inside its transaction:
 * both lists are valid tags, none is one of the run's system tags (`CONFLICT`), and no added tag
 * has a system prefix (`PARAM_INVALID`). It throws before anything changes.
 * @public
 */
export function checkTagChange(systemTags: Iterable<string>, remove: readonly unknown[], add: readonly unknown[]): void {
  checkTagText(remove);
  checkTagText(add);
  const system = new Set(systemTags);
  for (const t of [...remove, ...add])
    if (system.has(t)) throw new TributaryError('CONFLICT', `Tag ${t} is a system tag and cannot be changed.`);
  checkNewUserTags(add);
}
