import { addExtension, Packr } from 'msgpackr';
import { TributaryError } from '../errors.ts';

// Without records, msgpackr writes both plain objects and Maps as msgpack maps, so a Map would
// come back as an object. Records would tell them apart but make the bytes depend on earlier
// calls (fatal for content addressing). So while packing, each Map is briefly re-prototyped to
// this subclass, which msgpackr routes through our extension; the prototype is restored right
// after, synchronously, before any other code can observe it.
class TaggedMap extends Map {}
const MAP_EXT = 84; // 1-100 are free for applications; msgpackr reserves 101-127
addExtension({
  Class: TaggedMap,
  type: MAP_EXT,
  write: (map: Map<unknown, unknown>) => [...map],
  read: (entries: Array<[unknown, unknown]>) => new Map(entries),
});

function withTaggedMaps<T>(maps: Map<unknown, unknown>[], pack: () => T): T {
  for (const m of maps) Object.setPrototypeOf(m, TaggedMap.prototype);
  try {
    return pack();
  } finally {
    for (const m of maps) Object.setPrototypeOf(m, Map.prototype);
  }
}

// Records and structured clone are off: every value encodes on its own, so item encodings of an
// array concatenate into exactly the array's encoding (what lets a foreach split read only its item).
const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint', useBigIntExtension: true });

/** How an artifact's bytes decode. @public */
export type Encoding = 'msgpack' | 'raw';

/** @internal */
export interface Encoded {
  bytes: Uint8Array;
  encoding: Encoding;
  type: string;
}

/** Where a value came from, for error messages. @public */
export interface ValueSite {
  step?: string;
  artifact: string;
}

const TYPED_ARRAYS: Record<string, new (buf: ArrayBufferLike, offset: number, length: number) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Buffer.isBuffer(value)) return 'Buffer';
  const proto = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return 'object';
  return (proto.constructor?.name as string | undefined) ?? 'object';
}

function unserializable(site: ValueSite, path: string, what: string, hint: string): TributaryError {
  const where = path ? ` at ${site.artifact}${path}` : '';
  return new TributaryError(
    'SERIALIZATION',
    `Artifact '${site.artifact}'${site.step ? ` of step ${site.step}` : ''} cannot be stored: ${what}${where}. ${hint}`,
    { context: { step: site.step, artifact: site.artifact, path: `${site.artifact}${path}` } },
  );
}

const ALLOWED_CLASSES = new Set([Date, RegExp, Map, Set, Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]);

/** Reject what cannot round-trip, naming the path inside the value. Returns the Maps found. */
function validate(value: unknown, site: ValueSite): Map<unknown, unknown>[] {
  const stack = new Set<object>();
  const maps: Map<unknown, unknown>[] = [];
  const visit = (v: unknown, path: string): void => {
    switch (typeof v) {
      case 'function':
        throw unserializable(
          site,
          path,
          `a function (${(v as Function).name || 'anonymous'})`,
          'Store data, not code: compute the value, or keep the function in your module.',
        );
      case 'symbol':
        throw unserializable(site, path, 'a symbol', 'Use a string instead.');
      case 'object': {
        if (v === null) return;
        if (ArrayBuffer.isView(v)) {
          if (v instanceof DataView) throw unserializable(site, path, 'a DataView', 'Store a Uint8Array over the same buffer instead.');
          return;
        }
        if (stack.has(v)) throw unserializable(site, path, 'a circular reference', 'Artifacts must be trees: remove the back-reference.');
        const proto = Object.getPrototypeOf(v);
        const plain = proto === null || proto === Object.prototype || Array.isArray(v);
        if (!plain && !ALLOWED_CLASSES.has(proto.constructor)) {
          if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) {
            throw unserializable(site, path, 'an ArrayBuffer', 'Wrap it: new Uint8Array(buffer).');
          }
          if (v instanceof Promise) throw unserializable(site, path, 'a Promise', 'Await it before assigning the artifact.');
          if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
            throw unserializable(site, path, `a ${typeName(v)}`, 'Weak collections hold no storable data: use a Map or Set.');
          }
          throw unserializable(
            site,
            path,
            `an instance of class ${typeName(v)}`,
            'Artifacts are plain data (objects, arrays, Map, Set, Date, BigInt, typed arrays, Buffers) and are never revived with code: convert it to a plain object first.',
          );
        }
        stack.add(v);
        if (Array.isArray(v)) v.forEach((item, i) => visit(item, `${path}[${i}]`));
        else if (v instanceof Map) {
          maps.push(v);
          let i = 0;
          for (const [k, item] of v) {
            visit(k, `${path}.<key ${i}>`);
            visit(item, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : String(k)})`);
            i++;
          }
        } else if (v instanceof Set) {
          let i = 0;
          for (const item of v) visit(item, `${path}.<item ${i++}>`);
        } else if (!(v instanceof Date || v instanceof RegExp || v instanceof Error)) {
          for (const key of Object.keys(v))
            visit(
              (v as Record<string, unknown>)[key],
              /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`,
            );
        }
        stack.delete(v);
        return;
      }
      default:
        return;
    }
  };
  visit(value, '');
  return maps;
}

/**
 * Encode a value for storage. Top-level binary values (Buffer, Uint8Array, typed arrays) are
 * stored raw, as a view over the same memory: no copy. Everything else is msgpack.
 * @internal
 */
export function encodeValue(value: unknown, site: ValueSite): Encoded {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return {
      bytes: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
      encoding: 'raw',
      type: typeName(value),
    };
  }
  const maps = validate(value, site);
  return { bytes: withTaggedMaps(maps, () => packr.pack(value)), encoding: 'msgpack', type: typeName(value) };
}

/**
 * Encode an array so that each item's bytes are a known slice of the whole: the result decodes
 * as the array, and item i decodes from `bytes.subarray(offsets[i], offsets[i] + lengths[i])`.
 * @internal
 */
export function encodeArrayItems(items: readonly unknown[], site: ValueSite): { bytes: Uint8Array; offsets: number[]; lengths: number[] } {
  const maps = validate(items, site);
  const parts = withTaggedMaps(maps, () => items.map((item) => packr.pack(item)));
  const n = items.length;
  const header =
    n < 16
      ? Buffer.from([0x90 | n])
      : n < 0x10000
        ? Buffer.from([0xdc, n >> 8, n & 0xff])
        : Buffer.from([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  const offsets: number[] = [];
  const lengths: number[] = [];
  let pos = header.length;
  for (const p of parts) {
    offsets.push(pos);
    lengths.push(p.length);
    pos += p.length;
  }
  return { bytes: Buffer.concat([header, ...parts], pos), offsets, lengths };
}

/** Decode an artifact's stored bytes given its recorded encoding and type. @public */
export function decodeValue(bytes: Uint8Array, encoding: string, type: string): unknown {
  if (encoding === 'msgpack') return packr.unpack(bytes);
  if (encoding === 'raw') {
    if (type === 'Buffer') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const Ctor = TYPED_ARRAYS[type];
    if (!Ctor) throw new TributaryError('SERIALIZATION', `Unknown raw artifact type '${type}'.`);
    const size = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    // A typed array needs its offset aligned to its element size; copy only when it is not.
    const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
    return new Ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
  }
  throw new TributaryError('SERIALIZATION', `Unknown artifact encoding '${encoding}': this artifact was written by a newer Tributary.`);
}

/** True when a decoded value may be mutated in place (so a step's changes to it must be re-saved). @internal */
export function isMutable(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}
