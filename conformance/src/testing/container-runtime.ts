/**
 * The "container runtime" the compute emulators share (Kubernetes pods, AWS Batch job attempts):
 * each container command really runs, as a local process, in an empty working directory with
 * only the declared environment (PATH and HOME aside), in its own process group; so a missing
 * variable or a missing code download fails as it would in a real container.
 * Tests only: no isolation beyond that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

/** What to run. @public */
export interface ContainerRunOptions {
  /** Container command + args (argv[0] looked up on PATH). */
  argv: string[];
  /** The declared environment. Nothing of the emulator's own environment is inherited except PATH (and HOME = the working dir). */
  env: Record<string, string>;
  /**
   * A declared memory limit (MiB). It is enforced (Linux): the container's processes' resident
   * memory is sampled every `memoryPollMs`, and a container over its limit is SIGKILLed and
   * reported as `oom`, as the kernel's cgroup OOM killer would. A container that SIGKILLs itself
   * is not out of memory: it exits 137 (`exited`), as in a real container.
   */
  memoryLimitMiB?: number;
  /** How often the memory limit is checked, ms. Default 100; 0 turns enforcement off. */
  memoryPollMs?: number;
  /** Kill the container (SIGKILL, whole group) this long after it started; reported as `deadline`. */
  deadlineMs?: number;
  /** SIGTERM → SIGKILL grace of `stop()`. Default 0 (Kubernetes' `terminationGracePeriodSeconds: 0`, as Metaflow sets it). */
  graceMs?: number;
}

/** How a container ended. @public */
export interface ContainerExit {
  /** Exit code as a container runtime reports it: the process's code, or 128 + signal number. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** `exited` (its own exit, any code), `oom`, `deadline` (deadlineMs), `stopped` (stop()), `killed` (kill(): fault injection). */
  reason: 'exited' | 'oom' | 'deadline' | 'stopped' | 'killed';
  startedAt: number;
  finishedAt: number;
  /**
   * Set when the command could not be started at all (argv[0] not found or not executable): the
   * spawn error's text. `exitCode` is then 127, as a shell reports a missing command; a Kubernetes
   * emulator may report it as `StartError` instead, as containerd does.
   */
  startError?: string;
}

/** A running container. @public */
export interface ContainerProcess {
  readonly pid: number;
  readonly startedAt: number;
  /** Everything printed so far (stdout and stderr interleaved in arrival order), as a pod log is. */
  log(): string;
  /** Called with every chunk printed from now on; returns an unsubscribe function. */
  onOutput(listener: (stream: 'stdout' | 'stderr', text: string) => void): () => void;
  /** Settles once the process ended (never rejects). */
  readonly exited: Promise<ContainerExit>;
  /** Stop it: SIGTERM to the group, SIGKILL after `graceMs`. */
  stop(): void;
  /** SIGKILL the group now, reported with `reason` (fault injection: node lost, spot reclaim, OOM). */
  kill(reason?: 'killed' | 'oom'): void;
}

/** Runs containers, and kills and cleans up every one still running on `close()`. @public */
export interface ContainerRuntime {
  run(options: ContainerRunOptions): ContainerProcess;
  /** Containers running now. */
  readonly running: number;
  /** Kill what is running and remove every working directory. */
  close(): Promise<void>;
}

type Cause = Exclude<ContainerExit['reason'], 'exited'>;

/** Everything the host-exit hook must clean up, over every runtime not yet closed. */
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

/**
 * A test process that ends without `close()` (a crash, `process.exit()` in a reporter) must not
 * leave detached containers behind: they are in their own process groups, so nothing else kills
 * them. One hook for all runtimes, so many emulators do not trip MaxListenersExceededWarning.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
    liveGroups.clear();
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    liveDirs.clear();
  };
  process.once('exit', cleanup);
  // Death by signal (`timeout`, Ctrl-C) skips 'exit'. Clean up, then, if nobody else handles the
  // signal, die of it as the default action would have.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanup();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole group, so grandchildren of `sh -c` die too.
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

/**
 * Resident memory of a process and its descendants, from /proc (a cgroup would count it for a
 * real container; cgroups are not ours to use here). Undefined where /proc is not available.
 */
function treeRssBytes(root: number): number | undefined {
  let total = 0;
  let found = false;
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    try {
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) total += Number(rss[1]) * 1024;
      found = true;
      for (const thread of readdirSync(`/proc/${pid}/task`)) {
        const children = readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8').trim();
        if (children) stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // Gone meanwhile, or no /proc.
    }
  }
  return found ? total : undefined;
}

