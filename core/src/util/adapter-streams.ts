import { addAbortSignal, type Readable } from 'node:stream';

/**
 * An SDK's download stream as the Datastore port's `getStream` result: destroyed when `signal`
 * aborts, and every failure (the abort included) passed through the adapter's error mapping, so
 * callers only ever see typed errors. Shared by the object-store adapters.
 * @public
 */
export async function* portStream(
  body: Readable,
  signal: AbortSignal | undefined,
  mapError: (err: unknown) => unknown,
): AsyncIterable<Uint8Array> {
  if (signal) addAbortSignal(signal, body);
  try {
    for await (const chunk of body) yield chunk as Uint8Array;
  } catch (err) {
    throw mapError(err);
  }
}

/** A stream with no bytes (an empty object, or a range past its end). @public */
export async function* emptyStream(): AsyncIterable<Uint8Array> {}
