import { readFileSync } from 'node:fs';
import { TributaryError } from '@tributary/core';
import type { HttpMetadataStoreOptions } from './http-metadata-store.ts';

/**
 * Options for a `--metadata http(s)://host[:port][/path]` URL (a path: the service behind a reverse proxy). The token comes from
 * `$TRIBUTARY_METADATA_TOKEN`, never from the URL (URLs end up in shell history and logs); a
 * private CA for `https://` from the PEM file named by `$TRIBUTARY_METADATA_CA`.
 * @public
 */
export function httpMetadataOptionsFromUrl(url: URL, env: NodeJS.ProcessEnv = process.env): HttpMetadataStoreOptions {
  const caFile = env.TRIBUTARY_METADATA_CA;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new TributaryError('CONFIG', `Cannot read TRIBUTARY_METADATA_CA (${caFile}): ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    url: url.href,
    ...(env.TRIBUTARY_METADATA_TOKEN ? { token: env.TRIBUTARY_METADATA_TOKEN } : {}),
    ...(ca ? { ca } : {}),
  };
}
