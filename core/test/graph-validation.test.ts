import { describe, expect, test } from 'vitest';
import { buildGraph, catchFailure, FlowSpec, GraphError, param, renderGraph, step, type Inputs } from '../src/index.ts';

function rejection(flow: Function): GraphError {
  try {
    buildGraph(flow);
  } catch (err) {
    expect(err).toBeInstanceOf(GraphError);
    return err as GraphError;
  }
  throw new Error(`${flow.name} was accepted`);
}

// Each malformed flow breaks exactly one rule; the message names the step and says what to do.
describe('malformed flows fail validation before anything runs', () => {
  test('no start step', () => {
    class NoStart extends FlowSpec {
      @step begin() {
        this.next(this.end);
      }
      @step end() {}
    }
    const e = rejection(NoStart);
    expect(e.rule).toBe('no-start');
    expect(e.message).toBe("Your flow must have exactly one start step. Either name a step 'start' or use @step({ start: true }).");
  });

  test('no end step', () => {
    class NoEnd extends FlowSpec {
      @step start() {
        this.next(this.finish);
      }
      @step finish() {}
    }
    expect(rejection(NoEnd).message).toBe(
      "Your flow must have exactly one end step. Either name a step 'end' or use @step({ end: true }).",
    );
  });

  test('missing this.next', () => {
    class MissingNext extends FlowSpec {
      @step start() {
        this.next(this.middle);
      }
      @step middle() {}
      @step end() {}
    }
    expect(rejection(MissingNext).message).toBe(
      'Step *middle* is missing a this.next() transition to the next step. Add a this.next() call at the end of the method.',
    );
  });

  test('transition to an unknown step', () => {
    class Unknown extends FlowSpec {
      @step start() {
        (this as any).next((this as any).nowhere);
      }
      @step end() {}
    }
    expect(rejection(Unknown).message).toBe(
      'Step *start* specifies a transition to an unknown step, *nowhere*. Define it as a @step method or fix the name.',
    );
  });

  test('a loop that is not a switch', () => {
    class Loop extends FlowSpec {
      @step start() {
        this.next(this.a);
      }
      @step a() {
        this.next(this.b);
      }
      @step b() {
        this.next(this.a);
      }
      @step end() {}
    }
    expect(rejection(Loop).message).toBe(
      'There is a loop in your flow: *a->b->a*. Break the loop; the only loop allowed is a switch step that lists itself as a case.',
    );
  });

  test('unreachable step', () => {
    class Orphan extends FlowSpec {
      @step start() {
        this.next(this.end);
      }
      @step orphan() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(Orphan).message).toBe(
      'Step *orphan* is unreachable from the start step *start*. Add this.next(this.orphan) in another step or remove *orphan*.',
    );
  });

  test('split never joined before end', () => {
    class Unjoined extends FlowSpec {
      items = [1];
      @step start() {
        this.next(this.body, { foreach: 'items' });
      }
      @step body() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(Unjoined).message).toBe(
      'The terminal step *end* was reached before a split started at step(s) *body* were joined. Add a join step before *end*.',
    );
  });

  test('foreach with no children', () => {
    class EmptyForeach extends FlowSpec {
      @step start() {
        this.next(this.join, { foreach: 'items' });
      }
      @step join(inputs: Inputs) {
        void inputs;
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(EmptyForeach).message).toBe(
      'Step *start* is a foreach split that has no children: it is followed immediately by a join step, *join*. Add at least one step between the split and the join.',
    );
  });

  test('a branch that skips the join', () => {
    class Arity extends FlowSpec {
      @step start() {
        this.next(this.a, this.b, this.c);
      }
      @step a() {
        this.next(this.join);
      }
      @step b() {
        this.next(this.join);
      }
      @step c() {
        this.next(this.end);
      }
      @step join(inputs: Inputs) {
        void inputs;
        this.next(this.end);
      }
      @step end() {}
    }
    const e = rejection(Arity);
    expect(e.rule).toBe('join-arity');
    expect(e.message).toBe(
      'Step *join* seems like a join step (it takes inputs) but an incorrect number of steps (*a, b*) lead to it. This join was expecting 3 incoming paths, starting from split step(s) *a, b, c*.',
    );
  });

  test('join without a split', () => {
    class Lonely extends FlowSpec {
      @step start() {
        this.next(this.join);
      }
      @step join(inputs: Inputs) {
        void inputs;
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(Lonely).message).toBe(
      'Step *join* seems like a join step (it takes inputs), but it is not preceded by a split. Ensure that there is a matching split for every join, or remove the inputs parameter.',
    );
  });

  test('conditional path straight into a join', () => {
    class SwitchJoin extends FlowSpec {
      route = 'x';
      @step start() {
        this.next(this.a, this.b);
      }
      @step a() {
        this.next({ x: this.join, y: this.c }, { condition: 'route' });
      }
      @step c() {
        this.next(this.join);
      }
      @step b() {
        this.next(this.join);
      }
      @step join(inputs: Inputs) {
        void inputs;
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(SwitchJoin).message).toBe(
      "A conditional path cannot lead directly to a join step. In step *a*, case 'x' goes to join *join*: introduce an intermediate, unconditional step.",
    );
  });

  test('end step that is a join', () => {
    class JoinEnd extends FlowSpec {
      @step start() {
        this.next(this.a, this.b);
      }
      @step a() {
        this.next(this.end);
      }
      @step b() {
        this.next(this.end);
      }
      @step end(inputs: Inputs) {
        void inputs;
      }
    }
    expect(rejection(JoinEnd).message).toBe(
      'The terminal step *end* should not be a join step (it takes inputs). Add a join step before it.',
    );
  });

  test('step reached from two branches without inputs', () => {
    class NoJoinParam extends FlowSpec {
      @step start() {
        this.next(this.a, this.b);
      }
      @step a() {
        this.next(this.merge);
      }
      @step b() {
        this.next(this.merge);
      }
      @step merge() {
        this.next(this.end);
      }
      @step end() {}
    }
    const e = rejection(NoJoinParam);
    expect(e.message).toBe('Step *merge* has 2 incoming transitions (*a, b*) but takes no inputs. Make it a join: merge(inputs) { ... }.');
  });

  test('reserved step name', () => {
    class Reserved extends FlowSpec {
      @step start() {
        this.next(this.end);
      }
      // @ts-expect-error: `input` is a FlowSpec member
      @step input() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(Reserved).message).toMatch(/^Step \*input\* uses a reserved name\. Rename it: next, input, index/);
  });

  test('switch without a condition literal', () => {
    class NoCondition extends FlowSpec {
      @step start() {
        const cond = 'route';
        this.next({ a: this.a, b: this.end }, { condition: cond });
      }
      @step a() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(NoCondition).message).toBe(
      "Step *start* is a switch without a condition. Pass { condition: 'name' } naming the artifact (a string literal) whose value picks the case.",
    );
  });

  test('switch with a single case', () => {
    class OneCase extends FlowSpec {
      route = 'only';
      @step start() {
        this.next({ only: this.end }, { condition: 'route' });
      }
      @step end() {}
    }
    expect(rejection(OneCase).message).toBe('Step *start* is a switch with 1 case; a switch needs at least two cases.');
  });

  test('invalid this.next arguments', () => {
    class BadNext extends FlowSpec {
      @step start() {
        const target = this.end;
        this.next(target);
      }
      @step end() {}
    }
    expect(rejection(BadNext).message).toBe(
      "Step *start* has an invalid this.next() transition: argument 1 (`target`) is a variable: every step passed to this.next() must be written this.<step>, since the graph is read from the source before the run. Use one of: this.next(this.a); this.next(this.a, this.b); this.next(this.a, { foreach: 'items' }); this.next({ yes: this.a, no: this.b }, { condition: 'route' }).",
    );
  });

  test('inconsistent this.next calls', () => {
    class TwoWays extends FlowSpec {
      flag = true;
      @step start() {
        if (this.flag) this.next(this.a);
        else this.next(this.end);
      }
      @step a() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(TwoWays).rule).toBe('inconsistent-next');
  });

  test('foreach variable that is not a literal', () => {
    class DynamicForeach extends FlowSpec {
      @step start() {
        const name = 'items';
        this.next(this.body, { foreach: name });
      }
      @step body() {
        this.next(this.join);
      }
      @step join(inputs: Inputs) {
        void inputs;
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(DynamicForeach).message).toBe(
      "Step *start* has a foreach whose variable is not a string literal. Write this.next(this.body, { foreach: 'items' }) naming the artifact to fan out over.",
    );
  });

  test('start step with incoming transitions', () => {
    class BackToStart extends FlowSpec {
      @step start() {
        this.next(this.a);
      }
      @step a() {
        this.next(this.start);
      }
      @step end() {}
    }
    expect(rejection(BackToStart).message).toBe(
      'The start step *start* cannot have incoming transitions (from *a*). Point them at another step.',
    );
  });

  test('parameter named like a step', () => {
    class Clash extends FlowSpec {
      @param({ default: 1 }) middle!: number;
      @step start() {
        this.next(this.end);
      }
      @step end() {}
    }
    // a param and a step cannot share a name; here the param clashes with nothing, so add one
    class Clash2 extends Clash {
      // @ts-expect-error: deliberately shadows the parameter
      @step middle() {
        this.next(this.end);
      }
    }
    expect(() => buildGraph(Clash)).not.toThrow();
    expect(rejection(Clash2).message).toBe('Parameter *middle* has the same name as a step. Rename one of them.');
  });

  test('a step with two parameters', () => {
    class TwoArgs extends FlowSpec {
      @step start() {
        this.next(this.end);
      }
      @step end(a?: unknown, b?: unknown) {
        void a;
        void b;
      }
    }
    expect(rejection(TwoArgs).message).toBe('Step *end* takes 2 parameters. A step takes none, or one (inputs) if it is a join.');
  });

  test('@catch on a foreach step', () => {
    class CatchForeach extends FlowSpec {
      items = [1];
      @catchFailure({ var: 'err' })
      @step
      start() {
        this.next(this.body, { foreach: 'items' });
      }
      @step body() {
        this.next(this.join);
      }
      @step join(inputs: Inputs) {
        void inputs;
        this.next(this.end);
      }
      @step end() {}
    }
    expect(rejection(CatchForeach).message).toBe(
      'Step *start* is a foreach step and cannot use @catch: a failure there leaves no items or case to go on with. Move the risky work into a step before it.',
    );
  });

  test('errors are typed with a stable code and the step', () => {
    class MissingNext extends FlowSpec {
      @step start() {}
      @step end() {}
    }
    const e = rejection(MissingNext);
    expect(e.code).toBe('GRAPH_INVALID');
    expect(e.context.step).toBe('start');
  });
});

describe('valid graphs', () => {
  class Train extends FlowSpec {
    alphas = [1, 2];
    @step start() {
      this.next(this.fit, { foreach: 'alphas' });
    }
    @step fit() {
      this.next(this.pick);
    }
    @step pick(inputs: Inputs) {
      void inputs;
      this.next(this.end);
    }
    @step end() {}
  }

  test('types, next, foreach var and matching join', () => {
    const g = buildGraph(Train);
    expect(g.start).toBe('start');
    expect(g.end).toBe('end');
    expect(g.order).toEqual(['start', 'fit', 'pick', 'end']);
    expect(g.nodes.start).toMatchObject({ type: 'foreach', next: ['fit'], foreachVar: 'alphas', matchingJoin: 'pick' });
    expect(g.nodes.fit).toMatchObject({ type: 'linear', insideForeach: true, splitParents: ['start'] });
    expect(g.nodes.pick).toMatchObject({ type: 'join', splitParents: [] });
  });

  test('renders as json, mermaid, dot and text', () => {
    const g = buildGraph(Train);
    const json = JSON.parse(renderGraph(g, 'json'));
    expect(json.steps.map((s: { name: string }) => s.name)).toEqual(['start', 'fit', 'pick', 'end']);
    expect(json.steps[0]).toMatchObject({ type: 'foreach', foreach: 'alphas', next: ['fit'] });
    expect(renderGraph(g, 'mermaid')).toContain('s_start -->|"foreach alphas"| s_fit');
    expect(renderGraph(g, 'dot')).toContain('"start" -> "fit" [label="foreach alphas"]');
    expect(renderGraph(g, 'text')).toContain("foreach over 'alphas'");
  });

  test('a switch that loops on itself is the one allowed cycle', () => {
    class Loop extends FlowSpec {
      more = true;
      @step start() {
        this.next(this.loop);
      }
      @step loop() {
        this.next({ yes: this.loop, no: this.end }, { condition: 'more' });
      }
      @step end() {}
    }
    expect(buildGraph(Loop).nodes.loop).toMatchObject({ type: 'switch', condition: 'more', switchCases: { yes: 'loop', no: 'end' } });
  });

  test('custom start and end names', () => {
    class Custom extends FlowSpec {
      @step({ start: true }) begin() {
        this.next(this.finish);
      }
      @step({ end: true }) finish() {}
    }
    const g = buildGraph(Custom);
    expect([g.start, g.end]).toEqual(['begin', 'finish']);
  });
});
