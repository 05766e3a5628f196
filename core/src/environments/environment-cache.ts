import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError } from '../errors.ts';
import type { EnvironmentActivation, EnvironmentLock, EnvironmentResolver } from '../ports/environment-resolver.ts';
import { BuildLock } from './build-lock.ts';

const READY = '.tributary-environment.json';

/** @internal */
export interface EnvironmentCacheTimings {
  /** A builder touches its lock this often (ms). */
  touchMs?: number;
  /** A lock untouched this long is abandoned (ms). */
  staleMs?: number;
}

/**
 * Materialized environments on disk, one folder per environment id under `root`, reused across
 * runs and steps. A folder counts only once its ready marker (the activation, written last and
 * atomically) exists, so a build that died half-way is redone, never used. Concurrent builders of
 * one id (tasks, runs, processes, containers sharing a node's cache) build it once: the first
 * takes the build lock (`build-lock.ts`), the others wait for the marker and break the lock of a
 * holder that is gone.
 */
export class EnvironmentCache {
  readonly #touchMs: number;
  readonly #staleMs: number;

  constructor(
    readonly root: string,
    timings: EnvironmentCacheTimings = {},
  ) {
    this.#touchMs = timings.touchMs ?? 5_000;
    this.#staleMs = timings.staleMs ?? 60_000;
  }

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
    const buildLock = new BuildLock(join(this.root, `${id}.lock`), { touchMs: this.#touchMs, staleMs: this.#staleMs });
    for (;;) {
      if (signal?.aborted) throw new TributaryError('ABORTED', `Stopped waiting for environment ${id}.`);
      const held = await buildLock.tryAcquire();
      if (held) {
        try {
          const again = await this.ready(id);
          if (again) return { activation: again, built: false };
          return { activation: await this.build(id, lock, resolver, signal), built: true };
        } finally {
          await held.release();
        }
      }
      const done = await this.ready(id);
      if (done) return { activation: done, built: false };
      await buildLock.breakIfAbandoned();
      await new Promise((r) => setTimeout(r, 100));
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
