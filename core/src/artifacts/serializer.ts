import { addExtension, Packr } from 'msgpackr';
import { TributaryError } from '../errors.ts';

// Without records, msgpackr writes both plain objects and Maps as msgpack maps, so a Map would
// come back as an object. Records would tell them apart but make the bytes depend on earlier
// calls (fatal for content addressing). So while packing, each Map is briefly re-prototyped to
// this subclass, which msgpackr routes through our extension; the prototype is restored right
// after, synchronously, before any other code can observe it.
class TaggedMap extends Map<unknown, unknown> {}
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

/**
 * A readable description of any value's kind, for messages: `a generator object`, `an instance
 * of class Model`, `an instance of an anonymous class`, `a string`...
 * @internal
 */
export function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (Array.isArray(value)) return 'an array';
  // The tag names what the language made (Generator, Array Iterator...) even when no class does.
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (tag === 'Generator') return 'a generator object';
  if (tag === 'AsyncGenerator') return 'an async generator object';
  if (tag.endsWith('Iterator')) return `an iterator (${tag})`;
  const proto = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return 'a plain object';
  const name = Object.prototype.hasOwnProperty.call(proto, 'constructor') ? (proto.constructor as Function | undefined)?.name : undefined;
  if (typeof name === 'string' && name !== '') return `an instance of class ${name}`;
  return 'an instance of an anonymous class';
}

/**
 * How deeply containers may nest. msgpackr encodes recursively; a Map costs it about three levels
 * of recursion and a Set two, so they count as that many. The limit keeps a comfortable margin
 * below the default stack, so whether a value stores does not depend on where it is encoded.
 * @internal
 */
export const MAX_NESTING = 1000;

function unserializable(site: ValueSite, path: string, what: string, hint: string): TributaryError {
  // A path hundreds of levels deep helps no one: keep its start, which locates the value.
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  const where = path ? ` at ${site.artifact}${shown}` : '';
  return new TributaryError(
    'SERIALIZATION',
    `Artifact '${site.artifact}'${site.step ? ` of step ${site.step}` : ''} cannot be stored: ${what}${where}. ${hint}`,
    { context: { step: site.step, artifact: site.artifact, path: `${site.artifact}${shown}` } },
  );
}

const tooDeep = (site: ValueSite, path: string) =>
  unserializable(
    site,
    path,
    `it is nested too deeply (more than ${MAX_NESTING} levels of objects and arrays; a Map counts as 3 levels, a Set as 2)`,
    'Store deep structures flattened: e.g. a linked list as an array, a tree as a list of nodes with parent indices.',
  );

const ALLOWED_CLASSES = new Set([Date, RegExp, Map, Set, Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]);

/** What the pre-scan found. `rewrite`: the value holds something msgpackr would not round-trip as is. */
interface Scan {
  maps: Map<unknown, unknown>[];
  rewrite: boolean;
}

const isNegZero = (n: number) => n === 0 && 1 / n < 0;

// How a path step is written (plain numbers, not an enum: the sources also run type-stripped).
const PathStep = { Index: 0, Property: 1, MapKey: 2, MapValue: 3, SetItem: 4 } as const;
type PathStep = (typeof PathStep)[keyof typeof PathStep];

function formatStep(kind: PathStep, key: unknown): string {
  switch (kind) {
    case PathStep.Index:
      return `[${key as number}]`;
    case PathStep.Property:
      return /^[A-Za-z_$][\w$]*$/.test(key as string) ? `.${key as string}` : `[${JSON.stringify(key)}]`;
    case PathStep.MapKey:
      return `.<key ${key as number}>`;
    case PathStep.MapValue:
      return `.get(${typeof key === 'string' ? JSON.stringify(key) : String(key)})`;
    default:
      return `.<item ${key as number}>`;
  }
}

