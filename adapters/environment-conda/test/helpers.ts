import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TributaryError } from '@tributary/core';

/** The TributaryError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<TributaryError> {
  const error = await promise.then(
    (value) => new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 300)}`),
    (e: unknown) => e,
  );
  if (!TributaryError.is(error)) throw new Error(`expected a TributaryError, got ${String(error)}`, { cause: error });
  return error;
}

/** A scratch folder for one test file, and fresh empty environment folders in it. */
export function scratch(prefix: string): { root: string; envDir: () => string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let count = 0;
  return {
    root,
    envDir: () => {
      const dir = join(root, `env-${count++}`);
      mkdirSync(dir);
      return dir;
    },
  };
}

/** An HTTP server on 127.0.0.1 that accepts requests and never answers (a hung channel). */
export async function hangingServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port on 127.0.0.1 nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
