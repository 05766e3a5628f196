import { mkdir, open, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError } from '../errors.ts';
import type { EnvironmentActivation, EnvironmentLock, EnvironmentResolver } from '../ports/environment-resolver.ts';

const READY = '.tributary-environment.json';

/**
 * Materialized environments on disk, one folder per environment id under `root`, reused across
 * runs and steps. A folder counts only once its ready marker (the activation, written last and
 * atomically) exists, so a build that died half-way is redone, never used. Concurrent builders of
 * one id (tasks, runs, processes) build it once: the first takes `<id>.lock` (created
 * exclusively, holding its pid), the others wait for the marker; a lock whose process is gone is
 * taken over.
 */
export class EnvironmentCache {
  constructor(readonly root: string) {}

  /** The activation of environment `id`, building it with `resolver` unless it is there. `built` says which. */
  async materialize(
    id: string,
    lock: EnvironmentLock,
    resolver: EnvironmentResolver,
    signal?: AbortSignal,
  ): Promise<{ activation: EnvironmentActivation; built: boolean }> {
    const ready = await this.ready(id);
    if (ready) return { activation: ready, built: false };
    await mkdir(this.root, { recursive: true });
    const lockFile = join(this.root, `${id}.lock`);
    for (;;) {
      if (signal?.aborted) throw new TributaryError('ABORTED', `Stopped waiting for environment ${id}.`);
      const held = await open(lockFile, 'wx').catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        return undefined;
      });
      if (held) {
        try {
          await held.writeFile(String(process.pid));
          await held.close();
          const again = await this.ready(id);
          if (again) return { activation: again, built: false };
          return { activation: await this.build(id, lock, resolver, signal), built: true };
        } finally {
          await unlink(lockFile).catch(() => undefined);
        }
      }
      const done = await this.ready(id);
      if (done) return { activation: done, built: false };
      if (!(await holderAlive(lockFile))) await unlink(lockFile).catch(() => undefined);
      else await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async build(
    id: string,
    lock: EnvironmentLock,
    resolver: EnvironmentResolver,
    signal?: AbortSignal,
  ): Promise<EnvironmentActivation> {
    const dir = join(this.root, id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const activation = await resolver.materialize(lock, { dir, ...(signal ? { signal } : {}) });
      const tmp = join(dir, `${READY}.${process.pid}.tmp`);
      await writeFile(tmp, JSON.stringify(activation));
      await rename(tmp, join(dir, READY));
      return activation;
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  private async ready(id: string): Promise<EnvironmentActivation | undefined> {
    try {
      return JSON.parse(await readFile(join(this.root, id, READY), 'utf8')) as EnvironmentActivation;
    } catch {
      return undefined;
    }
  }
}

async function holderAlive(lockFile: string): Promise<boolean> {
  const pid = Number(await readFile(lockFile, 'utf8').catch(() => ''));
  // Just created, pid not written yet: alive.
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
