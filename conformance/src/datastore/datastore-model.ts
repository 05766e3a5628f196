import fc from 'fast-check';
import type { Datastore } from '@tributary/core';
import { outcome, type Outcome } from '../common.ts';
import { MemoryDatastore } from '../reference/memory-datastore.ts';

interface Real {
  ds: Datastore;
}

const KEYS = ['a', 'b', 'a/x', 'a/y', 'a/x/1', 'b/z', 'ab', 'a-b/c'];
// For stores that cannot hold a key that is also a prefix of other keys (and list in directory
// order): no key is a prefix of another, and no segment is followed by a character below '/'.
const LEAF_KEYS = ['a/x', 'a/y', 'b/z', 'ab', 'b_q/1', 'c'];
const PREFIXES = ['', 'a', 'a/', 'a/x', 'b', 'zz'];

function equalOutcome(a: Outcome<unknown>, b: Outcome<unknown>, what: string): void {
  const norm = (o: Outcome<unknown>) =>
    o.ok ? { ok: true, value: o.value instanceof Uint8Array ? Buffer.from(o.value).toString('hex') : o.value } : o;
  const x = JSON.stringify(norm(a));
  const y = JSON.stringify(norm(b));
  if (x !== y) throw new Error(`${what}: the reference gave ${x} but the adapter gave ${y}`);
}

abstract class Cmd implements fc.AsyncCommand<MemoryDatastore, Real> {
  check(): boolean {
    return true;
  }
  abstract run(model: MemoryDatastore, real: Real): Promise<void>;
}

class Put extends Cmd {
  constructor(
    readonly key: string,
    readonly bytes: Uint8Array,
    readonly ifAbsent: boolean,
  ) {
    super();
  }
  override async run(model: MemoryDatastore, real: Real) {
    const opts = this.ifAbsent ? { ifAbsent: true } : {};
    equalOutcome(
      await outcome(() => model.put(this.key, this.bytes, opts)),
      await outcome(() => real.ds.put(this.key, this.bytes, opts)),
      this.toString(),
    );
  }
  override toString() {
    return `put(${this.key}, ${this.bytes.length} bytes${this.ifAbsent ? ', ifAbsent' : ''})`;
  }
}

class PutMany extends Cmd {
  constructor(readonly keys: string[]) {
    super();
  }
  override async run(model: MemoryDatastore, real: Real) {
    for (const k of this.keys) {
      const bytes = new TextEncoder().encode(k);
      equalOutcome(await outcome(() => model.put(k, bytes)), await outcome(() => real.ds.put(k, bytes)), this.toString());
    }
  }
  override toString() {
    return `putMany(${this.keys.join(', ')})`;
  }
}

class Get extends Cmd {
  constructor(readonly key: string) {
    super();
  }
  override async run(model: MemoryDatastore, real: Real) {
    equalOutcome(await outcome(() => model.get(this.key)), await outcome(() => real.ds.get(this.key)), this.toString());
  }
  override toString() {
    return `get(${this.key})`;
  }
}

class Head extends Cmd {
  constructor(readonly key: string) {
    super();
  }
  override async run(model: MemoryDatastore, real: Real) {
    equalOutcome(await outcome(() => model.head(this.key)), await outcome(() => real.ds.head(this.key)), this.toString());
  }
  override toString() {
    return `head(${this.key})`;
  }
}

class Delete extends Cmd {
  constructor(readonly key: string) {
    super();
  }
  override async run(model: MemoryDatastore, real: Real) {
    equalOutcome(await outcome(() => model.delete(this.key)), await outcome(() => real.ds.delete(this.key)), this.toString());
  }
  override toString() {
    return `delete(${this.key})`;
  }
}

class List extends Cmd {
  constructor(
    readonly prefix: string,
    readonly limit: number,
  ) {
    super();
  }
  override async run(model: MemoryDatastore, real: Real) {
    const all = async (ds: Datastore) => {
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await ds.list(this.prefix, { limit: this.limit, ...(cursor ? { cursor } : {}) });
        keys.push(...page.keys);
        cursor = page.cursor;
      } while (cursor);
      return keys;
    };
    equalOutcome(await outcome(() => all(model)), await outcome(() => all(real.ds)), this.toString());
  }
  override toString() {
    return `list(${JSON.stringify(this.prefix)}, limit ${this.limit})`;
  }
}

/** Random operation sequences: the adapter must agree with the reference after every step. @internal */
export function datastoreModelProperty(
  factory: () => Datastore | Promise<Datastore>,
  cleanup?: (ds: Datastore) => void | Promise<void>,
  prefixObjects = true,
) {
  const keys = prefixObjects ? KEYS : LEAF_KEYS;
  const key = fc.constantFrom(...keys);
  const commands = [
    fc.tuple(key, fc.uint8Array({ maxLength: 48 }), fc.boolean()).map(([k, b, i]) => new Put(k, b, i)),
    fc.subarray(keys, { minLength: 2 }).map((ks) => new PutMany(ks)),
    key.map((k) => new Get(k)),
    key.map((k) => new Head(k)),
    key.map((k) => new Delete(k)),
    fc.tuple(fc.constantFrom(...PREFIXES), fc.integer({ min: 1, max: 3 })).map(([p, l]) => new List(p, l)),
  ];
  return fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'medium' }), async (cmds) => {
    const ds = await factory();
    try {
      await fc.asyncModelRun(() => ({ model: new MemoryDatastore(), real: { ds } }), cmds);
    } finally {
      await ds.close().catch(() => undefined);
      await cleanup?.(ds);
    }
  });
}
