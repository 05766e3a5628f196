/** Turn a decoded artifact into JSON-safe data that still says what it was. @internal */
export function toJsonSafe(value: unknown, maxItems = 10_000): unknown {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof RegExp) return { $regexp: value.toString() };
  if (value instanceof Error) return { $error: value.name, message: value.message };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    return {
      $binary: Buffer.isBuffer(value) ? 'Buffer' : 'Uint8Array',
      size: value.byteLength,
      base64: Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, 4096)).toString('base64'),
      truncated: value.byteLength > 4096,
    };
  }
  if (ArrayBuffer.isView(value)) {
    const arr = Array.from(value as unknown as ArrayLike<number | bigint>).slice(0, maxItems);
    return {
      $typed: value.constructor.name,
      length: (value as unknown as ArrayLike<unknown>).length,
      values: arr.map((v) => toJsonSafe(v)),
    };
  }
  if (value instanceof Map) return { $map: [...value].slice(0, maxItems).map(([k, v]) => [toJsonSafe(k), toJsonSafe(v)]) };
  if (value instanceof Set) return { $set: [...value].slice(0, maxItems).map((v) => toJsonSafe(v)) };
  if (Array.isArray(value)) return value.slice(0, maxItems).map((v) => toJsonSafe(v));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSafe(v)]));
}
