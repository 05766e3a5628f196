/**
 * Channels as a lock records them, and how the solver reaches them. A channel is a name
 * (`conda-forge`, `bioconda`, `conda-forge/label/dev`: rattler reads it from
 * `https://conda.anaconda.org/<name>`), an http(s) URL (given as is, without trailing `/`), or a
 * local channel folder (a path or a `file://` URL, recorded as an absolute `file://` URL so the
 * lock does not depend on the working folder). The WASM solver fetches with `fetch`, which cannot
 * read files, so local channels are served to it over loopback while it solves.
 */

import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configError } from '../errors.ts';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_.-]+)*$/;

/** A channel after normalization. */
export type Channel = { kind: 'remote'; id: string } | { kind: 'local'; id: string; folder: string };

/** Normalized channels (the order is the channel priority, kept). */
export function normalizeChannels(channels: readonly string[]): Channel[] {
  return channels.map((given) => {
    const channel = String(given).trim();
    if (channel === '') throw configError('An empty @conda channel was given');
    const scheme = SCHEME.exec(channel)?.[1]?.toLowerCase();
    if (scheme === 'http' || scheme === 'https') return { kind: 'remote', id: channel.replace(/\/+$/, '') };
    if (scheme === 'file') {
      const folder = fileURLToPath(channel);
      return { kind: 'local', id: pathToFileURL(folder).href.replace(/\/+$/, ''), folder };
    }
    if (scheme !== undefined) throw configError(`Unsupported @conda channel ${channel}: use a channel name, an http(s) URL or a folder`);
    if (isAbsolute(channel) || channel.startsWith('.')) {
      const folder = resolve(channel);
      return { kind: 'local', id: pathToFileURL(folder).href.replace(/\/+$/, ''), folder };
    }
    if (!NAME.test(channel))
      throw configError(`Invalid @conda channel ${JSON.stringify(channel)}: use a name such as "conda-forge", a URL or a folder`);
    return { kind: 'remote', id: channel };
  });
}