/**
 * Reject what cannot round-trip, naming the path inside the value, and note the rare values
 * (-0, a `__proto__` key, a frozen or sealed Map) that need the rewriting encoder. The path is
 * built only for an error: a scan of a large array allocates nothing per item.
 */
function validate(value: unknown, site: ValueSite): Scan {
  const stack = new Set<object>();
  let depth = 0;
  // The path as parallel stacks of (kind, key), formatted only when an error needs it.
  const kinds: PathStep[] = [];
  const keys: unknown[] = [];
  const enter = (kind: PathStep, key: unknown) => {
    kinds.push(kind);
    keys.push(key);
  };
  const leave = () => {
    kinds.pop();
    keys.pop();
  };
  const pathOf = () => kinds.map((k, i) => formatStep(k, keys[i])).join('');
  const scan: Scan = { maps: [], rewrite: false };
  const visit = (v: unknown): void => {
    switch (typeof v) {
      case 'number':
        if (isNegZero(v)) scan.rewrite = true;
        return;
      case 'function':
        throw unserializable(
          site,
          pathOf(),
          `a function (${(v as Function).name || 'anonymous'})`,
          'Store data, not code: compute the value, or keep the function in your module.',
        );
      case 'symbol':
        throw unserializable(site, pathOf(), 'a symbol', 'Use a string instead.');
      case 'object': {
        if (v === null) return;
        if (ArrayBuffer.isView(v)) {
          if (v instanceof DataView) throw unserializable(site, pathOf(), 'a DataView', 'Store a Uint8Array over the same buffer instead.');
          return;
        }
        if (stack.has(v))
          throw unserializable(site, pathOf(), 'a circular reference', 'Artifacts must be trees: remove the back-reference.');
        const proto = Object.getPrototypeOf(v);
        const plain = proto === null || proto === Object.prototype || Array.isArray(v);
        if (!plain && !ALLOWED_CLASSES.has(proto.constructor)) throw notData(site, pathOf(), v);
        const weight = v instanceof Map ? 3 : v instanceof Set ? 2 : 1;
        depth += weight;
        if (depth > MAX_NESTING) throw tooDeep(site, pathOf());
        stack.add(v);
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            if (typeof item === 'number') {
              if (isNegZero(item)) scan.rewrite = true;
            } else if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') {
              enter(PathStep.Index, i);
              visit(item);
              leave();
            }
          }
        } else if (v instanceof Map) {
          scan.maps.push(v);
          // A frozen, sealed or non-extensible Map cannot be re-prototyped for the Map extension.
          if (!Object.isExtensible(v)) scan.rewrite = true;
          let i = 0;
          for (const [k, item] of v) {
            enter(PathStep.MapKey, i);
            visit(k);
            leave();
            enter(PathStep.MapValue, k);
            visit(item);
            leave();
            i++;
          }
        } else if (v instanceof Set) {
          let i = 0;
          for (const item of v) {
            enter(PathStep.SetItem, i++);
            visit(item);
            leave();
          }
        } else if (!(v instanceof Date || v instanceof RegExp || v instanceof Error)) {
          for (const key of Object.keys(v)) {
            if (key === '__proto__') scan.rewrite = true;
            enter(PathStep.Property, key);
            visit((v as Record<string, unknown>)[key]);
            leave();
          }
        }
        stack.delete(v);
        depth -= weight;
        return;
      }
      default:
        return;
    }
  };
  visit(value);
  return scan;
}

function notData(site: ValueSite, path: string, v: object): TributaryError {
  if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) {
    return unserializable(site, path, 'an ArrayBuffer', 'Wrap it: new Uint8Array(buffer).');
  }
  if (v instanceof Promise) return unserializable(site, path, 'a Promise', 'Await it before assigning the artifact.');
  if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
    return unserializable(site, path, `a ${typeName(v)}`, 'Weak collections hold no storable data: use a Map or Set.');
  }
  const kind = describeKind(v);
  if (kind.includes('generator') || kind.startsWith('an iterator')) {
    return unserializable(site, path, kind, 'Store its items instead: [...iterator] (an iterator is consumed as it is read).');
  }
  return unserializable(
    site,
    path,
    kind,
    'Artifacts are plain data (objects, arrays, Map, Set, Date, BigInt, typed arrays, Buffers) and are never revived with code: convert it to a plain object first.',
  );
}

