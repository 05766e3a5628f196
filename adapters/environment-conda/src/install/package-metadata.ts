/**
 * What a package says about itself, from its `info/`: `index.json` (name, version, build,
 * dependencies, `noarch`), the files to link with their prefix placeholders (`paths.json`, or
 * `files` and `has_prefix` in packages built before conda-build 3), and the entry points of a
 * `noarch: python` package (`link.json`, or the older `noarch.json`).
 */

import { integrityError } from '../errors.ts';
import { archivePath } from './archive-path.ts';
import type { PackageContents } from './tar-extract.ts';

/** The placeholder conda-build wrote into files before it used long (255-byte) placeholders. */
export const LEGACY_PLACEHOLDER = '/opt/anaconda1anaconda2anaconda3';

/** One path a package installs. */
export interface PackagePath {
  path: string;
  type: 'file' | 'softlink' | 'directory';
  /** The prefix placeholder in the file, replaced by the environment's folder. */
  placeholder?: string | undefined;
  fileMode?: 'text' | 'binary' | undefined;
  sha256?: string | undefined;
  size?: number | undefined;
}

/** A package's `info/index.json` (the fields the installer uses, and the rest as is). */
export interface IndexJson extends Record<string, unknown> {
  name: string;
  version: string;
  build: string;
  depends: string[];
}

export interface PackageMetadata {
  index: IndexJson;
  paths: PackagePath[];
  noarch: 'python' | 'generic' | undefined;
  /** `name = module:function` lines of a `noarch: python` package. */
  entryPoints: string[];
}

/** Reads the metadata of an unpacked package. */
export function readPackageMetadata(contents: PackageContents, label: string): PackageMetadata {
  const index = json(contents, 'info/index.json', label);
  if (index === undefined) throw integrityError(`${label} has no info/index.json: it is not a conda package`);
  const { name, version, build } = index;
  if (typeof name !== 'string' || typeof version !== 'string' || typeof build !== 'string')
    throw integrityError(`${label} has an info/index.json without name, version and build`);
  const depends = Array.isArray(index.depends) ? index.depends.filter((d): d is string => typeof d === 'string') : [];
  const link = json(contents, 'info/link.json', label);
  const legacyNoarch = json(contents, 'info/noarch.json', label);
  const linkNoarch = (link?.noarch ?? legacyNoarch) as { type?: unknown; entry_points?: unknown } | undefined;
  const noarchField = index.noarch ?? (index.noarch_python === true ? 'python' : undefined) ?? linkNoarch?.type;
  const noarch = noarchField === 'python' ? 'python' : noarchField === 'generic' || noarchField === true ? 'generic' : undefined;
  const entryPoints = Array.isArray(linkNoarch?.entry_points)
    ? linkNoarch.entry_points.filter((e): e is string => typeof e === 'string')
    : [];
  return { index: { ...index, name, version, build, depends }, paths: packagePaths(contents, label), noarch, entryPoints };
}

function packagePaths(contents: PackageContents, label: string): PackagePath[] {
  const pathsJson = json(contents, 'info/paths.json', label);
  if (pathsJson !== undefined) {
    if (!Array.isArray(pathsJson.paths)) throw integrityError(`${label} has an info/paths.json without paths`);
    return pathsJson.paths.map((raw: unknown) => {
      const entry = raw as Record<string, unknown>;
      if (typeof entry._path !== 'string') throw integrityError(`${label} has an info/paths.json entry without _path`);
      const path = archivePath(entry._path, label);
      const type = entry.path_type === 'softlink' ? 'softlink' : entry.path_type === 'directory' ? 'directory' : 'file';
      return {
        path,
        type,
        placeholder: typeof entry.prefix_placeholder === 'string' && entry.prefix_placeholder !== '' ? entry.prefix_placeholder : undefined,
        fileMode: entry.file_mode === 'binary' ? 'binary' : entry.prefix_placeholder !== undefined ? 'text' : undefined,
        sha256: typeof entry.sha256 === 'string' ? entry.sha256 : undefined,
        size: typeof entry.size_in_bytes === 'number' ? entry.size_in_bytes : undefined,
      } satisfies PackagePath;
    });
  }
  // Before paths.json: info/files lists the paths, info/has_prefix the files with a placeholder.
  const files = contents.info.get('info/files');
  if (files === undefined) throw integrityError(`${label} has neither info/paths.json nor info/files`);
  const prefixed = hasPrefix(contents.info.get('info/has_prefix'), label);
  return lines(files).map((line) => {
    const path = archivePath(line, label);
    const replace = prefixed.get(path);
    const type = contents.symlinks.has(path)
      ? 'softlink'
      : contents.directories.has(path) && !contents.files.has(path)
        ? 'directory'
        : 'file';
    return { path, type, placeholder: replace?.placeholder, fileMode: replace?.mode };
  });
}

/**
 * `info/has_prefix` lines are `placeholder mode path` (each maybe quoted) or just `path` (the
 * legacy placeholder, text mode), as conda reads them.
 */
function hasPrefix(data: Buffer | undefined, label: string): Map<string, { placeholder: string; mode: 'text' | 'binary' }> {
  const out = new Map<string, { placeholder: string; mode: 'text' | 'binary' }>();
  if (data === undefined) return out;
  for (const line of lines(data)) {
    const parts = (line.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((p) => p.replace(/^["']|["']$/g, ''));
    if (parts.length === 1) out.set(archivePath(parts[0]!, label), { placeholder: LEGACY_PLACEHOLDER, mode: 'text' });
    else if (parts.length === 3 && (parts[1] === 'text' || parts[1] === 'binary'))
      out.set(archivePath(parts[2]!, label), { placeholder: parts[0]!, mode: parts[1] });
    else throw integrityError(`${label} has an invalid info/has_prefix line ${JSON.stringify(line)}`);
  }
  return out;
}

function lines(data: Buffer): string[] {
  return data
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function json(contents: PackageContents, path: string, label: string): Record<string, any> | undefined {
  const data = contents.info.get(path);
  if (data === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(data.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, any>;
  } catch (error) {
    throw integrityError(`${label} has an invalid ${path}`, {}, error);
  }
}
