import { randomBytes } from 'node:crypto';
import { describe, test } from 'vitest';
import { ArtifactStore, type Datastore } from '@tributary/core';
import { checkProperty, propertyParams, rejectsWith, skipReason, type PropertySettings } from '../common.ts';
import { datastoreModelProperty } from './datastore-model.ts';

/**
 * Reads what an adapter really stored, bypassing the adapter (raw filesystem, SDK or SQL).
 * `undefined` means nothing is stored under the key.
 * @public
 */
export interface DatastoreInspector {
  read(datastore: Datastore, key: string): Promise<Uint8Array | undefined>;
}

/** @public */
export interface DatastoreConformanceOptions {
  /** Shown in test names. Default: the adapter's `name`. */
  name?: string;
  /** A fresh, isolated, empty datastore (its own folder, bucket prefix or container). */
  factory: () => Datastore | Promise<Datastore>;
  /** Remove what a datastore from `factory` left behind (called after each test). */
  cleanup?: (datastore: Datastore) => void | Promise<void>;
  inspect?: DatastoreInspector;
  properties?: PropertySettings;
  /** Keys written by the listing test (default 230). Lower it for slow emulators. */
  manyKeys?: number;
  /** Set false when the adapter's `capabilities.prefixObjects` is false (the model then uses keys that are never prefixes of others). */
  prefixObjects?: boolean;
}

const enc = (s: string) => new TextEncoder().encode(s);
const same = (a: Uint8Array, b: Uint8Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

async function listAll(ds: Datastore, prefix: string, limit: number): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await ds.list(prefix, { limit, ...(cursor ? { cursor } : {}) });
    keys.push(...page.keys);
    cursor = page.cursor;
    pages++;
    if (pages > 10_000) throw new Error('list never ends: the cursor does not advance');
  } while (cursor);
  return { keys, pages };
}

/**
 * The Datastore conformance suite. Call it at the top level of a vitest test file:
 *
 * ```ts
 * datastoreConformance({ factory: () => createMyDatastore({ prefix: randomPrefix() }) });
 * ```
 * Groups that need an optional capability run only when the adapter declares it; a skipped group
 * prints why.
 * @public
 */
