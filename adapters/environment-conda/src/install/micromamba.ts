/**
 * Installing through micromamba, when there is one: the lock becomes an explicit spec file
 * (`@EXPLICIT`, one `url#sha256` line per package, in the lock's order: a lock does not record
 * dependencies), which micromamba installs as is, without solving, checking each archive against
 * its hash, using its package cache and running link scripts. micromamba's own settings (`~/.mambarc`, `MAMBA_ROOT_PREFIX`, proxies)
 * apply.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runResolverProcess, type LockedPackage } from '@tributary/core';
import { configError, infrastructureError, integrityError } from '../errors.ts';
import { findOnPath } from './decompress.ts';

/**
 * The micromamba to use: `configured` (a path or a command on PATH; CONFIG when not found),
 * none when `false`, else `micromamba` from PATH when there is one.
 */
export async function findMicromamba(configured: string | false | undefined, path = process.env.PATH ?? ''): Promise<string | undefined> {
  if (configured === false) return undefined;
  if (configured === undefined) return findOnPath('micromamba', path);
  const found = await findOnPath(configured, path);
  if (found === undefined)
    throw configError(`micromamba ${JSON.stringify(configured)} (the conda resolver's micromamba option) is not an executable here`, {
      path: configured,
    });
  return found;
}

/** The explicit spec file of a lock's packages. */
export function explicitSpecFile(packages: readonly LockedPackage[], platform: string): string {
  const lines = ['# Written by Tributary from an @conda lock', `# platform: ${platform}`, '@EXPLICIT'];
  for (const p of packages) {
    if (/[\s#]/.test(p.url) || !/^[0-9a-f]{64}$/i.test(p.sha256)) throw configError(`Invalid @conda lock entry ${JSON.stringify(p)}`);
    lines.push(`${p.url}#${p.sha256.toLowerCase()}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface MicromambaInstallRequest {
  micromamba: string;
  packages: readonly LockedPackage[];
  dir: string;
  platform: string;
  signal: AbortSignal;
}

/** `micromamba create --yes --prefix <dir> --file <explicit spec file>`. */
export async function micromambaInstall(request: MicromambaInstallRequest): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'tributary-conda-explicit-'));
  try {
    const file = join(work, 'explicit.txt');
    await writeFile(file, explicitSpecFile(request.packages, request.platform));
    const args = ['create', '--yes', '--prefix', request.dir, '--file', file];
    const result = await runResolverProcess(request.micromamba, args, { adapter: 'conda', signal: request.signal });
    if (result.exitCode === 0) return;
    const words = (result.stderr.trim() || result.stdout.trim()).split(/\r?\n/).slice(-30).join('\n') || `exit code ${result.exitCode}`;
    const message = `micromamba could not install the @conda environment into ${request.dir}: ${words}`;
    if (/sha256|md5|checksum|hash/i.test(words)) throw integrityError(message, { path: request.dir });
    throw infrastructureError(message, false, { path: request.dir });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
