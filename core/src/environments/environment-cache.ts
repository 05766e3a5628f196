import { hostname } from 'node:os';
import { mkdir, open, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError } from '../errors.ts';
import type { EnvironmentActivation, EnvironmentLock, EnvironmentResolver } from '../ports/environment-resolver.ts';

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
 * takes `<id>.lock` (created exclusively, holding its pid and host, touched while it builds), the
 * others wait for the marker. A lock is taken over when its process is gone (same host) or when it
 * has not been touched for a minute (a holder on another host that died, or one that died before
 * writing its pid).
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
    const lockFile = join(this.root, `${id}.lock`);
    for (;;) {
      if (signal?.aborted) throw new TributaryError('ABORTED', `Stopped waiting for environment ${id}.`);
      const held = await open(lockFile, 'wx').catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        return undefined;
      });
      if (held) {
        const touch = setInterval(() => {
          const now = new Date();
          utimes(lockFile, now, now).catch(() => undefined);
        }, this.#touchMs);
        touch.unref();
        try {
          await held.writeFile(`${process.pid} ${hostname()}`);
          await held.close();
          const again = await this.ready(id);
          if (again) return { activation: again, built: false };
          return { activation: await this.build(id, lock, resolver, signal), built: true };
        } finally {
          clearInterval(touch);
          await unlink(lockFile).catch(() => undefined);
        }
      }
      const done = await this.ready(id);
      if (done) return { activation: done, built: false };
      if (!(await holderAlive(lockFile, this.#staleMs))) await unlink(lockFile).catch(() => undefined);
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

async function holderAlive(lockFile: string, staleMs: number): Promise<boolean> {
  const [content, info] = await Promise.all([readFile(lockFile, 'utf8').catch(() => ''), stat(lockFile).catch(() => undefined)]);
  if (!info) return false;
  if (Date.now() - info.mtimeMs > staleMs) return false;
  const [pidText, host] = content.split(' ');
  const pid = Number(pidText);
  // Just created (pid not written yet), or held on another host: alive while it is touched.
  if (!Number.isInteger(pid) || pid <= 0 || host !== hostname()) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