// The rewriting encoder: values msgpackr alone would change are replaced, in a copy, by
// placeholders whose extensions write the exact form. Only values that hold such a case pay.

/** Stands for -0, which msgpackr writes as the integer 0. Written as a standard float64 -0. */
class NegativeZero {}
const NEGATIVE_ZERO = new NegativeZero();
addExtension({
  Class: NegativeZero,
  type: 85, // never appears in the bytes: the value is written as a plain msgpack float64
  pack(_value: unknown, allocate: (size: number) => { target: Uint8Array; position: number }) {
    const { target, position } = allocate(9);
    target.set([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], position);
  },
} as never);

/**
 * An object with an own `__proto__` key: msgpackr renames that key on read (to keep the
 * prototype safe), so such objects are written as their flat key/value list and rebuilt with
 * defineProperty, which makes an own property and never touches a prototype.
 */
class KeyedObject {
  constructor(readonly entries: unknown[]) {}
}
const OBJECT_EXT = 86;
addExtension({
  Class: KeyedObject,
  type: OBJECT_EXT,
  write: (o: KeyedObject) => o.entries,
  read: (flat: unknown[]) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      Object.defineProperty(out, String(flat[i]), { value: flat[i + 1], writable: true, enumerable: true, configurable: true });
    }
    return out;
  },
});

/** A copy of a validated value with the placeholders in; what it shares with the value is never changed. */
function rewrite(v: unknown): unknown {
  if (typeof v === 'number') return isNegZero(v) ? NEGATIVE_ZERO : v;
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof Date || v instanceof RegExp || v instanceof Error)
    return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = rewrite(v[i]);
    return out;
  }
  if (v instanceof Map) return new TaggedMap([...v].map(([k, item]) => [rewrite(k), rewrite(item)]));
  if (v instanceof Set) return new Set([...v].map(rewrite));
  const keys = Object.keys(v);
  if (keys.includes('__proto__')) return new KeyedObject(keys.flatMap((k) => [k, rewrite((v as Record<string, unknown>)[k])]));
  const out: Record<string, unknown> = Object.getPrototypeOf(v) === null ? Object.create(null) : {};
  for (const k of keys) out[k] = rewrite((v as Record<string, unknown>)[k]);
  return out;
}

/** Pack values that passed `validate`, by the fast or the rewriting path as the scan says. */
function packAll<T>(values: readonly unknown[], scan: Scan, site: ValueSite, each: (bytes: Buffer[]) => T): T {
  try {
    if (scan.rewrite) return each(values.map((v) => packr.pack(rewrite(v))));
    return withTaggedMaps(scan.maps, () => each(values.map((v) => packr.pack(v))));
  } catch (err) {
    // Within MAX_NESTING the encoder's recursion fits the stack unless the caller is itself deep
    // in recursion: name the artifact rather than let a bare RangeError out.
    if (err instanceof RangeError && /call stack/i.test(err.message)) throw tooDeep(site, '');
    throw err;
  }
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
  const scan = validate(value, site);
  return { bytes: packAll([value], scan, site, ([bytes]) => bytes!), encoding: 'msgpack', type: typeName(value) };
}

/**
 * Encode an array so that each item's bytes are a known slice of the whole: the result decodes
 * as the array, and item i decodes from `bytes.subarray(offsets[i], offsets[i] + lengths[i])`.
 * @internal
 */
export function encodeArrayItems(items: readonly unknown[], site: ValueSite): { bytes: Uint8Array; offsets: number[]; lengths: number[] } {
  const scan = validate(items, site);
  const parts = packAll(items, scan, site, (p) => p);
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