export function datastoreConformance(options: DatastoreConformanceOptions): void {
  const suite = `Datastore conformance${options.name ? `: ${options.name}` : ''}`;
  const props = propertyParams(options.properties, 25);

  async function withStore(fn: (ds: Datastore) => Promise<void>): Promise<void> {
    const ds = await options.factory();
    try {
      await fn(ds);
    } finally {
      await ds.close().catch(() => undefined);
      await options.cleanup?.(ds);
    }
  }

  describe(suite, () => {
    describe('bytes round trip', () => {
      for (const [label, size] of [
        ['empty', 0],
        ['1 byte', 1],
        ['64 KiB', 64 * 1024],
        ['9 MiB (larger than a typical part)', 9 * 1024 * 1024],
      ] as const) {
        test(`put then get returns the same bytes: ${label}`, ({ expect }) =>
          withStore(async (ds) => {
            const bytes = randomBytes(size);
            expect(await ds.put('rt/blob', bytes)).toEqual({ created: true });
            expect(same(await ds.get('rt/blob'), bytes)).toBe(true);
            expect(await ds.head('rt/blob')).toEqual({ size });
            if (options.inspect) expect(same((await options.inspect.read(ds, 'rt/blob'))!, bytes)).toBe(true);
          }));
      }

      test('putStream of chunks of unknown total length, read back whole and as a stream', ({ expect }) =>
        withStore(async (ds) => {
          const chunks = [randomBytes(1), randomBytes(70_000), randomBytes(0), randomBytes(3 * 1024 * 1024 + 7)];
          async function* body() {
            for (const c of chunks) yield c;
          }
          expect(await ds.putStream('stream/blob', body())).toEqual({ created: true });
          const whole = Buffer.concat(chunks);
          expect(same(await ds.get('stream/blob'), whole)).toBe(true);
          expect(same(await collect(await ds.getStream('stream/blob')), whole)).toBe(true);
          if (options.inspect) expect(same((await options.inspect.read(ds, 'stream/blob'))!, whole)).toBe(true);
        }));

      test('put replaces an existing value atomically', ({ expect }) =>
        withStore(async (ds) => {
          await ds.put('k', enc('first'));
          await ds.put('k', enc('second value'));
          expect(Buffer.from(await ds.get('k')).toString()).toBe('second value');
        }));

      test('put with ifAbsent never replaces', ({ expect }) =>
        withStore(async (ds) => {
          expect(await ds.put('once', enc('a'), { ifAbsent: true })).toEqual({ created: true });
          expect(await ds.put('once', enc('b'), { ifAbsent: true })).toEqual({ created: false });
          expect(Buffer.from(await ds.get('once')).toString()).toBe('a');
        }));

      test('concurrent puts of one key leave exactly one complete value (when capabilities.atomicOverwrite)', ({ expect, skip }) =>
        withStore(async (ds) => {
          if (ds.capabilities.atomicOverwrite === false) {
            skipReason(
              suite,
              'concurrent different values',
              'capabilities.atomicOverwrite is false: concurrent writers of different bytes may interleave; the identical-bytes case below still runs',
            );
            skip();
          }
          const values = Array.from({ length: 16 }, (_, i) => Buffer.alloc(200_000 + i, i + 1));
          await Promise.all(values.map((v) => ds.put('race', v)));
          const got = Buffer.from(await ds.get('race'));
          expect(values.some((v) => v.equals(got))).toBe(true);
        }));

      test('concurrent puts of identical bytes to one key (what content addressing does) leave those bytes', ({ expect }) =>
        withStore(async (ds) => {
          const bytes = randomBytes(300_000);
          await Promise.all(Array.from({ length: 8 }, () => ds.put('same', bytes)));
          expect(same(await ds.get('same'), bytes)).toBe(true);
        }));

      test('a caller changing its buffer after put does not change what is stored', ({ expect }) =>
        withStore(async (ds) => {
          const bytes = Buffer.from('original');
          await ds.put('copy', bytes);
          bytes.write('mutated!');
          expect(Buffer.from(await ds.get('copy')).toString()).toBe('original');
        }));
    });

    describe('atomic put-if-absent', () => {
      test('of 12 concurrent ifAbsent puts of one key, exactly one creates it (when capabilities.conditionalPut)', async ({
        expect,
        skip,
      }) => {
        const ds = await options.factory();
        try {
          if (!ds.capabilities.conditionalPut) {
            skipReason(
              suite,
              'atomic put-if-absent',
              'capabilities.conditionalPut is false: the backend ignores conditional writes, so dedupe may write twice (harmless for content-addressed blobs)',
            );
            skip();
          }
          const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ds.put('cas', enc(`v${i}`), { ifAbsent: true })));
          expect(results.filter((r) => r.created)).toHaveLength(1);
        } finally {
          await ds.close().catch(() => undefined);
          await options.cleanup?.(ds);
        }
      });
    });

    describe('ranges', () => {
      test('get with a range returns exactly that slice (when capabilities.rangeReads)', async ({ expect, skip }) => {
        const ds = await options.factory();
        try {
          if (!ds.capabilities.rangeReads) {
            skipReason(suite, 'ranges', 'capabilities.rangeReads is false');
            skip();
          }
          const bytes = randomBytes(100_000);
          await ds.put('r', bytes);
          for (const [offset, length] of [
            [0, 1],
            [0, 100_000],
            [12_345, 6_789],
            [99_999, 1],
            [50_000, 0],
          ] as const) {
            expect(same(await ds.get('r', { range: { offset, length } }), bytes.subarray(offset, offset + length))).toBe(true);
          }
          expect(same(await ds.get('r', { range: { offset: 99_990, length: 100 } }), bytes.subarray(99_990))).toBe(true);
          expect(same(await collect(await ds.getStream('r', { range: { offset: 10, length: 70_000 } })), bytes.subarray(10, 70_010))).toBe(
            true,
          );
        } finally {
          await ds.close().catch(() => undefined);
          await options.cleanup?.(ds);
        }
      });

      test('getStream of empty objects, empty ranges and ranges past the end yields no bytes (when capabilities.rangeReads)', async ({
        expect,
        skip,
      }) => {
        const ds = await options.factory();
        try {
          if (!ds.capabilities.rangeReads) {
            skipReason(suite, 'empty ranges', 'capabilities.rangeReads is false');
            skip();
          }
          await ds.put('empty', new Uint8Array(0));
          await ds.put('ten', enc('0123456789'));
          expect((await collect(await ds.getStream('empty'))).byteLength).toBe(0);
          expect((await collect(await ds.getStream('empty', { range: { offset: 0, length: 4 } }))).byteLength).toBe(0);
          expect((await collect(await ds.getStream('ten', { range: { offset: 3, length: 0 } }))).byteLength).toBe(0);
          expect((await collect(await ds.getStream('ten', { range: { offset: 8, length: 10 } }))).toString()).toBe('89');
          expect((await collect(await ds.getStream('ten', { range: { offset: 12, length: 1 } }))).byteLength).toBe(0);
          await rejectsWith(ds.getStream('missing', { range: { offset: 0, length: 0 } }), 'NOT_FOUND');
        } finally {
          await ds.close().catch(() => undefined);
          await options.cleanup?.(ds);
        }
      });
    });

    describe('missing keys and deletes', () => {
      test('get, getStream and readSync of a missing key throw NOT_FOUND; head resolves undefined', ({ expect }) =>
        withStore(async (ds) => {
          await rejectsWith(ds.get('nope/missing'), 'NOT_FOUND');
          await rejectsWith(ds.getStream('nope/missing'), 'NOT_FOUND');
          if (ds.readSync) await rejectsWith(() => ds.readSync!('nope/missing'), 'NOT_FOUND');
          expect(await ds.head('nope/missing')).toBeUndefined();
        }));

      test('delete removes; deleting a missing key is not an error', ({ expect }) =>
        withStore(async (ds) => {
          await ds.put('d/x', enc('x'));
          await ds.delete('d/x');
          await ds.delete('d/x');
          await ds.delete('d/never');
          expect(await ds.head('d/x')).toBeUndefined();
          await rejectsWith(ds.get('d/x'), 'NOT_FOUND');
          expect((await ds.list('d/')).keys).toEqual([]);
          if (options.inspect) expect(await options.inspect.read(ds, 'd/x')).toBeUndefined();
        }));
    });

    describe('listing', () => {
      test('list by prefix is complete, ordered and free of duplicates across pages', ({ expect }) =>
        withStore(async (ds) => {
          const n = options.manyKeys ?? 230;
          const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(4, '0')}/${i % 3 === 0 ? 'a' : 'b'}`);
          for (let i = 0; i < keys.length; i += 25) await Promise.all(keys.slice(i, i + 25).map((k) => ds.put(k, enc(k))));
          await ds.put('manyother', enc('outside the prefix'));
          const prefixObjects = ds.capabilities.prefixObjects !== false;
          if (prefixObjects) await ds.put('many', enc('the prefix itself without slash'));
          else skipReason(suite, 'a key that is also a prefix', 'capabilities.prefixObjects is false');
          const { keys: listed, pages } = await listAll(ds, 'many/', 7);
          expect(listed).toEqual([...keys].sort());
          expect(pages).toBeGreaterThanOrEqual(Math.ceil(n / 7));
          expect((await listAll(ds, 'many/000', 1000)).keys).toEqual(keys.filter((k) => k.startsWith('many/000')).sort());
          expect((await listAll(ds, 'many', 1000)).keys).toHaveLength(n + (prefixObjects ? 2 : 1));
          expect((await ds.list('none/')).keys).toEqual([]);
        }));

      test('a page never exceeds the limit asked for', ({ expect }) =>
        withStore(async (ds) => {
          await Promise.all(Array.from({ length: 12 }, (_, i) => ds.put(`p/${i}`, enc('x'))));
          const page = await ds.list('p/', { limit: 5 });
          expect(page.keys.length).toBeLessThanOrEqual(5);
          expect(page.cursor).toBeDefined();
        }));
    });

    describe('key validation', () => {
      test('keys that could escape the store are rejected with INVALID_KEY, and nothing is written', ({ expect }) =>
        withStore(async (ds) => {
          for (const key of ['../escape', 'a/../../b', '/abs', 'a//b', '', 'a/./b', 'sp ace', 'a\\b', 'nul\u0000', '..']) {
            await rejectsWith(ds.put(key, enc('x')), 'INVALID_KEY');
            await rejectsWith(ds.get(key), 'INVALID_KEY');
          }
          expect((await ds.list('')).keys).toEqual([]);
        }));
    });

    describe('optional read paths', () => {
      test('readSync matches get (when capabilities.syncRead)', async ({ expect, skip }) => {
        const ds = await options.factory();
        try {
          if (!ds.capabilities.syncRead || !ds.readSync) {
            skipReason(suite, 'readSync', 'capabilities.syncRead is false');
            skip();
          }
          const bytes = randomBytes(5000);
          await ds.put('s', bytes);
          expect(same(ds.readSync!('s'), bytes)).toBe(true);
          expect(same(ds.readSync!('s', { offset: 100, length: 50 }), bytes.subarray(100, 150))).toBe(true);
        } finally {
          await ds.close().catch(() => undefined);
          await options.cleanup?.(ds);
        }
      });

      test('get reports its bytes in order through onData (when capabilities.readProgress)', async ({ expect, skip }) => {
        const ds = await options.factory();
        try {
          if (!ds.capabilities.readProgress) {
            skipReason(suite, 'onData', 'capabilities.readProgress is false');
            skip();
          }
          const bytes = randomBytes(20 * 1024 * 1024 + 3);
          await ds.put('progress', bytes);
          const parts: Buffer[] = [];
          const got = await ds.get('progress', { onData: (p) => parts.push(Buffer.from(p)) });
          expect(same(got, bytes)).toBe(true);
          expect(Buffer.concat(parts).equals(bytes)).toBe(true);
        } finally {
          await ds.close().catch(() => undefined);
          await options.cleanup?.(ds);
        }
      });
    });

    describe('content addressing (the core on this adapter)', () => {
      test('a blob changed behind the core reads as INTEGRITY, and a new write of the same value replaces it', ({ expect }) =>
        withStore(async (ds) => {
          // What the core's repair relies on: head reports the stored size, and a put without
          // ifAbsent replaces an existing object (of the same size, or not).
          const value = { weights: [0.5, 1.5], note: 'conformance '.repeat(40) };
          const ref = await new ArtifactStore(ds, 'Conformance').save('model', value);
          const key = new ArtifactStore(ds, 'Conformance').blobKey(ref.sha);
          const stored = Uint8Array.from(await ds.get(key));
          const flipped = Uint8Array.from(stored);
          flipped[5] = flipped[5]! ^ 0xff;
          for (const corrupt of [flipped, stored.subarray(0, 7)]) {
            await ds.put(key, corrupt);
            await rejectsWith(new ArtifactStore(ds, 'Conformance').load(ref), 'INTEGRITY');
            await new ArtifactStore(ds, 'Conformance').save('model', value);
            expect(await new ArtifactStore(ds, 'Conformance').load(ref)).toEqual(value);
            if (options.inspect) expect(same((await options.inspect.read(ds, key))!, stored)).toBe(true);
          }
        }));
    });

    describe('abort and close', () => {
      test('an aborted signal rejects with ABORTED', () =>
        withStore(async (ds) => {
          const ac = new AbortController();
          ac.abort(new Error('stop'));
          await rejectsWith(ds.put('a', enc('x'), { signal: ac.signal }), 'ABORTED');
          await rejectsWith(ds.get('a', { signal: ac.signal }), 'ABORTED');
          await rejectsWith(ds.list('', { signal: ac.signal }), 'ABORTED');
        }));

      test('every method of a closed datastore rejects with CLOSED', () =>
        withStore(async (ds) => {
          await ds.put('c', enc('x'));
          await ds.close();
          await rejectsWith(ds.put('c', enc('y')), 'CLOSED');
          await rejectsWith(ds.putStream('c', (async function* () {})()), 'CLOSED');
          await rejectsWith(ds.get('c'), 'CLOSED');
          await rejectsWith(ds.getStream('c'), 'CLOSED');
          await rejectsWith(ds.head('c'), 'CLOSED');
          await rejectsWith(ds.list(''), 'CLOSED');
          await rejectsWith(ds.delete('c'), 'CLOSED');
          if (ds.readSync) await rejectsWith(() => ds.readSync!('c'), 'CLOSED');
        }));
    });

    describe('model-based', () => {
      test(`random sequences of operations behave like the reference datastore (${props.numRuns} runs, seed ${props.seed})`, () =>
        checkProperty(datastoreModelProperty(options.factory, options.cleanup, options.prefixObjects), props));
    });
  });
}
