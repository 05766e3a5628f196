import { TributaryError } from '../errors.ts';
import type { NewTask } from '../ports/metadata-store.ts';

/**
 * `registerTasks` with one key twice in the batch is `ALREADY_EXISTS`, like a key already in the
 * run: checked before anything is written (a keyed repeat would otherwise find the batch's own
 * first row and return it twice). Shared by every MetadataStore.
 * @public
 */
export function refuseDuplicateKeys(tasks: readonly NewTask[]): void {
  const seen = new Set<string>();
  for (const t of tasks) {
    const k = `${t.flow}\u0000${t.runId}\u0000${t.key}`;
    if (seen.has(k)) throw new TributaryError('ALREADY_EXISTS', `The batch registers task ${t.key} of ${t.flow}/${t.runId} twice.`);
    seen.add(k);
  }
}
