/**
 * One solve with rattler's WASM build (`@conda-org/rattler`, loaded on first use: about 4 MB of
 * JavaScript and WebAssembly that `materialize` never needs). `simpleSolve` fetches the
 * channels' repodata itself (sharded repodata, then `repodata.json.zst`, `.bz2`, plain JSON) with
 * `fetch`, keeps no cache between calls, and cannot be cancelled: an aborted solve is abandoned
 * (its result dropped) and the caller's promise rejects at once.
 */

import { TributaryError } from '@tributary/core';
import { configError, errorText, infrastructureError } from '../errors.ts';
import type { SolverRecord } from './virtual-packages.ts';

/** A package the solver picked, as its repodata describes it. */
export interface SolvedRecord {
  name: string;
  version: string;
  build: string;
  url: string;
  filename: string;
  subdir: string;
  depends: string[];
  sha256?: string | undefined;
  md5?: string | undefined;
}

/** What to solve. */
export interface SolveRequest {
  specs: readonly string[];
  /** Channel names or URLs the solver can fetch. */
  channels: readonly string[];
  /** Target platform; `noarch` is always added. */
  platform: string;
  /** Candidates besides the channels' packages (the virtual packages). */
  virtualPackages: readonly SolverRecord[];
  /** How the message names the channels (local ones by their folder, not the loopback URL). */
  describeChannels: string;
  signal: AbortSignal;
}

type Rattler = typeof import('@conda-org/rattler');
let rattler: Promise<Rattler> | undefined;

function loadRattler(): Promise<Rattler> {
  rattler ??= import('@conda-org/rattler').catch((error: unknown) => {
    rattler = undefined;
    throw configError(`Could not load the conda solver (@conda-org/rattler): ${errorText(error)}`, {}, error);
  });
  return rattler;
}

/** The solver's pick for `request.specs`, or CONFIG in its words when they cannot be satisfied. */
export async function rattlerSolve(request: SolveRequest): Promise<SolvedRecord[]> {
  const { simpleSolve } = await raceSignal(loadRattler(), request.signal);
  const platforms = [request.platform, 'noarch'] as Parameters<Rattler['simpleSolve']>[2];
  let solved: Awaited<ReturnType<Rattler['simpleSolve']>>;
  try {
    solved = await raceSignal(
      simpleSolve([...request.specs], [...request.channels], platforms, [...request.virtualPackages]),
      request.signal,
    );
  } catch (error) {
    if (TributaryError.is(error)) throw error;
    throw solveError(errorText(error), request, error);
  }
  return solved.map((p) => {
    const record: SolvedRecord = {
      name: p.packageName,
      version: p.version,
      build: p.build,
      url: p.url,
      filename: p.filename,
      subdir: p.subdir ?? request.platform,
      depends: p.depends ?? [],
      sha256: p.sha256?.toLowerCase(),
      md5: p.md5?.toLowerCase(),
    };
    p.free();
    return record;
  });
}

/**
 * rattler's errors are strings. A spec no channel satisfies, a spec it cannot parse, a missing
 * channel or subdir are the user's to fix (CONFIG); a server or connection failure is the
 * network's (INFRASTRUCTURE, retryable).
 */
function solveError(text: string, request: SolveRequest, cause: unknown): TributaryError {
  const message = `Cannot lock @conda ${request.specs.join(', ') || '(no packages)'} for ${request.platform} from ${request.describeChannels}: ${text.trim()}`;
  if (/cannot solve|no candidates|unable to parse|invalid|could not find subdir|not a known platform|status client error/i.test(text))
    return configError(message, { platform: request.platform }, cause);
  const retryable = /server error|error sending request|timed out|connection|dns/i.test(text);
  return infrastructureError(message, retryable, { platform: request.platform }, cause);
}

/** `work`, or ABORTED as soon as `signal` aborts (the work itself runs on, its outcome ignored). */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = () => new TributaryError('ABORTED', 'Aborted while solving the conda environment', { context: { adapter: 'conda' } });
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
