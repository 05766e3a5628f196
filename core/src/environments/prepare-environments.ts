import { TributaryError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import type { EnvironmentActivation, EnvironmentLock, EnvironmentResolver, EnvironmentSpec } from '../ports/environment-resolver.ts';
import { join } from 'node:path';
import type { TaskEnvironment } from '../runtime/protocol.ts';
import { EnvironmentCache } from './environment-cache.ts';
import { LockCache } from './lock-cache.ts';
import { canonicalJson, environmentId } from './environment-id.ts';
import { hostPlatform, REMOTE_PLATFORM } from './host-platform.ts';

/** A step's environment, ready for its tasks. @internal */
export interface PreparedEnvironment {
  id: string;
  /** Content address of the stored lock (canonical JSON) in the datastore. */
  lockSha: string;
  lock: EnvironmentLock;
  /** Local steps: the environment is built here and this enters it. */
  activation?: EnvironmentActivation;
  /** Remote steps: the task job builds it in its container, opening the resolver from this. */
  resolver?: AdapterLocator;
  /** Built by this run (false: reused from the cache, or built remotely). */
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
  /** This machine's platform (default: `hostPlatform()`). */
  hostPlatform?: string;
  /** Each environment once it is ready: `solved` when the solver ran (no lock was kept for the spec). */
  onReady?: (steps: string[], env: PreparedEnvironment, o: { solved: boolean; ms: number }) => void;
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
  // Remote steps resolve for the containers' platform (linux-64), whatever this machine is: a
  // spec used by local and remote steps has one lock per platform.
  const host = options.hostPlatform ?? hostPlatform();
  const byTarget = new Map<string, { spec: EnvironmentSpec; platform: string; remote: boolean; steps: string[] }>();
  for (const name of graph.order) {
    const spec = graph.nodes[name]!.decorators.environment as EnvironmentSpec | undefined;
    if (!spec) continue;
    const remote = options.remoteSteps.has(name);
    const platform = remote ? REMOTE_PLATFORM : host;
    const key = `${remote}:${platform}:${canonicalJson(spec)}`;
    const entry = byTarget.get(key) ?? { spec, platform, remote, steps: [] };
    entry.steps.push(name);
    byTarget.set(key, entry);
  }
  const out: Record<string, PreparedEnvironment> = {};
  if (byTarget.size === 0) return out;
  const cache = new EnvironmentCache(options.cacheRoot);
  const locks = new LockCache(join(options.cacheRoot, 'locks'));
  // Every spec is locked before anything is built: a bad package in the last step fails in
  // seconds, not after the first step's environment took minutes to build.
  const targets = [];
  for (const { spec, platform, remote, steps } of byTarget.values()) {
    const resolver = await withStepContext(spec, steps, async () => {
      const resolver = await options.resolverFor(spec.kind);
      if (remote && !resolver.locator)
        throw new TributaryError(
          'CONFIG',
          `runs on remote compute, and the ${resolver.name} resolver has no locator, so the task's container cannot build the environment. Use a resolver that has one, or run the step locally.`,
        );
      return resolver;
    });
    targets.push({ spec, platform, remote, steps, resolver });
  }
  const locked = [];
  for (const target of targets) {
    const { spec, platform, steps, resolver } = target;
    const started = Date.now();
    let solved = false;
    const lock = await withStepContext(spec, steps, async () => {
      let found = await locks.get(spec, platform, resolver);
      if (!found) {
        solved = true;
        found = await resolver.lock(spec, { platform, ...(options.signal ? { signal: options.signal } : {}) });
        await locks.put(spec, platform, resolver, found);
      }
      return found;
    });
    const lockSha = await options.storeLock(new TextEncoder().encode(canonicalJson(lock)));
    locked.push({ ...target, lock, lockSha, id: environmentId(lock), solved, ms: Date.now() - started });
  }
  for (const { spec, remote, steps, resolver, lock, lockSha, id, solved, ms } of locked) {
    const started = Date.now();
    let prepared: PreparedEnvironment;
    if (remote) {
      prepared = { id, lockSha, lock, resolver: resolver.locator!, built: false };
    } else {
      const { activation, built } = await withStepContext(spec, steps, () => cache.materialize(id, lock, resolver, options.signal));
      prepared = { id, lockSha, lock, activation, built };
    }
    for (const s of steps) out[s] = prepared;
    options.onReady?.(steps, prepared, { solved, ms: ms + Date.now() - started });
  }
  return out;
}

/** Errors of a step's environment name the decorator and the steps. */
async function withStepContext<T>(spec: EnvironmentSpec, steps: string[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!TributaryError.is(err)) throw err;
    throw new TributaryError(err.code, `@${spec.kind} of step ${steps.join(', ')}: ${err.message}`, {
      cause: err,
      retryable: err.retryable,
      context: { ...err.context, step: steps[0]! },
    });
  }
}

/** What a task of the step carries: the activation of a local build, or what its job needs to build it. @internal */
export function taskEnvironment(env: PreparedEnvironment): TaskEnvironment {
  if (env.activation) return { id: env.id, env: env.activation.env, path: env.activation.path };
  return { id: env.id, env: {}, path: [], materialize: { lockSha: env.lockSha, resolver: env.resolver! } };
}
