/**
 * The `conda-meta/` folder that makes a folder a conda environment to conda, mamba and
 * micromamba: one `<name>-<version>-<build>.json` record per package (its `index.json` plus where
 * it came from and the files it installed) and a `history` file (conda's test for "is an
 * environment"). Returned as files to write, so they go through the PrefixWriter like the rest.
 */

import type { LinkedPath } from './link-package.ts';
import type { IndexJson } from './package-metadata.ts';

/** What a record says besides the package's own `index.json`. */
export interface PackageOrigin {
  url: string;
  filename: string;
  sha256: string;
  md5: string;
  size: number;
}

/** The record of one installed package: its path in the environment and its content. */
export function packageRecord(index: IndexJson, origin: PackageOrigin, paths: readonly LinkedPath[]): { path: string; content: string } {
  const subdir = typeof index.subdir === 'string' ? index.subdir : undefined;
  const channelEnd = subdir !== undefined ? origin.url.lastIndexOf(`/${subdir}/`) : -1;
  const record = {
    ...index,
    fn: origin.filename,
    url: origin.url,
    channel: channelEnd === -1 ? origin.url.slice(0, origin.url.lastIndexOf('/')) : origin.url.slice(0, channelEnd),
    md5: origin.md5,
    sha256: origin.sha256,
    size: origin.size,
    files: paths.filter((p) => p.path_type !== 'directory').map((p) => p._path),
    paths_data: { paths_version: 1, paths },
    // conda's link types: 1 hard link, 2 soft link, 3 copy. Files are moved in from a private unpack.
    link: { source: '', type: 3 },
    requested_spec: '',
  };
  return { path: `conda-meta/${index.name}-${index.version}-${index.build}.json`, content: `${JSON.stringify(record, null, 2)}\n` };
}

/** The environment's history file (empty: no conda command made it). */
export const HISTORY_FILE = 'conda-meta/history';
