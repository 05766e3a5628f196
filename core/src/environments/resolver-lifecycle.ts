/**
 * What every environment resolver does around its own solver and installer, written once: work
 * runs with a signal that aborts on the caller's signal or on `close()`; a closed resolver refuses
 * new work with `CLOSED`, and work cut short by `close()` rejects with `CLOSED` (not with whatever
 * the killed tool printed); a spec or lock of another kind, a platform the resolver does not know,
 * a lock for another machine's platform, and a source that carries credentials (they would be
 * stored in the lock, which everyone who reads the run can read) are refused with `CONFIG` before
 * any tool runs.
 */
import { TributaryError } from '../errors.ts';
import type { EnvironmentActivation, EnvironmentLock, EnvironmentSpec } from '../ports/environment-resolver.ts';
import { redactUrl } from '../util/redact-url.ts';
import { hostPlatform } from './host-platform.ts';

/** @public */
export interface ResolverLifecycleOptions {
  /** The environment kind (`pypi`, `conda`, `npm`): also the adapter's name in errors. */
  kind: string;
  /** Platforms a lock can be made for. */
  platforms: readonly string[];
  /** Sources used when a spec names none. */
  defaultSources?: readonly string[];
}

/** @public */
export class ResolverLifecycle {
  readonly #closing = new AbortController();
  readonly #o: ResolverLifecycleOptions;

  constructor(options: ResolverLifecycleOptions) {
    this.#o = options;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * `lock` around the resolver's solver: checks the spec's kind and the platform, and gives
   * `work` the sources to use (the spec's, else the resolver's default).
   */
  lock(
    spec: EnvironmentSpec,
    options: { platform: string; signal?: AbortSignal | undefined },
    work: (signal: AbortSignal, sources: string[]) => Promise<EnvironmentLock>,
  ): Promise<EnvironmentLock> {
    return this.run(options.signal, (signal) => {
      const { kind, platforms } = this.#o;
      if (spec.kind !== kind) throw this.config(`The ${kind} resolver cannot lock a ${spec.kind} environment`);
      if (!platforms.includes(options.platform))
        throw this.config(`Unknown platform ${options.platform}: use one of ${platforms.join(', ')}`);
      const sources = spec.sources !== undefined && spec.sources.length > 0 ? spec.sources : (this.#o.defaultSources ?? []);
      for (const source of sources) if (holdsCredentials(source)) throw this.config(credentialsMessage(kind, source));
      return work(signal, [...sources]);
    });
  }

  /** `materialize` around the resolver's installer: checks the lock's kind, and that it is for this machine. */
  materialize(
    lock: EnvironmentLock,
    options: { signal?: AbortSignal | undefined },
    work: (signal: AbortSignal) => Promise<EnvironmentActivation>,
  ): Promise<EnvironmentActivation> {
    return this.run(options.signal, (signal) => {
      const { kind } = this.#o;
      if (lock.kind !== kind) throw this.config(`The ${kind} resolver cannot materialize a ${lock.kind} environment`);
      const host = hostPlatform();
      if (lock.platform !== host)
        throw this.config(
          `This @${kind} lock is for ${lock.platform} and this machine is ${host}: materialize it on a ${lock.platform} machine`,
        );
      return work(signal);
    });
  }

  /** Runs `work` with a signal that aborts on `callerSignal` or on close; close wins as `CLOSED`. */
  async run<T>(callerSignal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw this.#closedError();
    const signal = callerSignal === undefined ? this.#closing.signal : AbortSignal.any([callerSignal, this.#closing.signal]);
    try {
      if (signal.aborted)
        throw new TributaryError('ABORTED', `Aborted before the ${this.#o.kind} resolver started`, { context: { adapter: this.#o.kind } });
      return await work(signal);
    } catch (error) {
      if (this.closed) throw this.#closedError(error);
      throw error;
    }
  }

  /** Aborts running work; later calls reject with `CLOSED`. */
  close(): void {
    this.#closing.abort();
  }

  /** A `CONFIG` error in this resolver's name. */
  config(message: string, cause?: unknown): TributaryError {
    return new TributaryError('CONFIG', message, { ...(cause !== undefined ? { cause } : {}), context: { adapter: this.#o.kind } });
  }

  #closedError(cause?: unknown): TributaryError {
    return new TributaryError('CLOSED', `The ${this.#o.kind} environment resolver is closed`, {
      cause,
      context: { adapter: this.#o.kind },
    });
  }
}

/** `https://user:pw@host`, `https://token@host`, `?token=`, anaconda.org's `/t/<token>/`. */
function holdsCredentials(source: string): boolean {
  if (redactUrl(source) !== source) return true;
  try {
    const url = new URL(source);
    return url.username !== '' || url.password !== '' || /\/t\/[^/]+\//.test(url.pathname);
  } catch {
    return false;
  }
}

function credentialsMessage(kind: string, source: string): string {
  let shown = redactUrl(source);
  try {
    const url = new URL(source);
    url.username = url.username ? '***' : '';
    url.password = '';
    url.pathname = url.pathname.replace(/\/t\/[^/]+\//, '/t/***/');
    shown = redactUrl(url.href);
  } catch {
    // not a URL: the redacted text is what we show
  }
  const where =
    kind === 'pypi'
      ? "pip's own configuration (pip.conf, PIP_INDEX_URL in the orchestrator's and the containers' environment, or a keyring)"
      : kind === 'npm'
        ? 'an .npmrc (`//registry.example.com/:_authToken=${NPM_TOKEN}`)'
        : null;
  if (where === null)
    return `The source ${shown} carries credentials: they would be stored in the environment's lock, which everyone who can read the run can read, and the ${kind} resolver cannot send credentials yet. Use a channel that needs none (a mirror inside your network).`;
  return `The source ${shown} carries credentials: they would be stored in the environment's lock, which everyone who can read the run can read. Give the source without them, and the credentials through ${where}.`;
}
