/**
 * Installs a lock into a folder with `npm ci`, offline: every archive is first fetched from the
 * lock's URL and checked against the lock's SHA-256 (and npm's integrity), then written to a
 * scratch folder that the rebuilt package-lock.json points npm at, so npm installs exactly the
 * bytes that were checked and needs no registry. The folder keeps a package.json and a
 * package-lock.json naming the lock's own URLs (what was installed, for people); npm's hidden
 * lockfile, which names the scratch folder, is removed.
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mapLimit, TributaryError, type EnvironmentActivation, type LockedPackage } from '@tributary/core';
import { readArchive } from './archive.ts';
import { matchesIntegrity, sha256Hex, sha512Integrity } from './integrity.ts';
import { isLockName, rebuildLockfile, type VerifiedPackage } from './lockfile-rebuild.ts';
import { NPM_COMMON_FLAGS, npmErrorText, runNpm } from './run-npm.ts';
import { readTarballManifest } from './tarball-manifest.ts';

export interface NpmMaterializeRequest {
  npm: string;
  packages: readonly LockedPackage[];
  dir: string;
  signal?: AbortSignal | undefined;
}

const PARALLEL_ARCHIVES = 8;
const SHA256 = /^[0-9a-f]{64}$/;

/** How a task enters an environment in `dir`: `NODE_PATH` (what the core's import hook reads) and its commands first on PATH. */
export function npmActivation(dir: string): EnvironmentActivation {
  const modules = join(dir, 'node_modules');
  return { env: { NODE_PATH: modules }, path: [join(modules, '.bin')] };
}

export async function npmMaterialize(request: NpmMaterializeRequest): Promise<EnvironmentActivation> {
  const { dir, signal } = request;
  for (const p of request.packages) {
    if (!isLockName(p.name) || typeof p.version !== 'string' || p.version === '')
      throw config(`Invalid @npm lock entry ${JSON.stringify(p)}`);
  }
  const scratch = await mkdtemp(join(tmpdir(), 'tributary-npm-archives-'));
  try {
    const verified = await mapLimit(
      request.packages,
      PARALLEL_ARCHIVES,
      async (locked, i, shared): Promise<VerifiedPackage> => {
        const bytes = await verifiedArchive(locked, shared);
        const manifest = await readTarballManifest(bytes).catch((error: unknown) => {
          throw config(
            `The archive of ${locked.name}@${locked.version} (${locked.url}) is not an npm package: ${(error as Error).message}`,
          );
        });
        await writeFile(join(scratch, `${i}.tgz`), bytes);
        return { locked, manifest, integrity: locked.integrity ?? sha512Integrity(bytes) };
      },
      { signal },
    );
    const forNpm = rebuildLockfile(verified, (i) => pathToFileURL(join(scratch, `${i}.tgz`)).href);
    await writeJson(join(dir, 'package.json'), forNpm.packageJson);
    await writeJson(join(dir, 'package-lock.json'), forNpm.lockfile);
    if (verified.length > 0) {
      const args = [
        'ci',
        '--offline',
        '--include=optional',
        '--include=peer',
        '--package-lock-only=false',
        ...NPM_COMMON_FLAGS,
        '--prefix',
        dir,
      ];
      const result = await runNpm(request.npm, args, { cwd: dir, signal });
      if (result.exitCode !== 0) throw config(`npm could not install the environment into ${dir}: ${npmErrorText(result.stderr)}`);
    }
    await mkdir(join(dir, 'node_modules'), { recursive: true });
    await rm(join(dir, 'node_modules', '.package-lock.json'), { force: true });
    await writeJson(join(dir, 'package-lock.json'), rebuildLockfile(verified, (i) => verified[i]!.locked.url).lockfile);
    return npmActivation(dir);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The archive's bytes, once they are the locked ones: else `INTEGRITY` naming the package. */
async function verifiedArchive(locked: LockedPackage, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const what = `${locked.name}@${locked.version}`;
  if (!SHA256.test(locked.sha256)) throw config(`The @npm lock entry of ${what} has no valid sha256: ${JSON.stringify(locked.sha256)}`);
  const bytes = await readArchive(locked.url, what, signal);
  const actual = sha256Hex(bytes);
  if (actual !== locked.sha256) {
    throw new TributaryError(
      'INTEGRITY',
      `The archive of ${what} at ${locked.url} changed since it was locked: its sha256 is ${actual}, the lock says ${locked.sha256}`,
      { context: { adapter: 'npm', path: locked.url } },
    );
  }
  if (locked.integrity !== undefined && matchesIntegrity(bytes, locked.integrity) === false) {
    throw new TributaryError(
      'INTEGRITY',
      `The archive of ${what} at ${locked.url} does not match the lock's integrity ${locked.integrity}`,
      {
        context: { adapter: 'npm', path: locked.url },
      },
    );
  }
  return bytes;
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'npm' } });
}
