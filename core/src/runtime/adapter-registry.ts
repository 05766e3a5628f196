import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '../errors.ts';
import type { ComputeBackend } from '../ports/compute-backend.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { EnvironmentResolver } from '../ports/environment-resolver.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import { redactUrl } from '../util/redact-url.ts';

/** The adapter kinds a run needs. @public */
export interface AdapterKinds {
  datastore: Datastore;
  metadata: MetadataStore;
  compute: ComputeBackend;
  /** Opened by kind: `pypi://`, `conda://`, `npm://`. */
  environment: EnvironmentResolver;
}

/** Opens an adapter from a URL (`file:///x`, `sqlite:///x.db`, `s3://bucket/prefix`...). @public */
export type AdapterFactory<K extends keyof AdapterKinds> = (url: URL, env: { home: string }) => AdapterKinds[K] | Promise<AdapterKinds[K]>;

const factories: { [K in keyof AdapterKinds]: Map<string, AdapterFactory<K>> } = {
  datastore: new Map(),
  metadata: new Map(),
  compute: new Map(),
  environment: new Map(),
};
const defaults: { [K in keyof AdapterKinds]?: (home: string) => string } = {};

/**
 * Register how a URL scheme opens an adapter; adapter packages call this. `default` (a URL
 * under the Tributary home folder) makes it the adapter used when a run names none.
 * @public
 */
export function registerAdapter<K extends keyof AdapterKinds>(
  kind: K,
  scheme: string,
  factory: AdapterFactory<K>,
  options: { default?: (home: string) => string } = {},
): void {
  (factories[kind] as Map<string, AdapterFactory<K>>).set(scheme.replace(/:$/, ''), factory);
  if (options.default) defaults[kind] = options.default;
}

let defaultsLoaded: Promise<void> | undefined;

/** Load the embedded default adapters (package `tributary`) if nothing registered them yet. */
async function loadDefaults(): Promise<void> {
  defaultsLoaded ??= (async () => {
    // The core never depends on an adapter. The `tributary` distribution registers the embedded
    // defaults when imported; find it from the application (cwd or the main script), not from here.
    const bases = [join(process.cwd(), 'noop.js'), process.argv[1] ?? join(process.cwd(), 'noop.js')];
    for (const base of bases) {
      try {
        const resolved = createRequire(base).resolve('tributary');
        await import(pathToFileURL(resolved).href);
        return;
      } catch {
        // try the next base
      }
    }
  })();
  await defaultsLoaded;
}

/**
 * Open an adapter given as an instance, a URL, or nothing (the registered default under `home`).
 * `owned` is true when this call created the adapter (the caller should close it).
 * @public
 */
export async function openConfigured<K extends keyof AdapterKinds>(
  kind: K,
  given: AdapterKinds[K] | string | undefined,
  home: string,
): Promise<{ adapter: AdapterKinds[K]; owned: boolean }> {
  if (given !== undefined && typeof given !== 'string') return { adapter: given, owned: false };
  let url = given;
  if (url === undefined) {
    if (!defaults[kind]) await loadDefaults();
    url = defaults[kind]?.(home);
    if (url === undefined) {
      throw new TributaryError(
        'CONFIG',
        `No ${kind} adapter configured and the embedded default is not installed. Install the 'tributary' package, or pass ${kind} to runFlow.`,
      );
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TributaryError(
      'CONFIG',
      `Invalid ${kind} URL ${JSON.stringify(redactUrl(url))}: expected e.g. file:///path, sqlite:///path/db.sqlite or s3://bucket/prefix.`,
    );
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  let factory = factories[kind].get(scheme) as AdapterFactory<K> | undefined;
  if (!factory) {
    await loadDefaults();
    factory = factories[kind].get(scheme) as AdapterFactory<K> | undefined;
  }
  if (!factory) {
    throw new TributaryError(
      'CONFIG',
      `No ${kind} adapter handles '${scheme}:' URLs. Known: ${[...factories[kind].keys()].map((s) => `${s}:`).join(', ') || 'none'}. Install and import the adapter package for '${scheme}'.`,
    );
  }
  return { adapter: await factory(parsed, { home }), owned: true };
}
