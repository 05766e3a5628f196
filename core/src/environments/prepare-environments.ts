import { TributaryError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { EnvironmentActivation, EnvironmentLock, EnvironmentResolver, EnvironmentSpec } from '../ports/environment-resolver.ts';
import { join } from 'node:path';
import { EnvironmentCache } from './environment-cache.ts';
import { LockCache } from './lock-cache.ts';
import { canonicalJson, environmentId } from './environment-id.ts';
import { hostPlatform } from './host-platform.ts';

/** A step's environment, ready for its tasks. @internal */
export interface PreparedEnvironment {
  id: string;
  /** Content address of the stored lock (canonical JSON) in the datastore. */
  lockSha: string;
  lock: EnvironmentLock;
  activation: EnvironmentActivation;
  /** Built by this run (false: reused from the cache). */
  built: boolean;
}

/** @internal */
export interface PrepareEnvironmentsOptions {
  resolverFor: (kind: string) => Promise<EnvironmentResolver>;
  /** Where materialized environments live (`<home>/environments`). */
  cacheRoot: string;
  /** Stores a lock durably, returns its content address. */
  storeLock: (bytes: Uint8Array) => Promise<string>;
  /** Steps that run on remote compute. */
  remoteSteps: ReadonlySet<string>;
  signal?: AbortSignal;
  onBuilt?: (step: string[], env: PreparedEnvironment, ms: number) => void;
}

/**
 * Lock and materialize every distinct environment of a flow's steps, once each, before the run is
 * recorded: a package that does not exist fails here, in the resolver's words, before any step
 * starts. Steps with the same spec share one lock and one environment. A spec locked before (on
 * this machine, for this platform) reuses its lock: runs stay reproducible and skip the solver.
 * @internal
 */
export async function prepareEnvironments(
  graph: FlowGraph,
  options: PrepareEnvironmentsOptions,
): Promise<Record<string, PreparedEnvironment>> {
  const bySpec = new Map<string, { spec: EnvironmentSpec; steps: string[] }>();
  for (const name of graph.order) {
    const spec = graph.nodes[name]!.decorators.environment as EnvironmentSpec | undefined;
    if (!spec) continue;
    if (options.remoteSteps.has(name))
      throw new TributaryError(
        'CONFIG',
        `Step ${name} has @${spec.kind} and runs on remote compute: environments on Kubernetes and Batch are not supported yet. Run the step locally, or bake its packages into the image.`,
        { context: { step: name } },
      );
    const key = canonicalJson(spec);
    const entry = bySpec.get(key) ?? { spec, steps: [] };
    entry.steps.push(name);
    bySpec.set(key, entry);
  }
  const out: Record<string, PreparedEnvironment> = {};
  if (bySpec.size === 0) return out;
  const cache = new EnvironmentCache(options.cacheRoot);
  const locks = new LockCache(join(options.cacheRoot, 'locks'));
  const platform = hostPlatform();
  for (const { spec, steps } of bySpec.values()) {
    const resolver = await options.resolverFor(spec.kind);
    const started = Date.now();
    let lock: EnvironmentLock | undefined = await locks.get(spec, platform);
    try {
      if (!lock) {
        lock = await resolver.lock(spec, { platform, ...(options.signal ? { signal: options.signal } : {}) });
        await locks.put(spec, platform, lock);
      }
    } catch (err) {
      if (!TributaryError.is(err)) throw err;
      throw new TributaryError(err.code, `@${spec.kind} of step ${steps.join(', ')}: ${err.message}`, {
        cause: err,
        retryable: err.retryable,
        context: { ...err.context, step: steps[0]! },
      });
    }
    const id = environmentId(lock);
    const lockSha = await options.storeLock(new TextEncoder().encode(canonicalJson(lock)));
    const { activation, built } = await cache.materialize(id, lock, resolver, options.signal);
    const prepared: PreparedEnvironment = { id, lockSha, lock, activation, built };
    for (const s of steps) out[s] = prepared;
    options.onBuilt?.(steps, prepared, Date.now() - started);
  }
  return out;
}
