import { describe, expect, test } from 'vitest';
import { serializeUnknownError } from '../src/errors.ts';
import { buildGraph, describeParams, FlowSpec, param, resolveParams, retry, step, TributaryError } from '../src/index.ts';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('issue 9 item 17: @step on an arrow-function property', () => {
  test('issue 9 item 17: bare @step on an arrow function property is a TypeError at class definition that says to write a method', () => {
    const err = thrown(() => {
      class ArrowFlow extends FlowSpec {
        @step start() {
          this.next(this.train);
        }
        // @ts-expect-error: a field, not a method, is what the user wrote
        @step train = () => {
          this.next(this.end);
        };
        @step end() {}
      }
      return ArrowFlow;
    });
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe(
      '@step on train: train is a field (an arrow function property?), not a method. Steps are methods: write `@step train() { ... }` instead of `@step train = () => { ... }`.',
    );
  });

  test('issue 9 item 17: @step({...}) and other step decorators on a field say the same', () => {
    const withOptions = thrown(() => {
      class F extends FlowSpec {
        // @ts-expect-error
        @step({ end: true }) finish = () => {};
      }
      return F;
    });
    expect((withOptions as Error).message).toMatch(/^@step on finish: finish is a field \(an arrow function property\?\), not a method/);
    const retried = thrown(() => {
      class F extends FlowSpec {
        // @ts-expect-error
        @retry() work = () => {};
      }
      return F;
    });
    expect((retried as Error).message).toMatch(/^@retry on work: work is a field/);
  });
});

describe('issue 9 item 18: parameter defaults from initializers', () => {
  class P extends FlowSpec {
    @param({ help: 'how long' }) epochs = 10;
    @param() dry = false;
    @param() name = 'run';
    @param() grid = { lr: [0.1] };
    @param() required!: string;
    @param({ default: 3 }) folds!: number;
    @param({ type: 'number' }) seed!: number;
    @step start() {
      this.next(this.end);
    }
    @step end() {}
  }

  test('issue 9 item 18: describeParams reports the initializer as default and its type', () => {
    expect(describeParams(P)).toEqual([
      { name: 'epochs', type: 'number', default: 10, help: 'how long', required: false },
      { name: 'dry', type: 'boolean', default: false, required: false },
      { name: 'name', type: 'string', default: 'run', required: false },
      { name: 'grid', type: 'json', default: { lr: [0.1] }, required: false },
      { name: 'required', type: 'string', required: true },
      { name: 'folds', type: 'number', default: 3, required: false },
      { name: 'seed', type: 'number', required: true },
    ]);
  });

  test('issue 9 item 18: resolveParams applies initializer defaults and parses strings by the inferred type', () => {
    expect(resolveParams(P, { required: 'x', seed: '5' })).toEqual({
      epochs: 10,
      dry: false,
      name: 'run',
      grid: { lr: [0.1] },
      required: 'x',
      folds: 3,
      seed: 5,
    });
    expect(resolveParams(P, { required: 'x', seed: 1, epochs: '4', dry: 'true', grid: '[1]' })).toMatchObject({
      epochs: 4,
      dry: true,
      grid: [1],
    });
    expect(() => resolveParams(P, { required: 'x', seed: 1, epochs: 'many' })).toThrow(
      'Parameter --epochs of P must be a number, got "many".',
    );
  });

  test('issue 9 item 18: two different defaults (option and initializer) are refused', () => {
    class Twice extends FlowSpec {
      @param({ default: 3 }) n = 4;
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(() => describeParams(Twice)).toThrow('@param n of Twice has two defaults: 3 in @param({ default }) and 4 as its initializer.');
    class Same extends FlowSpec {
      @param({ default: 3 }) n = 3;
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(describeParams(Same)).toEqual([{ name: 'n', type: 'number', default: 3, required: false }]);
  });
});

describe('issue 9 item 3: reserved field declarations', () => {
  test('issue 9 item 3: buildGraph refuses an initialized field named input, and accepts bare declarations', () => {
    class Bad extends FlowSpec {
      // @ts-expect-error TS2610
      input = 'x';
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    const err = thrown(() => buildGraph(Bad));
    expect(TributaryError.is(err, 'GRAPH_INVALID')).toBe(true);
    expect((err as Error).message).toBe(
      'Field input of Bad is initialized, but this.input belongs to Tributary (a member of every flow) and the field would hide it. Rename the field. (A declaration without a value, `input!: T`, is allowed and ignored.)',
    );
    class Fine extends FlowSpec {
      // @ts-expect-error TS2610
      input!: number;
      // @ts-expect-error TS2610
      current!: unknown;
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(buildGraph(Fine).order).toEqual(['start', 'end']);
  });

  test('issue 9 item 3: field initializers that need a running task still build; a parameter default read from them says why it cannot', () => {
    class NeedsTask extends FlowSpec {
      runId = this.current.runId;
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(buildGraph(NeedsTask).order).toEqual(['start', 'end']);
    class ParamNeedsTask extends FlowSpec {
      @param() n = 1;
      pathspec = this.current.pathspec;
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    const err = thrown(() => describeParams(ParamNeedsTask));
    expect(TributaryError.is(err, 'FLOW_LOAD')).toBe(true);
    expect((err as Error).message).toMatch(
      /^Could not read the field initializers of ParamNeedsTask: creating an instance outside any step threw: /,
    );
    expect((err as Error).message).toMatch(/move code that needs a running task \(this\.input, this\.current\.\.\.\) into a step/);
  });
});

describe('issue 9 item 21: thrown non-errors', () => {
  test('issue 9 item 21: a thrown plain object is shown as its content, bounded', () => {
    expect(serializeUnknownError({ code: 42, why: 'x' }).message).toBe("Non-error thrown: { code: 42, why: 'x' }");
    expect(serializeUnknownError('plain words').message).toBe('Non-error thrown: plain words');
    expect(serializeUnknownError(undefined).message).toBe('Non-error thrown: undefined');
    expect(serializeUnknownError(Symbol('s')).message).toBe('Non-error thrown: Symbol(s)');
    const huge = serializeUnknownError({ list: Array.from({ length: 10_000 }, (_, i) => i), text: 'y'.repeat(100_000) }).message;
    expect(huge.length).toBeLessThan(2100);
    expect(huge).toMatch(/9980 more items/);
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('no');
        },
        ownKeys() {
          throw new Error('no');
        },
      },
    );
    expect(serializeUnknownError(hostile).message).toMatch(/^Non-error thrown: /);
  });
});
