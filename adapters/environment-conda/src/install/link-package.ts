/**
 * Links one unpacked package into the environment: exactly the paths its metadata lists (files
 * of the archive it does not list are left out, as conda does), with prefix placeholders
 * replaced and file modes kept; `noarch: python` paths placed for the environment's Python and
 * their entry points written.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runResolverProcess } from '@tributary/core';
import { configError, integrityError } from '../errors.ts';
import { checkSymlinkTarget } from './archive-path.ts';
import { entryPointScript, noarchPythonPath } from './noarch-python.ts';
import type { PackageMetadata } from './package-metadata.ts';
import { replacePrefix } from './prefix-replace.ts';
import type { PrefixWriter } from './prefix-writer.ts';
import type { PackageContents } from './tar-extract.ts';

/** An unpacked package, ready to link. */
export interface UnpackedPackage {
  label: string;
  staging: string;
  contents: PackageContents;
  metadata: PackageMetadata;
}

export interface LinkContext {
  /** The environment folder as tasks see it: what replaces the placeholders. */
  prefix: string;
  writer: PrefixWriter;
  /** The environment's site-packages folder (relative), when it has a Python. */
  sitePackages: string | undefined;
  /** Re-sign binaries changed by prefix replacement (macOS on Apple silicon kills unsigned ones). */
  codesign: boolean;
  signal: AbortSignal;
}

/** A path as the environment's `conda-meta` record lists it. */
export interface LinkedPath {
  _path: string;
  path_type: 'hardlink' | 'softlink' | 'directory' | 'unix_python_entry_point';
  sha256?: string;
  size_in_bytes?: number;
  prefix_placeholder?: string;
  file_mode?: string;
}

/** Links `pkg` into the environment; returns the paths it installed. */
export async function linkPackage(pkg: UnpackedPackage, context: LinkContext): Promise<LinkedPath[]> {
  const { label, staging, contents, metadata } = pkg;
  const { writer, prefix } = context;
  const python = metadata.noarch === 'python';
  if (python && context.sitePackages === undefined)
    throw configError(`${label} is a noarch: python package, and the environment has no python: add python to @conda`);
  const linked: LinkedPath[] = [];
  for (const entry of metadata.paths) {
    const rel = python ? noarchPythonPath(entry.path, context.sitePackages!) : entry.path;
    const target = contents.symlinks.get(entry.path);
    const mode = contents.files.get(entry.path);
    if (target !== undefined) {
      checkSymlinkTarget(rel, target, label);
      await writer.symlink(rel, target, label);
      linked.push({ _path: rel, path_type: 'softlink' });
    } else if (mode !== undefined) {
      const staged = join(staging, entry.path);
      let replaced = false;
      if (entry.placeholder !== undefined) {
        const data = await readFile(staged);
        const updated = replacePrefix(data, entry.placeholder, prefix, entry.fileMode ?? 'text', rel);
        if (updated !== data) {
          await writeFile(staged, updated);
          replaced = true;
        }
      }
      const dest = await writer.moveFile(staged, rel, mode, label);
      if (replaced && entry.fileMode === 'binary' && context.codesign) {
        // As conda does: an ad-hoc signature; a file that is not Mach-O just fails to sign.
        await runResolverProcess('/usr/bin/codesign', ['-s', '-', '-f', dest], { adapter: 'conda', signal: context.signal }).catch(
          () => undefined,
        );
      }
      linked.push({
        _path: rel,
        path_type: 'hardlink',
        ...(entry.sha256 !== undefined ? { sha256: entry.sha256 } : {}),
        ...(entry.size !== undefined ? { size_in_bytes: entry.size } : {}),
        ...(entry.placeholder !== undefined ? { prefix_placeholder: entry.placeholder, file_mode: entry.fileMode ?? 'text' } : {}),
      });
    } else if (entry.type === 'directory' || contents.directories.has(entry.path)) {
      await writer.folder(rel, label);
      linked.push({ _path: rel, path_type: 'directory' });
    } else {
      throw integrityError(`${label} lists ${entry.path} in its metadata, but its archive does not have it`, { path: entry.path });
    }
  }
  if (python) {
    for (const entryPoint of metadata.entryPoints) {
      const { name, content } = entryPointScript(entryPoint, prefix, label);
      await writer.writeFile(`bin/${name}`, content, 0o755, label);
      linked.push({ _path: `bin/${name}`, path_type: 'unix_python_entry_point' });
    }
  }
  return linked;
}
