import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createFsDatastore } from '@tributary/datastore-fs';
import { ArtifactStore, sha256, TributaryError, type Datastore } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'tributary-repair-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh fs datastore, with a count of the calls the artifact store makes. */
function counted(): { ds: Datastore; calls: Record<string, number>; file: (flow: string, sha: string) => string } {
  const dir = join(root, `s${++n}`);
  const fs = createFsDatastore({ root: dir });
  const calls: Record<string, number> = {};
  const ds = new Proxy(fs, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { ds, calls, file: (flow, sha) => join(dir, flow, 'data', sha.slice(0, 2), `${sha}~`) };
}

function flipByte(path: string, at = 0): void {
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
}

async function integrityError(p: Promise<unknown> | (() => unknown)): Promise<TributaryError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(TributaryError.is(err, 'INTEGRITY')).toBe(true);
  return err as TributaryError;
}

describe('issue 9 item 1: a corrupted blob is repaired by a new write of the same content', () => {
  test('issue 9 item 1: INTEGRITY names the artifact and the reading task; saving the same value again repairs it', async () => {
    const { ds, file } = counted();
    const value = { weights: [0.5, 1.5, 2.5], label: 'model v1' };
    const ref = await new ArtifactStore(ds, 'TrainFlow').save('model', value);
    flipByte(file('TrainFlow', ref.sha), 3);

    const reader = new ArtifactStore(ds, 'TrainFlow').forTask('TrainFlow/3/fit/7');
    for (const err of [await integrityError(reader.load(ref)), await integrityError(() => reader.loadSync(ref))]) {
      expect(err.message).toContain(`Artifact 'model' (sha256 ${ref.sha.slice(0, 12)}…, read by TrainFlow/3/fit/7) is corrupt`);
      expect(err.message).toContain('re-run the task that produced it (a new write of the same content replaces the corrupt blob)');
      expect(err.context).toMatchObject({
        artifact: 'model',
        pathspec: 'TrainFlow/3/fit/7',
        adapter: 'fs',
        key: `TrainFlow/data/${ref.sha.slice(0, 2)}/${ref.sha}`,
      });
    }

    // A fresh run (a new store) writes the same content: the corrupt copy is replaced.
    const again = await new ArtifactStore(ds, 'TrainFlow').save('model', value);
    expect(again.sha).toBe(ref.sha);
    expect(sha256(readFileSync(file('TrainFlow', ref.sha)))).toBe(ref.sha);
    expect(await reader.load(ref)).toEqual(value);
    expect(reader.loadSync(ref)).toEqual(value);
  });

  test('issue 9 item 1: a truncated blob (a different size) is replaced without reading it', async () => {
    const { ds, calls, file } = counted();
    const ref = await new ArtifactStore(ds, 'F').save('x', 'some text that is long enough to cut');
    truncateSync(file('F', ref.sha), 5);
    for (const k of Object.keys(calls)) delete calls[k];
    await new ArtifactStore(ds, 'F').save('x', 'some text that is long enough to cut');
    expect(calls.get ?? 0).toBe(0);
    expect(calls.head).toBe(1);
    expect(await new ArtifactStore(ds, 'F').load(ref)).toBe('some text that is long enough to cut');
  });

  test('issue 9 item 1: the store that wrote a blob repairs it too, once a read has found it corrupt', async () => {
    const { ds, file } = counted();
    const store = new ArtifactStore(ds, 'F');
    const ref = await store.save('x', [1, 2, 3]);
    flipByte(file('F', ref.sha));
    await integrityError(store.forTask('F/1/start/1').load(ref));
    await store.save('x', [1, 2, 3]);
    expect(await store.load(ref)).toEqual([1, 2, 3]);
  });

  test('issue 9 item 1: an intact stored copy is checked once per store, not on every dedupe hit', async () => {
    const { ds, calls } = counted();
    const value = { big: 'x'.repeat(10_000) };
    await new ArtifactStore(ds, 'F').save('v', value);
    const store = new ArtifactStore(ds, 'F');
    for (const k of Object.keys(calls)) delete calls[k];
    const refs = await Promise.all(Array.from({ length: 50 }, () => store.save('v', value)));
    for (let i = 0; i < 1000; i++) await store.save('v', value);
    expect(new Set(refs.map((r) => r.sha)).size).toBe(1);
    // Concurrent first writes may each check; after that, no datastore call at all.
    expect(calls.get ?? 0).toBeLessThanOrEqual(50);
    expect(calls.put ?? 0).toBeLessThanOrEqual(50);
    const before = { ...calls };
    for (let i = 0; i < 100; i++) await store.save('v', value);
    expect(calls).toEqual(before);
    // What the store wrote itself is never read back.
    const fresh = counted();
    const writer = new ArtifactStore(fresh.ds, 'F');
    for (let i = 0; i < 100; i++) await writer.save('v', value);
    expect(fresh.calls).toEqual({ put: 1 });
  });

  test('issue 9 item 1: a corrupt foreach item names the foreach artifact, and re-saving the array repairs it', async () => {
    const { ds, file } = counted();
    const items = ['alpha', 'beta', 'gamma'];
    const saved = await new ArtifactStore(ds, 'F').saveArrayWithItems('xs', items);
    const item = saved.items[1]!;
    flipByte(file('F', saved.ref.sha), item.offset + 1);
    const reader = new ArtifactStore(ds, 'F').forTask('F/2/body/4');
    for (const err of [await integrityError(() => reader.loadItemSync(item, 'xs')), await integrityError(reader.loadItem(item, 'xs'))]) {
      expect(err.message).toContain(`An item of foreach artifact 'xs' (blob sha256 ${saved.ref.sha.slice(0, 12)}…, read by F/2/body/4)`);
      expect(err.context).toMatchObject({ artifact: 'xs', pathspec: 'F/2/body/4', adapter: 'fs' });
    }
    await new ArtifactStore(ds, 'F').saveArrayWithItems('xs', items);
    expect(reader.loadItemSync(item, 'xs')).toBe('beta');
  });

  test('issue 9 item 1: prefetch leaves a corrupt blob to the read that needs it, which names the artifact', async () => {
    const { ds, file } = counted();
    const ref = await new ArtifactStore(ds, 'F').save('model', { a: 1 });
    flipByte(file('F', ref.sha));
    const reader = new ArtifactStore(ds, 'F').forTask('F/1/end/9');
    await reader.prefetch([{ sha: ref.sha }]);
    const err = await integrityError(() => reader.loadSync(ref));
    expect(err.context).toMatchObject({ artifact: 'model', pathspec: 'F/1/end/9' });
  });

  test('issue 9 item 1: a store without a reader still says which blob and where, and how to repair it', async () => {
    const { ds, file } = counted();
    const ref = await new ArtifactStore(ds, 'F').save('m', 1);
    flipByte(file('F', ref.sha));
    const err = await integrityError(new ArtifactStore(ds, 'F').load({ sha: ref.sha, encoding: ref.encoding, type: ref.type }));
    expect(err.message).toMatch(
      /^Blob \(sha256 [0-9a-f]{12}…\) is corrupt: expected SHA-256 [0-9a-f]{64}, read [0-9a-f]{64} \(\d+ bytes\) from datastore fs/,
    );
  });
});
