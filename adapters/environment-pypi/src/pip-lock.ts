/**
 * Locks a spec with pip's resolver: `pip install --dry-run --report` lists every distribution pip
 * would install (the transitive closure), with its URL and SHA-256, without installing anything.
 * For another platform than this machine's, pip resolves for that platform's tags (binary wheels
 * only, and the requested Python version).
 *
 * pip runs without its configuration (see `pipEnvironment`): only the request's sources, or PyPI.
 *
 * Note: with wheel-folder sources the URLs are `file://` paths of this machine, so such a lock
 * is only materializable where the same folder exists (fine for this first slice: materializing
 * reinstalls by name, version and hash from the lock's sources, not from the URLs).
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TributaryError, type LockedPackage } from '@tributary/core';
import { pipPlatformTags } from './platforms.ts';
import type { PythonInterpreter } from './python-interpreter.ts';
import { normalizeName } from './requirements.ts';
import { pipEnvironment, pipErrorText, runProcess } from './run-process.ts';
import { checkWheelFolders, pipSourceFlags } from './pip-sources.ts';

export interface PipLockRequest {
  python: PythonInterpreter;
  requirements: readonly string[];
  /** Normalized sources. */
  sources: readonly string[];
  /** When set, resolve for this platform (not this machine's) and, with `pythonVersion`, that Python. */
  crossPlatform?: { platform: string; pythonVersion?: string | undefined } | undefined;
  signal?: AbortSignal | undefined;
}

interface ReportItem {
  metadata?: { name?: unknown; version?: unknown };
  download_info?: {
    url?: unknown;
    archive_info?: { hash?: unknown; hashes?: Record<string, unknown> };
    dir_info?: unknown;
    vcs_info?: unknown;
  };
}

/** The packages pip resolves the requirements to, sorted by name. */
export async function pipLock(request: PipLockRequest): Promise<LockedPackage[]> {
  if (request.requirements.length === 0) return [];
  await checkWheelFolders(request.sources);
  const work = await mkdtemp(join(tmpdir(), 'tributary-pypi-lock-'));
  try {
    const report = join(work, 'report.json');
    // Not --quiet: pip tells at INFO level that it could not fetch an index page (pipErrorText quotes that).
    const args = ['-m', 'pip', 'install', '--dry-run', '--report', report, '--ignore-installed', '--progress-bar', 'off'];
    args.push('--disable-pip-version-check', '--no-input', ...pipSourceFlags(request.sources));
    if (request.crossPlatform !== undefined) {
      const { platform, pythonVersion } = request.crossPlatform;
      const tags = pipPlatformTags(platform);
      if (tags === undefined) throw config(`Unknown platform ${platform} for @pypi`);
      for (const tag of tags) args.push('--platform', tag);
      // pip accepts platform options only when installing into a target folder (a dry run writes nothing there).
      args.push('--only-binary=:all:', '--target', join(work, 'target'));
      if (pythonVersion !== undefined) args.push('--python-version', pythonVersion);
    }
    args.push(...request.requirements);
    const result = await runProcess(request.python.executable, args, { signal: request.signal, env: pipEnvironment() });
    if (result.exitCode !== 0) {
      throw config(`pip could not resolve ${request.requirements.join(' ')}: ${pipErrorText(result.stderr, result.stdout)}`);
    }
    const parsed = JSON.parse(await readFile(report, 'utf8')) as { install?: ReportItem[] };
    const packages = await Promise.all((parsed.install ?? []).map(lockedPackage));
    return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function lockedPackage(item: ReportItem): Promise<LockedPackage> {
  const name = item.metadata?.name;
  const version = item.metadata?.version;
  const info = item.download_info;
  const url = info?.url;
  if (typeof name !== 'string' || typeof version !== 'string' || typeof url !== 'string') {
    throw config(`pip's report has an entry without name, version or URL: ${JSON.stringify(item.metadata ?? item)}`);
  }
  if (info?.archive_info === undefined) {
    throw config(`${name} ${version} comes from ${url}, a folder or VCS checkout, which cannot be locked by hash: publish it as a wheel`);
  }
  const fromHashes = info.archive_info.hashes?.['sha256'];
  const legacy = typeof info.archive_info.hash === 'string' ? /^sha256=([0-9a-f]{64})$/i.exec(info.archive_info.hash)?.[1] : undefined;
  let sha256 = typeof fromHashes === 'string' ? fromHashes : legacy;
  // pip knows local archives' hashes; should a report lack one, hash the file ourselves.
  if (sha256 === undefined && url.startsWith('file:')) {
    sha256 = createHash('sha256')
      .update(await readFile(fileURLToPath(url)))
      .digest('hex');
  }
  if (sha256 === undefined) throw config(`pip's report gives no SHA-256 for ${name} ${version} (${url})`);
  return { name: normalizeName(name), version, url, sha256: sha256.toLowerCase() };
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi' } });
}