/** @public */
export function createContainerRuntime(): ContainerRuntime {
  installExitHook();
  const dirs = new Set<string>();
  const running = new Map<number, ContainerProcess>();
  let closed = false;

  function run(options: ContainerRunOptions): ContainerProcess {
    if (closed) throw new Error('container runtime is closed');
    if (options.argv.length === 0) throw new TypeError('argv must name a command');
    const cwd = mkdtempSync(join(tmpdir(), 'tributary-ctr-'));
    dirs.add(cwd);
    liveDirs.add(cwd);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: cwd, ...options.env };
    const startedAt = Date.now();
    const child: ChildProcess = spawn(options.argv[0]!, options.argv.slice(1), {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid ?? 0;
    const chunks: string[] = [];
    const listeners = new Set<(stream: 'stdout' | 'stderr', text: string) => void>();
    const emit = (stream: 'stdout' | 'stderr', text: string) => {
      chunks.push(text);
      for (const listener of listeners) listener(stream, text);
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      // utf8 decoding in the stream keeps a multi-byte character split across chunks whole.
      child[stream]?.setEncoding('utf8');
      child[stream]?.on('data', (text: string) => emit(stream, text));
    }

    // What the runtime itself did to the process, first cause wins: it decides the reported reason.
    let cause: Cause | undefined;
    let ended = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let deadlineTimer: NodeJS.Timeout | undefined;
    let memoryTimer: NodeJS.Timeout | undefined;
    const hardKill = (why: Cause) => {
      if (ended) return;
      cause ??= why;
      if (pid) killGroup(pid, 'SIGKILL');
    };
    if (pid) liveGroups.add(pid);
    if (options.deadlineMs !== undefined) deadlineTimer = setTimeout(() => hardKill('deadline'), options.deadlineMs);
    const pollMs = options.memoryPollMs ?? 100;
    if (pid && options.memoryLimitMiB !== undefined && pollMs > 0 && process.platform === 'linux') {
      const limit = options.memoryLimitMiB * 2 ** 20;
      memoryTimer = setInterval(() => {
        const rss = treeRssBytes(pid);
        if (rss !== undefined && rss > limit) hardKill('oom');
      }, pollMs);
      memoryTimer.unref();
    }

    const exited = new Promise<ContainerExit>((resolve) => {
      let spawnError: Error | undefined;
      let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      const settle = () => {
        if (ended) return;
        ended = true;
        clearTimeout(graceTimer);
        clearTimeout(deadlineTimer);
        clearInterval(memoryTimer);
        liveGroups.delete(pid);
        running.delete(pid);
        const finishedAt = Date.now();
        if (spawnError) {
          const text = `exec: "${options.argv[0]}": executable file not found in $PATH (${spawnError.message})`;
          emit('stderr', `${text}\n`);
          return resolve({ exitCode: 127, signal: null, reason: 'exited', startedAt, finishedAt, startError: text });
        }
        const signal = status?.signal ?? null;
        const exitCode = status?.code ?? (signal ? 128 + signalNumber(signal) : 0);
        // Out of memory only when the memory watch (the emulated cgroup OOM killer) or a fault did
        // it: a process that SIGKILLs itself exits 137 like any other error, as in a real container.
        const reason: ContainerExit['reason'] = cause ?? 'exited';
        resolve({ exitCode, signal, reason, startedAt, finishedAt });
      };
      child.once('error', (error) => {
        // A spawn failure (ENOENT, EACCES) has no pid; a later error (a kill failing) is not an exit.
        if (child.pid !== undefined) return;
        spawnError = error;
        settle();
      });
      child.once('exit', (code, signal) => {
        status = { code, signal };
        // When a container's main process ends the runtime tears the container down: whatever
        // it left running in the group goes too, and then the pipes it held close.
        killGroup(pid, 'SIGKILL');
        // A process that left the group (setsid) may hold the pipes open forever: do not wait on it.
        setTimeout(settle, 1000).unref();
      });
      // 'close' comes after 'exit' once stdout and stderr are drained, so the log is complete.
      child.once('close', () => {
        if (spawnError || child.pid === undefined) return;
        settle();
      });
    });

    const container: ContainerProcess = {
      pid,
      startedAt,
      log: () => chunks.join(''),
      onOutput(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      exited,
      stop() {
        if (ended || cause) return;
        const grace = options.graceMs ?? 0;
        if (grace <= 0) return hardKill('stopped');
        cause = 'stopped';
        if (pid) killGroup(pid, 'SIGTERM');
        graceTimer = setTimeout(() => hardKill('stopped'), grace);
      },
      kill(reason = 'killed') {
        hardKill(reason);
      },
    };
    if (pid) running.set(pid, container);
    return container;
  }

  return {
    run,
    get running() {
      return running.size;
    },
    async close() {
      closed = true;
      const exits = [...running.values()].map((container) => {
        container.kill();
        return container.exited;
      });
      await Promise.all(exits);
      await Promise.all(
        [...dirs].map(async (dir) => {
          await rm(dir, { recursive: true, force: true });
          liveDirs.delete(dir);
        }),
      );
      dirs.clear();
    },
  };
}
