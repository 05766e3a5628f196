/** What a card shows about its task, read from the task's state in its worker (nothing is fetched). */
import { serializeUnknownError, TributaryError } from '../errors.ts';
import type { TaskState } from '../flow/task-state.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import type { TaskSpec } from '../runtime/protocol.ts';
import type { CardTaskFacts } from './default-card.ts';

/** @internal */
export function cardFacts(
  st: TaskState,
  spec: TaskSpec,
  status: CardTaskFacts['status'],
  startedAt: number,
  outputs: ArtifactRef[] | undefined,
  failure: unknown,
): CardTaskFacts {
  const retry = st.node.decorators.retry as { times?: number } | undefined;
  // Values the task holds in memory are summarized; artifacts passed on by reference are not read.
  const inMemory = (name: string): { v: unknown } | undefined =>
    st.assigned.has(name) ? { v: st.assigned.get(name) } : st.loaded.has(name) ? { v: st.loaded.get(name) } : undefined;
  const refs = outputs ?? [...st.manifest.values()];
  const artifacts: CardTaskFacts['artifacts'] = refs.map((r) => {
    const value = inMemory(r.name);
    return { name: r.name, type: r.type, size: r.size, sha: r.sha, ...(value ? { value } : {}) };
  });
  if (!outputs)
    for (const [name, v] of st.assigned)
      if (!st.manifest.has(name)) artifacts.push({ name, type: typeof v, size: NaN, sha: '', value: { v } });
  artifacts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const params: CardTaskFacts['params'] = [];
  for (const name of spec.params) {
    const value = inMemory(name);
    const ref = st.manifest.get(name);
    if (value) params.push({ name, value: value.v });
    else if (ref && ref.size <= 64 * 1024) {
      try {
        params.push({ name, value: st.store.loadSync(ref) });
      } catch {
        params.push({ name, value: `(${ref.type}, ${ref.size} bytes)` });
      }
    }
  }
  const error =
    failure === undefined
      ? undefined
      : TributaryError.is(failure)
        ? { code: failure.code, message: failure.message }
        : { code: 'USER_CODE', message: failure instanceof Error ? failure.message : serializeUnknownError(failure).message };
  return {
    graph: st.graph,
    pathspec: spec.pathspec,
    step: spec.step,
    status,
    attempt: spec.attempt,
    maxAttempts: 1 + (retry?.times ?? 0),
    ...(spec.caught ? { caught: true } : {}),
    ...(spec.failures?.length ? { failures: spec.failures } : {}),
    startedAt,
    ...(status !== 'running' ? { finishedAt: Date.now() } : {}),
    foreach: st.frames.filter((f) => f.kind === 'foreach').map((f) => ({ step: f.split, index: f.slot, count: f.count })),
    params,
    artifacts,
    ...(error ? { error } : {}),
  };
}
