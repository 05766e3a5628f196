/**
 * bzip2 and zstd, the compressions of conda archives (`.tar.bz2`; the inner tars of `.conda`), run
 * as `bzip2 -dc` / `zstd -dc` filters: Node 20 has neither. A missing tool is a CONFIG error that
 * says what to install.
 */

import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { configError, integrityError, whenAborted } from '../errors.ts';

/** A decompression tool. */
export type Decompressor = 'bzip2' | 'zstd';

/** The executable `command` names on `PATH`, or undefined. */
export async function findOnPath(command: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  if (command.includes('/')) return (await isExecutable(command)) ? command : undefined;
  const names = process.platform === 'win32' ? [`${command}.exe`, command] : [command];
  for (const folder of path.split(delimiter)) {
    if (folder === '') continue;
    for (const name of names) {
      const candidate = join(folder, name);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** The paths of the tools `needed`, or CONFIG naming the missing ones and the archives that need them. */
export async function findDecompressors(needed: ReadonlyMap<Decompressor, string>): Promise<Map<Decompressor, string>> {
  const found = new Map<Decompressor, string>();
  const missing: string[] = [];
  for (const [tool, example] of needed) {
    const path = await findOnPath(tool);
    if (path === undefined) missing.push(`${tool} (for ${example})`);
    else found.set(tool, path);
  }
  if (missing.length > 0)
    throw configError(
      `Installing this @conda environment needs ${missing.join(' and ')}, which is not on PATH: install it (e.g. apt-get install ${[...needed.keys()].join(' ')}, brew install ${[...needed.keys()].join(' ')}) or install micromamba, which the conda resolver then uses instead`,
    );
  return found;
}

/**
 * A running decompressor: read `output`; `done` settles once the tool has exited and its pipes
 * have closed (INTEGRITY when the input was corrupt, ABORTED when `signal` aborted). `done` never
 * counts as an unhandled rejection while `output` is still being read: await it at the end.
 */
export interface Decompression {
  output: Readable;
  done: Promise<void>;
  kill(): void;
}

const ignore = (): void => undefined;

/**
 * Decompresses `input` with `tool` (its path in `executable`). Every stream and the child process
 * keep an `'error'` listener for their whole life: when `signal` aborts (a sibling download
 * failed, or the resolver closed), Node kills the child and emits `'error'` on it, and the input
 * stream fails too, maybe while the caller is still busy elsewhere; none of that may escape as an
 * uncaught error.
 */
export function decompress(tool: Decompressor, executable: string, input: Readable, label: string, signal: AbortSignal): Decompression {
  const child = spawn(executable, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'], signal });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  child.stderr.on('error', ignore);
  // Errors reading the output reach the reader of `output` (its async iterator listens too).
  child.stdout.on('error', ignore);
  // The tool may exit early (corrupt input) while we still write: its exit status reports that.
  child.stdin.on('error', ignore);
  input.on('error', (error) => child.stdin.destroy(error));
  if (input.errored !== null) child.stdin.destroy(input.errored);
  else input.pipe(child.stdin);
  let failure: NodeJS.ErrnoException | undefined;
  // `on`, not `once`: a child can emit more than one 'error' (the abort, then a failed kill).
  child.on('error', (error: NodeJS.ErrnoException) => {
    failure ??= error;
  });
  const done = new Promise<void>((resolve, reject) => {
    // 'close' comes after every 'error' (also when the tool could not start), once the pipes are closed.
    child.once('close', (code, killed) => {
      if (code === 0 && failure === undefined) return resolve();
      if (signal.aborted) return reject(whenAborted(signal, failure ?? signal.reason));
      if (failure?.code === 'ENOENT')
        return reject(configError(`Could not run ${tool} (${executable}): install ${tool} or micromamba`, { path: executable }, failure));
      if (failure !== undefined)
        return reject(integrityError(`Could not decompress ${label} with ${tool}: ${failure.message}`, {}, failure));
      reject(
        integrityError(
          `${label} is not a valid archive: ${tool} failed (${killed ?? `exit code ${code}`}): ${stderr.trim() || 'no message'}`,
        ),
      );
    });
  });
  // Handled here so that a failure while the caller is still reading `output` is no unhandled rejection; the caller awaits `done`.
  done.catch(ignore);
  return {
    output: child.stdout,
    done,
    kill: () => {
      input.unpipe(child.stdin);
      input.destroy();
      child.stdin.destroy();
      // Unread output would hold back 'close' (it waits for stdout to end): drop it.
      child.stdout.destroy();
      child.kill();
    },
  };
}
