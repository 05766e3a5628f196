import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildGraph, FlowSpec, GraphError, step, type GraphRule } from '@tributary/core';

// Flows are generated as source text, turned into classes, and their methods marked as steps by
// calling the @step decorator directly, exactly as a compiler's decorator helper would.

type Block =
  | { kind: 'linear' }
  | { kind: 'branch'; arms: Block[][] }
  | { kind: 'foreach'; body: Block[] }
  | { kind: 'switch'; arms: [Block[], Block[]] }
  | { kind: 'loop' };

interface StepSrc {
  name: string;
  params: string;
  body: string;
}

const blockArb: fc.Arbitrary<Block[]> = fc.letrec<{ block: Block; seq: Block[] }>((tie) => ({
  block: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Block>({ kind: 'linear' }),
    fc.constant<Block>({ kind: 'loop' }),
    fc.array(tie('seq'), { minLength: 2, maxLength: 3 }).map((arms): Block => ({ kind: 'branch', arms })),
    tie('seq').map((body): Block => ({ kind: 'foreach', body })),
    fc.tuple(tie('seq'), tie('seq')).map(([a, b]): Block => ({ kind: 'switch', arms: [a, b] })),
  ),
  seq: fc.array(tie('block'), { minLength: 1, maxLength: 3 }),
})).seq;

/** Compile blocks into step sources; returns the entry step of the sequence. */
function compile(blocks: Block[], next: string, out: StepSrc[], counter: { n: number }): string {
  let target = next;
  for (let i = blocks.length - 1; i >= 0; i--) target = compileBlock(blocks[i]!, target, out, counter);
  return target;
}

function compileBlock(b: Block, next: string, out: StepSrc[], counter: { n: number }): string {
  const name = (p: string) => `${p}${counter.n++}`;
  switch (b.kind) {
    case 'linear': {
      const s = name('lin');
      out.push({ name: s, params: '', body: `this.x = 1; this.next(this.${next});` });
      return s;
    }
    case 'loop': {
      // A switch's case may not lead straight into a join, so the loop exits through a linear step.
      const s = name('loop');
      const exit = compileBlock({ kind: 'linear' }, next, out, counter);
      out.push({
        name: s,
        params: '',
        body: `this.more = false; this.next({ again: this.${s}, done: this.${exit} }, { condition: 'more' });`,
      });
      return s;
    }
    case 'branch': {
      const split = name('split');
      const join = name('join');
      out.push({ name: join, params: 'inputs', body: `this.next(this.${next});` });
      const entries = b.arms.map((arm) => compile(arm, join, out, counter));
      out.push({ name: split, params: '', body: `this.next(${entries.map((e) => `this.${e}`).join(', ')});` });
      return split;
    }
    case 'foreach': {
      const fan = name('fan');
      const join = name('gather');
      out.push({ name: join, params: 'inputs', body: `this.next(this.${next});` });
      const entry = compile(b.body, join, out, counter);
      out.push({ name: fan, params: '', body: `this.items = [1, 2]; this.next(this.${entry}, { foreach: 'items' });` });
      return fan;
    }
    case 'switch': {
      const sw = name('switch');
      const merge = name('merge');
      out.push({ name: merge, params: '', body: `this.next(this.${next});` });
      const [a, c] = b.arms.map((arm) => compile([{ kind: 'linear' }, ...arm], merge, out, counter));
      out.push({ name: sw, params: '', body: `this.route = 'a'; this.next({ a: this.${a}, b: this.${c} }, { condition: 'route' });` });
      return sw;
    }
  }
}

function flowSteps(blocks: Block[]): StepSrc[] {
  const steps: StepSrc[] = [{ name: 'end', params: '', body: '' }];
  const entry = compile(blocks, 'end', steps, { n: 0 });
  steps.push({ name: 'start', params: '', body: `this.next(this.${entry});` });
  return steps;
}

let flowCounter = 0;
function makeFlow(steps: StepSrc[]): Function {
  const src = `return class Generated${flowCounter++} extends FlowSpec {\n${steps.map((s) => `  ${s.name}(${s.params}) { ${s.body} }`).join('\n')}\n}`;
  const cls = new Function('FlowSpec', src)(FlowSpec) as Function;
  for (const s of steps) {
    const ctx = {
      kind: 'method',
      name: s.name,
      static: false,
      private: false,
      metadata: {},
      addInitializer() {},
      access: { has: () => true, get: () => undefined },
    };
    step(cls.prototype[s.name], ctx as unknown as ClassMethodDecoratorContext);
  }
  return cls;
}

