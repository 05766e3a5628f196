import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TributaryError, type SerializedError, deserializeError } from '../errors.ts';
import type { ByteRange } from '../ports/datastore.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';

/**
 * Synchronous reads from any datastore. A step reads artifacts lazily and synchronously
 * (`this.x`); a remote datastore only reads asynchronously. This runs the async read on a helper
 * thread (which opens the same datastore from its locator) and blocks the step's thread on a
 * shared flag until the bytes arrive. Prefetching covers what the step's source names; this is
 * the fallback for the rest, so every read is correct.
 * @internal
 */
export class SyncReader {
  private worker?: Worker;
  private port?: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 0;

  constructor(private readonly locator: AdapterLocator) {}

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(new URL('./sync-reader-thread.mjs', import.meta.url), {
      workerData: { locator: this.locator, port: port2, flag: this.flag },
      transferList: [port2],
    });
    this.worker.unref();
    this.port = port1;
  }

  read(key: string, range?: ByteRange): Uint8Array {
    if (!this.worker) this.start();
    const id = ++this.nextId;
    Atomics.store(this.flag, 0, 0);
    this.port!.postMessage({ id, key, range });
    // Block this thread until the helper has answered (it sets the flag after posting).
    if (Atomics.wait(this.flag, 0, 0, 300_000) === 'timed-out') {
      throw new TributaryError('INFRASTRUCTURE', `Synchronous read of ${key} timed out after 300 s.`, { retryable: true });
    }
    const msg = receiveMessageOnPort(this.port!)?.message as { id: number; bytes?: Uint8Array; error?: SerializedError } | undefined;
    if (!msg || msg.id !== id) throw new TributaryError('INFRASTRUCTURE', `Synchronous read of ${key} got no answer.`);
    if (msg.error) throw deserializeError(msg.error);
    return msg.bytes!;
  }

  async close(): Promise<void> {
    this.port?.close();
    await this.worker?.terminate();
  }
}
