import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { openConfiguredAdapter, redactUrl, safeCause, TributaryError } from '../src/index.ts';

const params = { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 300) };
// Anything a careless password may hold except whitespace, always with a marker that no other
// part of the test URLs contains.
const secret = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019/?#@:%+=!$&*()[]"\'`~^'.split('')), minLength: 0, maxLength: 16 })
  .map((s) => `Q7${s}Z`);

describe('issue 9 item 14: URLs are redacted wherever they are echoed', () => {
  test('issue 9 item 14: the malformed Postgres URL of the report keeps its user and loses its password', () => {
    const url = 'postgres://alice:hunter2-pw@127.0.0.1:notaport/mldb';
    expect(() => new URL(url)).toThrow();
    expect(redactUrl(url)).toBe('postgres://alice:***@127.0.0.1:notaport/mldb');
    expect(redactUrl(`Invalid metadata URL "${url}": expected…`)).toBe(
      'Invalid metadata URL "postgres://alice:***@127.0.0.1:notaport/mldb": expected…',
    );
  });

  test('issue 9 item 14: query-string and connection-string secrets are redacted, other parameters stay', () => {
    expect(redactUrl('postgres://h/db?sslmode=require&password=pw1&user=bob')).toBe(
      'postgres://h/db?sslmode=require&password=***&user=bob',
    );
    expect(redactUrl('https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=abc%2Bdef%3D')).toBe(
      'https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=***',
    );
    expect(redactUrl('DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=Eby8vdM0==;BlobEndpoint=http://127.0.0.1:1/dev;')).toBe(
      'DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=***;BlobEndpoint=http://127.0.0.1:1/dev;',
    );
    expect(redactUrl('SharedAccessSignature=sv=2022&sig=xyz;BlobEndpoint=https://a')).toBe(
      'SharedAccessSignature=***&sig=***;BlobEndpoint=https://a',
    );
    expect(redactUrl('s3://b/p?secretAccessKey=AKS3CRET&region=eu-west-1')).toBe('s3://b/p?secretAccessKey=***&region=eu-west-1');
    expect(redactUrl('https://s3/x?X-Amz-Security-Token=tok&X-Amz-Signature=s1g&X-Amz-Date=1')).toBe(
      'https://s3/x?X-Amz-Security-Token=***&X-Amz-Signature=***&X-Amz-Date=1',
    );
    expect(redactUrl('https://storage/x?key=AIzaSECRET&alt=json')).toBe('https://storage/x?key=***&alt=json');
  });

  test('issue 9 item 14: text without credentials comes back unchanged', () => {
    for (const s of [
      's3://flows/train?endpoint=http://127.0.0.1:4569&forcePathStyle=true&conditionalPut=false',
      'azure://devstoreaccount1/flows/train?endpoint=http%3A%2F%2F127.0.0.1%3A10000%2Fdevstoreaccount1',
      'gs://flows/x?apiEndpoint=http://127.0.0.1:9199',
      'file:///tmp/a:b/c',
      'sqlite:///home/u/.tributary/metadata.sqlite',
      'postgres://alice@127.0.0.1:5432/mldb',
      'No object at key a/b in s3://bucket/prefix/ at http://127.0.0.1:9000.',
    ])
      expect(redactUrl(s)).toBe(s);
  });

  test('issue 9 item 14: no password of any shape survives, parsed or not, alone or inside a message (property)', () => {
    fc.assert(
      fc.property(
        secret,
        fc.constantFrom('postgres', 'postgresql', 'mysql', 'https', 'redis'),
        fc.constantFrom('5432', 'notaport', ''),
        (pw, scheme, port) => {
          const url = `${scheme}://alice:${pw}@127.0.0.1${port ? `:${port}` : ''}/mldb`;
          for (const text of [url, `Invalid metadata URL ${JSON.stringify(url)}: fix it.`, `${url}?password=${pw}`]) {
            const out = redactUrl(text);
            expect(out).not.toContain(pw);
            expect(out).toContain('alice');
          }
          expect(redactUrl(`x?AccountKey=${pw.replace(/[&;]/g, '')};y`)).not.toContain(pw.replace(/[&;]/g, ''));
        },
      ),
      params,
    );
  });

  test('issue 9 item 14: an invalid metadata URL is reported without its password', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tributary-redact-'));
    try {
      const err = await openConfiguredAdapter('metadata', 'postgres://alice:hunter2-pw@127.0.0.1:notaport/mldb', home).catch(
        (e: unknown) => e,
      );
      expect(TributaryError.is(err, 'CONFIG')).toBe(true);
      expect((err as Error).message).toContain('postgres://alice:***@127.0.0.1:notaport/mldb');
      expect(inspect(err, { depth: 10, showHidden: true })).not.toContain('hunter2');
      expect(JSON.stringify(err)).not.toContain('hunter2');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('issue 9 item 15: safeCause keeps name, code, message and stack of an SDK error, but not its request or response', () => {
    const sdk = Object.assign(new Error('socket hang up calling https://u:pw-in-url@host/x?sig=s1gn4ture'), {
      name: 'TimeoutError',
      code: 'ECONNRESET',
      $metadata: { attempts: 3 },
      $response: { headers: { 'x-amz-security-token': 'SESSION-TOKEN-SECRET' } },
      request: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AK/…, Signature=SIG-SECRET' } },
      cause: Object.assign(new Error('inner'), { config: { credentials: { secretAccessKey: 'INNER-SECRET' } } }),
    });
    const safe = safeCause(sdk)!;
    expect(safe).toMatchObject({ name: 'TimeoutError', code: 'ECONNRESET' });
    expect(safe.message).toContain('socket hang up');
    const shown = inspect(safe, { depth: 10, showHidden: true }) + JSON.stringify(safe) + String(safe.stack);
    for (const s of ['pw-in-url', 's1gn4ture', 'SESSION-TOKEN-SECRET', 'SIG-SECRET', 'INNER-SECRET', '$metadata'])
      expect(shown).not.toContain(s);
    expect((safe.cause as Error).message).toBe('inner');
    expect(safeCause(undefined)).toBeUndefined();
  });
});
