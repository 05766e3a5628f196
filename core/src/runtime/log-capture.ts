/**
 * Captures what tasks print. A warm worker runs many tasks one after another, and a step's timers
 * or stream callbacks may still print after it returned: every write to the process's
 * stdout/stderr is attributed to the task whose async context made it (see task-context.ts), not
 * to whichever task happens to run at that moment.
 */
import { currentTaskScope } from './task-context.ts';

type Write = typeof process.stdout.write;
type Stream = 'stdout' | 'stderr';

/** How long a finished task's log still takes late output (then re-saved). */
const LATE_WINDOW_MS = 5000;
/** Finished logs kept for late output at once (older ones stop accepting it). */
const MAX_RECENT = 256;

/** One task's output. @internal */
export class TaskLog {
  private chunks: Record<Stream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly sizes = { stdout: 0, stderr: 0 };
  private readonly truncated = { stdout: false, stderr: false };
  private lateUntil = 0;
  private version = 0;
  private savedVersion = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly pathspec: string,
    private readonly maxBytes: number,
    private readonly echoPrefix: string | undefined,
    /** Stores the whole log (a later call replaces what an earlier one stored). */
    private readonly saver: (contents: Record<Stream, Buffer>) => Promise<void>,
    /** Where echoed output goes (default: this process's own stdout/stderr, past the capture). */
    private readonly echoTo?: (stream: Stream, text: string) => void,
  ) {}

  append(stream: Stream, buf: Buffer): void {
    this.store(stream, buf);
    this.version++;
    if (this.echoPrefix === undefined) return;
    const text = prefixLines(buf.toString('utf8'), this.echoPrefix);
    if (this.echoTo) this.echoTo(stream, text);
    else originals()[stream](text);
  }

  private store(stream: Stream, buf: Buffer): void {
    if (this.truncated[stream]) return;
    const room = this.maxBytes - this.sizes[stream];
    if (buf.length > room) {
      this.chunks[stream].push(buf.subarray(0, Math.max(0, room)), Buffer.from(`\n[tributary: log truncated at ${this.maxBytes} bytes]\n`));
      this.sizes[stream] = this.maxBytes;
      this.truncated[stream] = true;
      return;
    }
    this.chunks[stream].push(buf);
    this.sizes[stream] += buf.length;
  }

  /** Everything captured so far. */
  contents(): Record<Stream, Buffer> {
    return { stdout: Buffer.concat(this.chunks.stdout), stderr: Buffer.concat(this.chunks.stderr) };
  }

  /** Store what was captured so far. */
  async save(): Promise<void> {
    // One save at a time, in order: a periodic save finishing late never replaces a fuller one.
    const next = this.saving.then(async () => {
      const version = this.version;
      await this.saver(this.contents());
      this.savedVersion = Math.max(this.savedVersion, version);
    });
    this.saving = next.catch(() => undefined);
    await next;
  }

  /** Store what was captured, if anything changed since the last save. */
  async saveIfChanged(): Promise<void> {
    if (this.version > this.savedVersion) await this.save();
  }

  /** The task is over; output that still arrives for a few seconds is added and the log re-saved. */
  finish(): void {
    this.lateUntil = Date.now() + LATE_WINDOW_MS;
    recent.push(this);
    while (recent.length > MAX_RECENT || (recent[0] && recent[0].lateUntil < Date.now())) recent.shift()!.release();
    if (this.version > this.savedVersion) this.markDirty();
  }

  private release(): void {
    this.lateUntil = 0;
    this.chunks = { stdout: [], stderr: [] };
  }

  private markDirty(): void {
    dirtyLogs.add(this);
    scheduleFlush();
  }

  /** Late output (from a callback of the task after it finished). False when it is too late to store it. */
  appendLate(stream: Stream, buf: Buffer): boolean {
    if (Date.now() > this.lateUntil) return false;
    this.append(stream, buf);
    this.markDirty();
    return true;
  }

  async flush(): Promise<void> {
    dirtyLogs.delete(this);
    if (this.version > this.savedVersion) await this.save();
  }
}

const recent: TaskLog[] = [];
const dirtyLogs = new Set<TaskLog>();
let flushTimer: NodeJS.Timeout | undefined;
let pendingFlush: Promise<void> = Promise.resolve();

function scheduleFlush(): void {
  if (flushTimer) return;
  flushTimer = setTimeout(() => {
    flushTimer = undefined;
    void flushLateOutput();
  }, 100);
  flushTimer.unref();
}

/** Save the logs that received late output. Resolves when every such save has finished. @internal */
export function flushLateOutput(): Promise<void> {
  if (flushTimer) {
    clearTimeout(flushTimer);
    flushTimer = undefined;
  }
  const logs = [...dirtyLogs];
  pendingFlush = pendingFlush.then(async () => {
    await Promise.all(
      logs.map((l) =>
        l.flush().catch((err: unknown) => {
          originals().stderr(`[tributary] could not save late output of ${l.pathspec}: ${(err as Error).message}\n`);
        }),
      ),
    );
  });
  return pendingFlush;
}

function prefixLines(text: string, prefix: string): string {
  return `${prefix}${text.replace(/\n(?!$)/g, `\n${prefix}`)}`;
}

let saved: Record<Stream, Write> | undefined;

function originals(): Record<Stream, Write> {
  return (
    saved ?? { stdout: process.stdout.write.bind(process.stdout) as Write, stderr: process.stderr.write.bind(process.stderr) as Write }
  );
}

/**
 * Route this process's stdout/stderr writes to the task they belong to (once per worker process).
 * Writes that belong to no task pass through unchanged.
 * @internal
 */
export function routeTaskOutput(): void {
  if (saved) return;
  const orig = originals();
  saved = orig;
  for (const stream of ['stdout', 'stderr'] as const) {
    const route = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
      const scope = currentTaskScope();
      if (!scope) return (orig[stream] as (...a: unknown[]) => boolean)(chunk, encoding, cb);
      const buf =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk as Uint8Array);
      if (!scope.finished) scope.log.append(stream, buf);
      else if (!scope.log.appendLate(stream, buf)) {
        orig.stderr(prefixLines(buf.toString('utf8'), `[late output of ${scope.pathspec}, not stored] `));
      }
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    };
    (process[stream] as { write: unknown }).write = route;
  }
}
