/**
 * The lock file of one environment build (`<id>.lock`), shared by every process and host that
 * builds into the same cache folder. It is created exclusively and holds `<pid> <host> <token>`;
 * its holder touches it while it builds and removes it only if it still holds its own token.
 *
 * A waiter breaks a lock whose holder is gone: at once when the holder ran on this host and its
 * process is dead; otherwise when the file has not changed (inode, content, mtime) for `staleMs`
 * of the waiter's own clock, so hosts whose clocks disagree still agree on "not touched for a
 * minute". Breaking is serialized by a second exclusive file (`<id>.lock.break`) and re-checks the
 * lock under it, so two waiters never both break (or one break another's fresh lock).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';

interface Observation {
  ino: number;
  mtimeMs: number;
  content: string;
}

/** A lock this process holds. @internal */
export interface HeldBuildLock {
  release(): Promise<void>;
}

/** @internal */
export class BuildLock {
  readonly #file: string;
  readonly #touchMs: number;
  readonly #staleMs: number;
  #unchanged: { seen: Observation; since: number } | undefined;
  #breakerSince: number | undefined;

  constructor(file: string, timings: { touchMs: number; staleMs: number }) {
    this.#file = file;
    this.#touchMs = timings.touchMs;
    this.#staleMs = timings.staleMs;
  }

  /** Takes the lock if nobody holds it. */
  async tryAcquire(): Promise<HeldBuildLock | undefined> {
    const handle = await open(this.#file, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return undefined;
      throw err;
    });
    if (!handle) return undefined;
    const token = `${process.pid} ${hostname()} ${randomUUID()}`;
    try {
      await handle.writeFile(token);
    } finally {
      await handle.close();
    }
    const file = this.#file;
    const touch = setInterval(() => {
      const now = new Date();
      utimes(file, now, now).catch(() => undefined);
    }, this.#touchMs);
    touch.unref();
    return {
      async release() {
        clearInterval(touch);
        // Only our own lock: if ours was broken (we were frozen longer than staleMs), the file is another's.
        if ((await readFile(file, 'utf8').catch(() => '')) === token) await unlink(file).catch(() => undefined);
      },
    };
  }

  /** Removes the lock if its holder is gone (see the file's header); otherwise leaves it. */
  async breakIfAbandoned(): Promise<void> {
    const seen = await observe(this.#file);
    if (!seen) return;
    const now = Date.now();
    if (!this.#unchanged || !same(this.#unchanged.seen, seen)) this.#unchanged = { seen, since: now };
    const abandoned = holderDeadHere(seen.content) || now - this.#unchanged.since > this.#staleMs;
    if (!abandoned) return;
    const breaker = `${this.#file}.break`;
    const handle = await open(breaker, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return undefined;
      throw err;
    });
    if (!handle) {
      // A breaker that died holding it (a moment's work) would block everyone: it too goes stale.
      this.#breakerSince ??= now;
      if (now - this.#breakerSince > this.#staleMs) {
        await unlink(breaker).catch(() => undefined);
        this.#breakerSince = undefined;
      }
      return;
    }
    this.#breakerSince = undefined;
    try {
      const again = await observe(this.#file);
      if (again && same(again, seen)) await unlink(this.#file).catch(() => undefined);
      this.#unchanged = undefined;
    } finally {
      await handle.close();
      await unlink(breaker).catch(() => undefined);
    }
  }
}

async function observe(file: string): Promise<Observation | undefined> {
  try {
    const [info, content] = await Promise.all([stat(file), readFile(file, 'utf8')]);
    return { ino: info.ino, mtimeMs: info.mtimeMs, content };
  } catch {
    return undefined;
  }
}

function same(a: Observation, b: Observation): boolean {
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.content === b.content;
}

/** The holder ran on this host and its process is gone. Empty (not written yet) or another host's: not known here. */
function holderDeadHere(content: string): boolean {
  const [pidText, host] = content.split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || host !== hostname()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