type Mutation = { rule: GraphRule; apply: (steps: StepSrc[]) => StepSrc[] | undefined };

const linear = (steps: StepSrc[]) => steps.filter((s) => s.name.startsWith('lin'));
const rename = (steps: StepSrc[], from: string, to: string) =>
  steps.map((s) => ({
    ...s,
    name: s.name === from ? to : s.name,
    body: s.body
      .replaceAll(`this.${from})`, `this.${to})`)
      .replaceAll(`this.${from},`, `this.${to},`)
      .replaceAll(`this.${from} }`, `this.${to} }`),
  }));
const targetOf = (s: StepSrc) => /this\.next\(this\.(\w+)\)/.exec(s.body)?.[1];

const MUTATIONS: Mutation[] = [
  { rule: 'no-end', apply: (steps) => rename(steps, 'end', 'finish') },
  { rule: 'no-start', apply: (steps) => rename(steps, 'start', 'begin') },
  { rule: 'reserved-name', apply: (steps) => (linear(steps)[0] ? rename(steps, linear(steps)[0]!.name, 'input') : undefined) },
  { rule: 'unreachable', apply: (steps) => [...steps, { name: 'orphan', params: '', body: 'this.next(this.end);' }] },
  {
    rule: 'unknown-target',
    apply: (steps) => {
      const l = linear(steps)[0];
      return l && steps.map((s) => (s === l ? { ...s, body: 'this.next(this.nowhere);' } : s));
    },
  },
  {
    rule: 'cycle',
    apply: (steps) => {
      const l = linear(steps)[0];
      return l && steps.map((s) => (s === l ? { ...s, body: `this.next(this.${l.name});` } : s));
    },
  },
  {
    rule: 'missing-next',
    apply: (steps) => {
      const l = linear(steps)[0];
      return l && steps.map((s) => (s === l ? { ...s, body: 'this.x = 1;' } : s));
    },
  },
  { rule: 'end-has-next', apply: (steps) => steps.map((s) => (s.name === 'end' ? { ...s, body: 'this.next(this.start);' } : s)) },
  {
    rule: 'too-many-args',
    apply: (steps) => {
      const l = linear(steps)[0];
      return l && steps.map((s) => (s === l ? { ...s, params: 'a, b' } : s));
    },
  },
  {
    rule: 'inconsistent-next',
    apply: (steps) => {
      const l = linear(steps)[0];
      if (!l) return undefined;
      const other = targetOf(l) === 'end' ? 'start' : 'end';
      return steps.map((s) => (s === l ? { ...s, body: `${s.body} if (this.x === 2) this.next(this.${other});` } : s));
    },
  },
  {
    rule: 'foreach-var',
    apply: (steps) => {
      const f = steps.find((s) => s.name.startsWith('fan'));
      return (
        f && steps.map((s) => (s === f ? { ...s, body: s.body.replace(`{ foreach: 'items' }`, `{ foreach: ['it', 'ems'].join('') }`) } : s))
      );
    },
  },
];

describe('graph validation properties', () => {
  const params = { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 150) };

  test('every generated well-formed flow is accepted', () => {
    fc.assert(
      fc.property(blockArb, (blocks) => {
        const steps = flowSteps(blocks);
        const graph = buildGraph(makeFlow(steps));
        expect(Object.keys(graph.nodes).sort()).toEqual(steps.map((s) => s.name).sort());
        // every split is closed by its join
        for (const n of Object.values(graph.nodes)) if (n.type === 'split' || n.type === 'foreach') expect(n.matchingJoin).toBeDefined();
      }),
      params,
    );
  });

  test('every mutation that breaks a rule fails with that rule’s error', () => {
    fc.assert(
      fc.property(blockArb, fc.constantFrom(...MUTATIONS), (blocks, mutation) => {
        const mutated = mutation.apply(flowSteps(blocks));
        fc.pre(mutated !== undefined);
        let error: unknown;
        try {
          buildGraph(makeFlow(mutated!));
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(GraphError);
        expect((error as GraphError).rule).toBe(mutation.rule);
      }),
      params,
    );
  });
});
