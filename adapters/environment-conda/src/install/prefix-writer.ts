/**
 * Every write into the environment folder goes through here, and none lands outside it: parent
 * folders are created one component at a time, and a component that is a symbolic link (say a
 * package's `lib64 → lib`) is followed only when it leads to an existing folder inside the
 * environment (a dangling link is not followed: nothing is created through it).
 * Existing files and links are replaced (the later package wins, as in conda); a folder in the
 * way is a conflict.
 */

import { chmod, lstat, mkdir, readlink, realpath, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import { configError, integrityError } from '../errors.ts';

export class PrefixWriter {
  readonly #root: string;
  readonly #folders = new Map<string, string>();

  /** `root`: the real path of the environment folder. */
  constructor(root: string) {
    this.#root = root;
  }

  /** The real path of folder `rel` of the environment, created if need be. */
  async folder(rel: string, label: string): Promise<string> {
    if (rel === '' || rel === '.') return this.#root;
    const known = this.#folders.get(rel);
    if (known !== undefined) return known;
    const segments = rel.split('/');
    // Paths come checked (archivePath), but a `..` after a link is where a text check and the
    // file system disagree: refuse it here too.
    if (segments.some((s) => s === '' || s === '.' || s === '..'))
      throw integrityError(`${label} installs ${rel}, a path outside the environment`, { path: rel });
    let current = this.#root;
    for (const [i, segment] of segments.entries()) {
      const next = join(current, segment);
      const info = await lstat(next).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (info === undefined) {
        await mkdir(next).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
        current = next;
      } else if (info.isSymbolicLink()) {
        const link = `${segments.slice(0, i + 1).join('/')} → ${await readlink(next).catch(() => '?')}`;
        const real = await realpath(next).catch(() => undefined);
        // Not followed: a link to nothing (yet), or in a loop. Creating its target would mean
        // writing through a link before knowing where it leads: refused, and said so.
        if (real === undefined)
          throw integrityError(
            `${label} writes to ${rel}, which goes through the symlink ${link} leading to no existing folder: refusing to write through a dangling symlink`,
            { path: rel },
          );
        if (!this.#inside(real))
          throw integrityError(`${label} writes to ${rel}, which goes through the symlink ${link} leading outside the environment`, {
            path: rel,
          });
        if (!(await stat(real)).isDirectory()) throw configError(`${label} installs ${rel}, but ${next} is not a folder`, { path: rel });
        current = real;
      } else if (info.isDirectory()) {
        current = next;
      } else {
        throw configError(`${label} installs ${rel}, but ${next} is a file, not a folder (another package put it there)`, { path: rel });
      }
    }
    this.#folders.set(rel, current);
    return current;
  }

  /** Moves the unpacked file `source` to `rel` with `mode`. */
  async moveFile(source: string, rel: string, mode: number, label: string): Promise<string> {
    const dest = await this.#clear(rel, label);
    await rename(source, dest);
    await chmod(dest, mode);
    return dest;
  }

  /** Writes a new file (an entry point script) at `rel`. */
  async writeFile(rel: string, content: string, mode: number, label: string): Promise<void> {
    const dest = await this.#clear(rel, label);
    await writeFile(dest, content, { mode, flag: 'wx' });
    await chmod(dest, mode);
  }

  /** Creates the symlink `rel → target` (target already checked to stay inside). */
  async symlink(rel: string, target: string, label: string): Promise<void> {
    const dest = await this.#clear(rel, label);
    await symlink(target, dest);
    // A link can stand for a folder that later paths go through: resolve those afresh.
    this.#folders.clear();
  }

  /** The destination path of `rel`, with any file or link there removed. */
  async #clear(rel: string, label: string): Promise<string> {
    const parent = await this.folder(posix.dirname(rel), label);
    const dest = join(parent, posix.basename(rel));
    const existing = await lstat(dest).catch(() => undefined);
    if (existing?.isDirectory())
      throw configError(`${label} installs the file ${rel}, but a folder of that name is already in the environment`, { path: rel });
    if (existing !== undefined) await unlink(dest);
    if (existing?.isSymbolicLink()) this.#folders.clear();
    return dest;
  }

  #inside(real: string): boolean {
    return real === this.#root || real.startsWith(this.#root + sep);
  }
}
