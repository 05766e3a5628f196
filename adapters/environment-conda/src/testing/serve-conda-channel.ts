import { serveDirectory } from '../serve-directory.ts';

/** A channel served over HTTP on 127.0.0.1. @public */
export interface ServedCondaChannel {
  /** The channel URL (`http://127.0.0.1:<port>`). */
  url: string;
  /** URL paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves the channel folder `dir` (see `makeCondaChannel`) read-only on 127.0.0.1, on an
 * ephemeral port, until `close()`.
 * @public
 */
export function serveCondaChannel(dir: string): Promise<ServedCondaChannel> {
  return serveDirectory(dir);
}
