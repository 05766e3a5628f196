import { afterAll, describe, expect, test } from 'vitest';
import { SyncReader } from '../src/artifacts/sync-reader.ts';
import { TributaryError } from '../src/index.ts';

const reader = new SyncReader({
  module: new URL('./fixtures/issue9-failing-datastore.ts', import.meta.url).href,
  factory: 'createFailingDatastore',
  options: {},
});
afterAll(() => reader.close());

function failure(key: string): TributaryError {
  try {
    reader.read(key);
  } catch (err) {
    expect(TributaryError.is(err)).toBe(true);
    return err as TributaryError;
  }
  throw new Error(`read of ${key} did not fail`);
}

describe('issue 9 item 13: the sync-reader thread maps only known error codes', () => {
  test('issue 9 item 13: ECONNRESET becomes a retryable INFRASTRUCTURE error that keeps the cause text', () => {
    expect(Buffer.from(reader.read('fine')).toString()).toBe('fine');
    const err = failure('reset');
    expect(err).toMatchObject({
      code: 'INFRASTRUCTURE',
      retryable: true,
      context: { key: 'reset', adapter: 'failing', causeCode: 'ECONNRESET' },
    });
    expect(err.message).toContain('ECONNRESET');
    expect(err.message).toContain('socket hang up');
  });

  test('issue 9 item 13: an unknown code or a plain error is INFRASTRUCTURE, not retryable, never a code of its own', () => {
    expect(failure('odd')).toMatchObject({ code: 'INFRASTRUCTURE', retryable: false });
    expect(failure('odd').message).toContain('SOMETHING_ODD: something odd');
    const plain = failure('plain');
    expect(plain).toMatchObject({ code: 'INFRASTRUCTURE', retryable: false });
    expect(plain.message).toContain('boom');
    expect(plain.message).not.toContain('pw-issue9');
  });

  test('issue 9 item 13: a TributaryError keeps its code and context', () => {
    expect(failure('typed')).toMatchObject({ code: 'NOT_FOUND', retryable: false, context: { key: 'typed' } });
  });
});
