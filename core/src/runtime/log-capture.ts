/**
 * Captures what a task prints. A warm worker runs many tasks one after another, so output is
 * attributed by intercepting the process's own stdout/stderr writes while a task runs.
 */
type Write = typeof process.stdout.write;

/** @internal */
export class LogCapture {
  private readonly chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  private readonly sizes = { stdout: 0, stderr: 0 };
  private readonly truncated = { stdout: false, stderr: false };
  private originals?: { stdout: Write; stderr: Write };

  constructor(
    private readonly maxBytes: number,
    private readonly echoPrefix: string | undefined,
  ) {}

  start(): void {
    const originals = {
      stdout: process.stdout.write.bind(process.stdout) as Write,
      stderr: process.stderr.write.bind(process.stderr) as Write,
    };
    this.originals = originals;
    for (const stream of ['stdout', 'stderr'] as const) {
      const capture = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
        const buf =
          typeof chunk === 'string'
            ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
            : Buffer.from(chunk as Uint8Array);
        this.append(stream, buf);
        if (this.echoPrefix !== undefined) {
          const text = buf.toString('utf8').replace(/\n(?!$)/g, `\n${this.echoPrefix}`);
          originals[stream](`${this.echoPrefix}${text}`);
        }
        const done = typeof encoding === 'function' ? encoding : cb;
        if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
        return true;
      };
      (process[stream] as { write: unknown }).write = capture;
    }
  }

  private append(stream: 'stdout' | 'stderr', buf: Buffer): void {
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

  stop(): { stdout: Buffer; stderr: Buffer } {
    if (this.originals) {
      process.stdout.write = this.originals.stdout;
      process.stderr.write = this.originals.stderr;
      this.originals = undefined;
    }
    return { stdout: Buffer.concat(this.chunks.stdout), stderr: Buffer.concat(this.chunks.stderr) };
  }
}
