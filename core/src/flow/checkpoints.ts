import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { TributaryError } from '../errors.ts';
import type { CheckpointRecord } from '../runtime/protocol.ts';
import type { TaskState } from './task-state.ts';

/** Options of a checkpoint save or lookup. @public */
export interface CheckpointOptions {
  /** Keep several independent checkpoint series in one step. Default `'default'`. */
  name?: string;
}

/**
 * In-task checkpoints, as `this.checkpoint` inside a step. State saved here survives the task:
 * a retry of the task, or the same task (same step and foreach indices) in a resumed run, gets it
 * back from `latest()`. Stored content-addressed in the datastore, listed in metadata; each save
 * is durable when its promise resolves.
 * @public
 */
export interface TaskCheckpoints {
  /** Save any serializable value. */
  save(state: unknown, options?: CheckpointOptions): Promise<CheckpointRecord>;
  /** Save the files under a folder (recursively). */
  saveDirectory(dir: string, options?: CheckpointOptions): Promise<CheckpointRecord>;
  /** The newest value saved by this task identity, or `undefined`. */
  latest<T = unknown>(options?: CheckpointOptions): Promise<T | undefined>;
  /** Write the newest saved folder back under `dir`; false when there is none. */
  restoreDirectory(dir: string, options?: CheckpointOptions): Promise<boolean>;
  /** Every checkpoint of this task identity, oldest first. */
  list(options?: CheckpointOptions): CheckpointRecord[];
}

async function readTree(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) files.set(relative(root, full).split(sep).join('/'), await readFile(full));
    }
  };
  await walk(root);
  return files;
}

/** @internal */
export function taskCheckpoints(st: TaskState): TaskCheckpoints {
  const series = (options?: CheckpointOptions) => st.checkpoints.filter((c) => c.name === (options?.name ?? 'default'));
  const record = async (value: unknown, kind: CheckpointRecord['kind'], options?: CheckpointOptions) => {
    const ref = await st.store.save('checkpoint', value, { step: st.node.name });
    const rec: CheckpointRecord = {
      sha: ref.sha,
      encoding: ref.encoding,
      type: ref.type,
      size: ref.size,
      kind,
      name: options?.name ?? 'default',
      pathspec: st.current.pathspec,
      attempt: st.current.attempt,
      savedAt: Date.now(),
    };
    if (!st.recordCheckpoint) throw new TributaryError('CONFIG', 'Checkpoints need a running task.');
    await st.recordCheckpoint(rec);
    st.checkpoints.push(rec);
    return rec;
  };
  return {
    save: (state, options) => record(state, 'value', options),
    saveDirectory: async (dir, options) => record(await readTree(resolve(dir)), 'directory', options),
    async latest<T>(options?: CheckpointOptions): Promise<T | undefined> {
      const last = series(options)
        .filter((c) => c.kind === 'value')
        .at(-1);
      return last ? ((await st.store.load(last)) as T) : undefined;
    },
    async restoreDirectory(dir, options) {
      const last = series(options)
        .filter((c) => c.kind === 'directory')
        .at(-1);
      if (!last) return false;
      const files = (await st.store.load(last)) as Map<string, Uint8Array>;
      const root = resolve(dir);
      for (const [rel, bytes] of files) {
        const target = resolve(root, rel);
        if (!target.startsWith(root + sep)) throw new TributaryError('INTEGRITY', `Checkpoint file ${rel} would land outside ${root}.`);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, bytes);
      }
      return true;
    },
    list: (options) => (options?.name === undefined ? [...st.checkpoints] : series(options)),
  };
}
