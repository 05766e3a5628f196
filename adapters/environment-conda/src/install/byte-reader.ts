/** Reads exact byte counts from a stream of chunks (a decompressor's output), for the tar reader. */
export class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes; `undefined` at the end of the stream; throws when it ends part-way. */
  async read(n: number): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    await this.#fill(n);
    if (this.#buffered === 0 && this.#ended) return undefined;
    if (this.#buffered < n) throw new Error(`the stream ended ${n - this.#buffered} bytes short`);
    return this.#take(n);
  }

  /** Between 1 and `max` bytes (whatever is at hand); throws at the end of the stream. */
  async readSome(max: number): Promise<Buffer> {
    if (this.#buffered === 0) await this.#fill(1);
    if (this.#buffered === 0) throw new Error('the stream ended early');
    return this.#take(Math.min(max, this.#chunks[0]!.length));
  }

  /** Skips `n` bytes. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) left -= (await this.readSome(left)).length;
  }

  /** Reads and drops the rest of the stream (so a producer writing into a pipe can finish). */
  async drain(): Promise<void> {
    this.#chunks.length = 0;
    this.#buffered = 0;
    while (!this.#ended) {
      const next = await this.#source.next();
      if (next.done) this.#ended = true;
    }
  }

  async #fill(n: number): Promise<void> {
    while (this.#buffered < n && !this.#ended) {
      const next = await this.#source.next();
      if (next.done) {
        this.#ended = true;
        break;
      }
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, part);
      offset += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.#buffered -= n;
    return out;
  }
}
