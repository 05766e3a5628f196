/**
 * Folders of package tarballs served to npm as a registry, on 127.0.0.1 and only for the time of
 * one lock: npm's own resolver then picks versions for ranges and places packages, exactly as with
 * a real registry. Every `*.tgz` of the folders is read once per lock (its `package.json` and
 * hashes); the first folder (in source order) that has a name@version wins. Names no folder has
 * are redirected to the upstream registry when there is one, else answered 404 (npm's E404 then
 * names the package). Responses are `no-store`, so npm's cache never serves a folder's old
 * contents.
 */

import { createServer, type Server } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError } from '@tributary/core';
import { sha1Hex, sha256Hex, sha512Integrity } from './integrity.ts';
import { compareVersions, isPrerelease } from './semver-order.ts';
import { readTarballManifest } from './tarball-manifest.ts';

/** One tarball of a folder. */
export interface FolderTarball {
  file: string;
  name: string;
  version: string;
  manifest: Record<string, unknown>;
  sha256: string;
  integrity: string;
  shasum: string;
}

/** The tarballs of the folders, by name then version (first folder wins). */
export async function indexTarballFolders(folders: readonly string[]): Promise<Map<string, Map<string, FolderTarball>>> {
  const index = new Map<string, Map<string, FolderTarball>>();
  for (const folder of folders) {
    let files: string[];
    try {
      files = (await readdir(folder)).filter((f) => f.endsWith('.tgz')).sort();
    } catch (error) {
      throw config(`The @npm source ${folder} cannot be read: ${(error as Error).message}`, error);
    }
    for (const f of files) {
      const file = join(folder, f);
      const bytes = await readFile(file);
      let manifest: Record<string, unknown>;
      try {
        manifest = await readTarballManifest(bytes);
      } catch (error) {
        throw config(`${file} in the @npm source ${folder} is not an npm package tarball: ${(error as Error).message}`, error);
      }
      const { name, version } = manifest;
      if (typeof name !== 'string' || typeof version !== 'string') throw config(`${file} has a package.json without name or version`);
      const versions = index.get(name) ?? new Map<string, FolderTarball>();
      index.set(name, versions);
      if (versions.has(version)) continue;
      versions.set(version, {
        file,
        name,
        version,
        manifest,
        sha256: sha256Hex(bytes),
        integrity: sha512Integrity(bytes),
        shasum: sha1Hex(bytes),
      });
    }
  }
  return index;
}

/** A running folder registry. */
export interface FolderRegistry {
  /** Its URL, for `--registry` (ends with `/`). */
  url: string;
  /** The tarball a URL it handed out stands for, if it is one of its own. */
  tarballAt(url: string): FolderTarball | undefined;
  close(): Promise<void>;
}

/** Serves `index` on a free port of 127.0.0.1; unknown names go to `upstream` (a registry URL) if given. */
export async function startFolderRegistry(
  index: Map<string, Map<string, FolderTarball>>,
  upstream: string | undefined,
): Promise<FolderRegistry> {
  const tarballs: FolderTarball[] = [];
  for (const versions of index.values()) tarballs.push(...versions.values());
  const ids = new Map(tarballs.map((t, i) => [t, i]));
  let origin = '';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const headers = { 'cache-control': 'no-store' };
    const tarball = /^\/-\/tarball\/(\d+)\.tgz$/.exec(path);
    if (tarball !== null) {
      const t = tarballs[Number(tarball[1])];
      if (t === undefined) return void res.writeHead(404, headers).end();
      readFile(t.file).then(
        (bytes) => res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' }).end(bytes),
        () => res.writeHead(404, headers).end(),
      );
      return;
    }
    const name = safeDecode(path.slice(1));
    const versions = name === undefined ? undefined : index.get(name);
    if (versions === undefined) {
      if (upstream !== undefined)
        return void res.writeHead(302, { ...headers, location: new URL(path.slice(1), withSlash(upstream)).href }).end();
      return void res.writeHead(404, { ...headers, 'content-type': 'application/json' }).end('{"error":"Not found"}');
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(packument(name!, versions, origin, ids)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the folder registry has no port');
  origin = `http://127.0.0.1:${address.port}`;
  const byUrl = new Map(tarballs.map((t, i) => [`${origin}/-/tarball/${i}.tgz`, t]));
  return {
    url: `${origin}/`,
    tarballAt: (url) => byUrl.get(url),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The registry document of a name: every version's manifest, with its tarball URL and hashes. */
function packument(name: string, versions: Map<string, FolderTarball>, origin: string, ids: Map<FolderTarball, number>): object {
  const sorted = [...versions.keys()].sort(compareVersions);
  const releases = sorted.filter((v) => !isPrerelease(v));
  const latest = releases.at(-1) ?? sorted.at(-1);
  return {
    name,
    'dist-tags': latest === undefined ? {} : { latest },
    versions: Object.fromEntries(
      sorted.map((v) => {
        const t = versions.get(v)!;
        return [
          v,
          {
            ...t.manifest,
            name,
            version: v,
            dist: { tarball: `${origin}/-/tarball/${ids.get(t)}.tgz`, integrity: t.integrity, shasum: t.shasum },
          },
        ];
      }),
    ),
  };
}

/** npm asks for scoped names as `@scope%2fname`. */
function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function config(message: string, cause?: unknown): TributaryError {
  return new TributaryError('CONFIG', message, { cause, context: { adapter: 'npm' } });
}
