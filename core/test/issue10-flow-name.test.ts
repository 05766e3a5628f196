import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildGraph, flow, flowNameOf, FlowSpec, resolveParams, param, step, TributaryError } from '../src/index.ts';

const params = { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 200) };

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** A class as a bundler leaves it: same code, another `name`. */
function renamed<T extends Function>(cls: T, name: string): T {
  Object.defineProperty(cls, 'name', { value: name, configurable: true });
  return cls;
}

describe('issue 10 item 4: explicit flow identity', () => {
  test('issue 10 item 4: the default flow name is the class name', () => {
    class TrainFlow extends FlowSpec {
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(flowNameOf(TrainFlow)).toBe('TrainFlow');
    expect(buildGraph(TrainFlow).flow).toBe('TrainFlow');
    for (const ok of ['ETL', 'A2BFlow', 'S3Flow', 'Etl', 'my_flow', 'X_Y'])
      expect(flowNameOf(renamed(class extends FlowSpec {}, ok))).toBe(ok);
  });

  test('issue 10 item 4: static flowName names the flow, whatever the class is called', () => {
    class Train extends FlowSpec {
      static readonly flowName = 'TrainFlow';
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(flowNameOf(Train)).toBe('TrainFlow');
    expect(buildGraph(Train).flow).toBe('TrainFlow');
    // Minified by a bundler: the identity stays.
    const t = renamed(
      class extends FlowSpec {
        static flowName = 'TrainFlow';
      },
      't',
    );
    expect(flowNameOf(t)).toBe('TrainFlow');
  });

  test('issue 10 item 4: @flow({ name }) names the flow', () => {
    @flow({ name: 'EvalFlow' })
    class E extends FlowSpec {
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(flowNameOf(E)).toBe('EvalFlow');
    expect(buildGraph(E).flow).toBe('EvalFlow');
    expect(flowNameOf(renamed(E, 'e'))).toBe('EvalFlow');

    @flow({ name: 'Same' })
    class Same extends FlowSpec {
      static flowName = 'Same';
    }
    expect(flowNameOf(Same)).toBe('Same');

    @flow({ name: 'One' })
    class Twice extends FlowSpec {
      static flowName = 'Other';
    }
    const err = thrown(() => flowNameOf(Twice));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('Twice is named twice: static flowName = "Other" and @flow({ name: "One" }). Keep one.');
  });

  test('issue 10 item 4: an invalid explicit name is refused where it is written', () => {
    const fromDecorator = thrown(() => {
      @flow({ name: 'my flow' })
      class Spaced extends FlowSpec {}
      return Spaced;
    });
    expect(TributaryError.is(fromDecorator, 'INVALID_KEY')).toBe(true);
    expect((fromDecorator as Error).message).toBe(
      `@flow({ name: "my flow" }) on Spaced: a flow name uses letters, digits, '_', '-' and '.', starting with a letter, digit or '_', at most 255 characters. Choose another name.`,
    );
    expect(() => flow({ name: 42 as unknown as string })(class extends FlowSpec {}, { kind: 'class' } as ClassDecoratorContext)).toThrow(
      TypeError,
    );

    for (const bad of ['', '../x', 'a/b', 'x'.repeat(256), '.hidden', 'a..b']) {
      const cls = class Valid extends FlowSpec {
        static flowName = bad;
      };
      const err = thrown(() => flowNameOf(cls));
      expect(TributaryError.is(err, 'INVALID_KEY'), bad).toBe(true);
      expect((err as Error).message).toContain(`static flowName = ${JSON.stringify(bad)} of Valid is not a valid flow name`);
    }
    class NotAString extends FlowSpec {
      static flowName = 7;
    }
    expect(() => flowNameOf(NotAString)).toThrow(new TypeError('static flowName of NotAString must be a string (got number).'));
    // `static flowName?: string` declared without a value is no name.
    class Declared extends FlowSpec {
      static flowName: string | undefined = undefined;
    }
    expect(flowNameOf(Declared)).toBe('Declared');
  });

  test('issue 10 item 4: a default name that looks minified or renamed is refused, saying to set static flowName', () => {
    const cases: Array<[string, RegExp]> = [
      ['t', /has a 1–2 character name, which looks minified/],
      ['Zt', /has a 1–2 character name, which looks minified/],
      ['_a', /has a 1–2 character name, which looks minified/],
      ['', /has no name of its own \(an anonymous class\)/],
      ['default', /has no name of its own/],
      ['flow_default', /has no name of its own/],
    ];
    for (const [name, why] of cases) {
      const cls = renamed(
        class extends FlowSpec {
          @step start() {
            this.next(this.end);
          }
          @step end() {}
        },
        name,
      );
      for (const err of [thrown(() => flowNameOf(cls)), thrown(() => buildGraph(cls))]) {
        expect(TributaryError.is(err, 'CONFIG'), name).toBe(true);
        expect((err as Error).message).toMatch(why);
        expect((err as Error).message).toMatch(/give the flow an explicit name, e\.g\. `static flowName = '[A-Za-z0-9]+'` in the class/);
      }
    }
    expect((thrown(() => flowNameOf(renamed(class extends FlowSpec {}, 't'))) as Error).message).toBe(
      'Flow class "t" has a 1–2 character name, which looks minified. The flow name keys its runs and artifacts, so Tributary will not guess: ' +
        "give the flow an explicit name, e.g. `static flowName = 'TrainFlow'` in the class (or @flow({ name: 'TrainFlow' })).",
    );
  });

  test('issue 10 item 4: a class name that cannot be a flow name (rollup $1 renames) is INVALID_KEY with the fix', () => {
    for (const name of ['TrainFlow$1', 'e$1', 'Bad$Name']) {
      const err = thrown(() => flowNameOf(renamed(class extends FlowSpec {}, name)));
      expect(TributaryError.is(err, 'INVALID_KEY')).toBe(true);
      expect((err as Error).message).toMatch(/contains '\$' \(bundlers rename colliding classes to names like TrainFlow\$1\)/);
      expect((err as Error).message).toMatch(/static flowName = '/);
    }
    expect((thrown(() => flowNameOf(renamed(class extends FlowSpec {}, 'Bad$Name'))) as Error).message).toContain(
      "static flowName = 'BadName'",
    );
  });

  test('issue 10 item 4: a subclass of an explicitly named flow must name itself', () => {
    class Base extends FlowSpec {
      static flowName = 'BaseFlow';
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    class Child extends Base {}
    const err = thrown(() => flowNameOf(Child));
    expect(TributaryError.is(err, 'CONFIG')).toBe(true);
    expect((err as Error).message).toBe(
      `Flow class Child extends Base, which is named by static flowName = "BaseFlow", and has no name of its own. ` +
        "A subclass is another flow and must not share its parent's runs and artifacts: give it its own name, e.g. `static flowName = 'Child'`.",
    );
    expect(() => buildGraph(Child)).toThrow(/must not share its parent's runs and artifacts/);
    class GrandChild extends Child {
      static override flowName = 'GrandChildFlow';
    }
    expect(flowNameOf(GrandChild)).toBe('GrandChildFlow');
    expect(() => flowNameOf(class Deeper extends GrandChild {})).toThrow(
      /Deeper extends GrandChild, which is named by static flowName = "GrandChildFlow"/,
    );

    @flow({ name: 'DecoratedBase' })
    class DBase extends FlowSpec {}
    expect(() => flowNameOf(class DChild extends DBase {})).toThrow(
      /DChild extends DBase, which is named by @flow\(\{ name: "DecoratedBase" \}\)/,
    );

    // A base without an explicit name passes nothing on: each subclass has its class name.
    class Plain extends FlowSpec {}
    class PlainChild extends Plain {}
    expect(flowNameOf(PlainChild)).toBe('PlainChild');
  });

  test('issue 10 item 4: messages about a renamed class use its flow name and its class name', () => {
    const t = renamed(
      class extends FlowSpec {
        static flowName = 'TrainFlow';
        @param() epochs = 10;
      },
      't',
    );
    expect(() => resolveParams(t, { epochs: 'many' })).toThrow('Parameter --epochs of TrainFlow (class t) must be a number, got "many".');
    expect(() => resolveParams(t, { nope: 1 })).toThrow(/^Unknown parameter --nope for TrainFlow \(class t\)\./);
  });

  test('issue 10 item 4: property: a valid explicit name is the identity, whatever the class is renamed to', () => {
    const validName = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}$/).filter((s) => !s.includes('..'));
    fc.assert(
      fc.property(validName, fc.string(), fc.boolean(), (explicit, className, viaDecorator) => {
        let cls: Function;
        if (viaDecorator) {
          @flow({ name: explicit })
          class D extends FlowSpec {}
          cls = D;
        } else {
          cls = class S extends FlowSpec {
            static flowName = explicit;
          };
        }
        expect(flowNameOf(renamed(cls, className))).toBe(explicit);
      }),
      params,
    );
  });
});
