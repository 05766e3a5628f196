import { baseEnvironmentOf } from '../flow/environment-decorators.ts';
import { sha256 } from '../util/hash.ts';
import { checkFieldDeclarations } from '../flow/fields.ts';
import { flowNameOf } from '../flow/flow-name.ts';
import { paramsOf, stepsOf, type StepRecord } from '../flow/registry.ts';
import { GraphError, type GraphRule } from './graph-error.ts';
import type { FlowGraph, GraphNode } from './ir.ts';
import { parseStepSource, type ParsedStep, type TransitionShape } from './parse-step.ts';
import { stepSource, type StepSource } from './step-source.ts';

/** Names a step or artifact may not take: they are members of every flow. @internal */
export const RESERVED_NAMES = new Set([
  'next',
  'input',
  'index',
  'mergeArtifacts',
  'checkpoint',
  'current',
  'foreachStack',
  'card',
  'constructor',
]);
const STEP_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const NEXT_FORMS =
  "Use one of: this.next(this.a); this.next(this.a, this.b); this.next(this.a, { foreach: 'items' }); " +
  "this.next({ yes: this.a, no: this.b }, { condition: 'route' }).";

const cache = new WeakMap<Function, FlowGraph>();

/**
 * Build and validate the static graph of a flow class from its step bodies' `this.next(...)`
 * calls. Throws `GraphError` (code `GRAPH_INVALID`) naming the rule, the step, and what to do.
 * @public
 */
export function buildGraph(flowClass: Function): FlowGraph {
  const hit = cache.get(flowClass);
  if (hit) return hit;
  const graph = new GraphBuilder(flowClass).build();
  cache.set(flowClass, graph);
  return graph;
}

function sameShape(a: TransitionShape, b: TransitionShape): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

class GraphBuilder {
  private readonly flow: string;
  private readonly steps: Map<string, StepRecord>;
  private readonly parsed = new Map<string, ParsedStep>();
  private readonly sources = new Map<string, StepSource>();
  private readonly nodes: Record<string, GraphNode> = {};

  constructor(private readonly flowClass: Function) {
    this.flow = flowNameOf(flowClass);
    this.steps = stepsOf(flowClass);
  }

  private fail(rule: GraphRule, message: string, step?: string): never {
    throw new GraphError(this.flow, rule, message, step);
  }

  build(): FlowGraph {
    this.refuseEs5Class();
    const names = [...this.steps.keys()];
    for (const name of names) {
      if (RESERVED_NAMES.has(name)) {
        this.fail(
          'reserved-name',
          `Step *${name}* uses a reserved name. Rename it: ${[...RESERVED_NAMES].filter((n) => n !== 'constructor').join(', ')} are members of every flow.`,
          name,
        );
      }
      if (!STEP_NAME.test(name)) {
        this.fail(
          'step-name',
          `Step *${name}* has an invalid name. Step names start with a letter and contain only letters, digits and _.`,
          name,
        );
      }
    }
    checkFieldDeclarations(this.flowClass); // issue 9 item 3: before anything runs
    const start = this.pickTerminal('start', names);
    const end = this.pickTerminal('end', names);
    for (const p of paramsOf(this.flowClass)) {
      if (this.steps.has(p.name))
        this.fail('param-clash', `Parameter *${p.name}* has the same name as a step. Rename one of them.`, p.name);
      if (RESERVED_NAMES.has(p.name)) this.fail('reserved-name', `Parameter *${p.name}* uses a reserved name. Rename it.`, p.name);
    }

    for (const name of names) this.parseStep(name, name === end);
    for (const name of names) this.nodes[name] = this.makeNode(name, name === end);
    for (const node of Object.values(this.nodes)) {
      for (const n of node.next) {
        if (!this.nodes[n])
          this.fail(
            'unknown-target',
            `Step *${node.name}* specifies a transition to an unknown step, *${n}*. Define it as a @step method or fix the name.`,
            node.name,
          );
        if (!this.nodes[n]!.inFuncs.includes(node.name)) this.nodes[n]!.inFuncs.push(node.name);
      }
    }
    this.checkSwitches();
    for (const node of Object.values(this.nodes)) {
      if (node.decorators.catch && (node.type === 'foreach' || node.type === 'switch')) {
        this.fail(
          'catch-on-split',
          `Step *${node.name}* is a ${node.type} step and cannot use @catch: a failure there leaves no items or case to go on with. Move the risky work into a step before it.`,
          node.name,
        );
      }
    }
    if (this.nodes[start]!.inFuncs.length > 0) {
      this.fail(
        'start-incoming',
        `The start step *${start}* cannot have incoming transitions (from *${this.nodes[start]!.inFuncs.join(', ')}*). Point them at another step.`,
        start,
      );
    }
    this.checkCycles(start);
    const order = this.checkReachable(start);
    this.checkEmptyForeach();
    this.checkSwitchIntoJoin();
    this.checkMissingJoin();
    this.checkBalance(start, end);
    this.assignSplitParents(start);
    return { flow: this.flow, start, end, order, nodes: this.nodes };
  }

  private pickTerminal(which: 'start' | 'end', names: string[]): string {
    const marked = names.filter((n) => this.steps.get(n)![which]);
    if (marked.length > 1) {
      this.fail(
        which === 'start' ? 'no-start' : 'no-end',
        `Your flow has ${marked.length} ${which} steps (*${marked.join(', ')}*). Keep exactly one @step({ ${which}: true }).`,
      );
    }
    if (marked.length === 1) return marked[0]!;
    if (names.length === 1) return names[0]!;
    if (this.steps.has(which)) return which;
    this.fail(
      which === 'start' ? 'no-start' : 'no-end',
      `Your flow must have exactly one ${which} step. Either name a step '${which}' or use @step({ ${which}: true }).`,
    );
  }

  private parseStep(name: string, isEnd: boolean): void {
    let parsed: ParsedStep;
    const source = stepSource(this.flowClass, name, this.steps.get(name)!.fn);
    this.sources.set(name, source);
    try {
      parsed = parseStepSource(source.text);
    } catch (err) {
      this.fail(
        'unreadable-source',
        `Step *${name}* could not be parsed to find its this.next() call (${(err as Error).message}). ` +
          'The graph is read from the source text of each step: a step must be a method written in the class, not a bound or native function.',
        name,
      );
    }
    this.parsed.set(name, parsed);
    if (parsed.paramCount > 1) {
      this.fail(
        'too-many-args',
        `Step *${name}* takes ${parsed.paramCount} parameters. A step takes none, or one (inputs) if it is a join.`,
        name,
      );
    }
    if (isEnd) {
      if (parsed.transitions.length > 0)
        this.fail('end-has-next', `The terminal step *${name}* must not call this.next(). Remove the call.`, name);
      if (parsed.paramCount === 1)
        this.fail(
          'end-is-join',
          `The terminal step *${name}* should not be a join step (it takes inputs). Add a join step before it.`,
          name,
        );
      return;
    }
    if (parsed.transitions.length === 0) {
      this.explainMissingNext(name, parsed, source);
      this.fail(
        'missing-next',
        `Step *${name}* is missing a this.next() transition to the next step. Add a this.next() call at the end of the method.`,
        name,
      );
    }
    const first = parsed.transitions[0]!;
    for (const t of parsed.transitions) {
      if (t.kind === 'invalid')
        this.fail('invalid-next', `Step *${name}* has an invalid this.next() transition: ${t.reason}. ${NEXT_FORMS}`, name);
    }
    if (!parsed.transitions.every((t) => sameShape(t, first))) {
      this.fail(
        'inconsistent-next',
        `Step *${name}* calls this.next() with different transitions. The graph must be static: call this.next() once, or route with a switch: this.next({ a: this.x, b: this.y }, { condition: 'route' }).`,
        name,
      );
    }
    if (first.kind === 'foreach' && first.foreachVar === null) {
      this.fail(
        'foreach-var',
        `Step *${name}* has a foreach whose variable is not a string literal. Write this.next(this.${first.target}, { foreach: 'items' }) naming the artifact to fan out over.`,
        name,
      );
    }
  }

  /**
   * A flow compiled to ES5 is a constructor function calling FlowSpec (a native class) without
   * `new`: it cannot run, and its steps are not methods of a class source. Say so before anything.
   */
  private refuseEs5Class(): void {
    const text = Function.prototype.toString.call(this.flowClass);
    if (!/^\s*function\b/.test(text) || text.includes('[native code]')) return;
    this.fail(
      'unreadable-source',
      `Flow ${this.flow} was compiled to ES5: its class is a function, which cannot extend FlowSpec (a native class). ` +
        'Compile flows to ES2015 or later: "target": "ES2017" (or newer) in tsconfig.json, or --target=es2017 for esbuild.',
    );
  }

  /** A step with no `this.next` the reader can see: say exactly why when the source shows it. */
  private explainMissingNext(name: string, parsed: ParsedStep, source: StepSource): void {
    if (parsed.foreignNext.length > 0) {
      this.fail(
        'missing-next',
        `Step *${name}* calls ${parsed.foreignNext[0]} inside a nested function(), whose \`this\` is not the flow. ` +
          'Use an arrow function for the callback (items.forEach(() => this.next(this.end))), or call this.next() in the step itself.',
        name,
      );
    }
    if (parsed.unprovenNext.length > 0) {
      this.fail(
        'unreadable-source',
        `Step *${name}* calls ${parsed.unprovenNext[0]}: that looks like this.next() on \`this\` under another name, which the graph reader cannot prove is the flow ` +
          '(it follows `const self = this`, not `this` passed into a function). Write this.next(this.<step>) in the step itself.',
        name,
      );
    }
    if (source.from === 'function') {
      this.fail(
        'unreadable-source',
        `Step *${name}* has no this.next() call in the function @step received, and the source of class ${source.className ?? this.flow} has no method ${name}() to read instead. ` +
          `If another decorator wraps the method before @step sees it, put @step last, directly above the method (\`@logged @step ${name}() {...}\`); otherwise add the this.next() call.`,
        name,
      );
    }
  }

  private makeNode(name: string, isEnd: boolean): GraphNode {
    const rec = this.steps.get(name)!;
    const parsed = this.parsed.get(name)!;
    const d = rec.decorations;
    const decorators: Record<string, unknown> = { ...d.other };
    if (d.retry) decorators.retry = d.retry;
    if (d.catch) decorators.catch = d.catch;
    if (d.timeout) decorators.timeout = d.timeout;
    if (d.resources) decorators.resources = d.resources;
    // The flow's default environment (@pypiBase...) for a step without its own.
    const flowEnvironment = baseEnvironmentOf(this.flowClass);
    if (!decorators.environment && flowEnvironment) decorators.environment = flowEnvironment;
    // `@pypi({ disabled: true })`: this step runs without one, whatever the flow's default.
    if ((decorators.environment as { disabled?: boolean } | undefined)?.disabled) delete decorators.environment;
    const base = {
      name,
      inFuncs: [] as string[],
      splitParents: [] as string[],
      insideForeach: false,
      decorators,
      ...(parsed.thisMembers.includes('checkpoint') ? { usesCheckpoint: true } : {}),
      reads: parsed.memberNames.filter((n) => n !== 'next'),
      // What a resume compares to tell a step whose code changed since the origin run.
      codeHash: sha256(Buffer.from(this.sources.get(name)!.text)),
    };
    if (isEnd) return { ...base, type: 'end', next: [] };
    const t = parsed.transitions[0]!;
    const join = parsed.paramCount === 1;
    switch (t.kind) {
      case 'targets':
        if (t.targets.length > 1) {
          if (new Set(t.targets).size !== t.targets.length)
            this.fail('invalid-next', `Step *${name}* lists the same step twice in this.next(). ${NEXT_FORMS}`, name);
          return { ...base, type: 'split', next: t.targets };
        }
        return { ...base, type: join ? 'join' : 'linear', next: t.targets };
      case 'foreach':
        return { ...base, type: 'foreach', next: [t.target], foreachVar: t.foreachVar! };
      case 'switch':
        return {
          ...base,
          type: 'switch',
          next: [...new Set(t.cases.map(([, s]) => s))],
          switchCases: Object.fromEntries(t.cases),
          ...(t.condition === null ? {} : { condition: t.condition }),
        };
      default:
        throw new Error('unreachable');
    }
  }

  private checkSwitches(): void {
    for (const node of Object.values(this.nodes)) {
      if (node.type !== 'switch') continue;
      const cases = Object.keys(node.switchCases!);
      if (cases.length < 2)
        this.fail(
          'switch-cases',
          `Step *${node.name}* is a switch with ${cases.length} case; a switch needs at least two cases.`,
          node.name,
        );
      if (node.condition === undefined) {
        this.fail(
          'switch-condition',
          `Step *${node.name}* is a switch without a condition. Pass { condition: 'name' } naming the artifact (a string literal) whose value picks the case.`,
          node.name,
        );
      }
    }
  }

  private checkCycles(start: string): void {
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (name: string) => {
      state.set(name, 'open');
      path.push(name);
      const node = this.nodes[name]!;
      for (const n of node.next) {
        if (n === name && node.type === 'switch') continue; // a switch listing itself: the one allowed loop
        if (state.get(n) === 'open') {
          const loop = [...path.slice(path.indexOf(n)), n].join('->');
          this.fail(
            'cycle',
            `There is a loop in your flow: *${loop}*. Break the loop; the only loop allowed is a switch step that lists itself as a case.`,
            name,
          );
        }
        if (!state.has(n)) visit(n);
      }
      path.pop();
      state.set(name, 'done');
    };
    visit(start);
    for (const name of Object.keys(this.nodes)) if (!state.has(name)) visit(name);
  }

  private checkReachable(start: string): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      order.push(name);
      for (const n of this.nodes[name]!.next) visit(n);
    };
    visit(start);
    for (const name of Object.keys(this.nodes)) {
      if (!seen.has(name)) {
        this.fail(
          'unreachable',
          `Step *${name}* is unreachable from the start step *${start}*. Add this.next(this.${name}) in another step or remove *${name}*.`,
          name,
        );
      }
    }
    return order;
  }

  private checkEmptyForeach(): void {
    for (const node of Object.values(this.nodes)) {
      if (node.type === 'foreach' && this.nodes[node.next[0]!]!.type === 'join') {
        this.fail(
          'empty-foreach',
          `Step *${node.name}* is a foreach split that has no children: it is followed immediately by a join step, *${node.next[0]}*. Add at least one step between the split and the join.`,
          node.name,
        );
      }
    }
  }

  /** Every split is joined exactly once, by a join with the right number of incoming paths. */
  private checkBalance(start: string, end: string): void {
    const seen = new Set<string>();
    const visit = (name: string, stack: string[]) => {
      const key = `${name}|${stack.join(',')}`;
      if (seen.has(key)) return;
      seen.add(key);
      const node = this.nodes[name]!;
      let next = stack;
      if (node.type === 'split' || node.type === 'foreach') next = [...stack, name];
      else if (node.type === 'end') {
        if (stack.length > 0) {
          const roots = this.nodes[stack[stack.length - 1]!]!.next.join(', ');
          this.fail(
            'split-not-joined',
            `The terminal step *${end}* was reached before a split started at step(s) *${roots}* were joined. Add a join step before *${end}*.`,
            end,
          );
        }
      } else if (node.type === 'join') {
        if (stack.length === 0) {
          this.fail(
            'join-without-split',
            `Step *${name}* seems like a join step (it takes inputs), but it is not preceded by a split. Ensure that there is a matching split for every join, or remove the inputs parameter.`,
            name,
          );
        }
        this.checkJoinArity(name, stack[stack.length - 1]!);
        next = stack.slice(0, -1);
      }
      for (const n of node.next) if (n !== name) visit(n, next);
    };
    visit(start, []);
  }

  private reachableFrom(root: string, stopAt: string): Set<string> {
    const out = new Set<string>();
    const todo = [root];
    while (todo.length) {
      const n = todo.pop()!;
      if (n === stopAt || out.has(n)) continue;
      out.add(n);
      todo.push(...this.nodes[n]!.next);
    }
    return out;
  }

  private checkJoinArity(joinName: string, splitName: string): void {
    const join = this.nodes[joinName]!;
    const split = this.nodes[splitName]!;
    const branches = split.next.map((r) => this.reachableFrom(r, joinName));
    const reached = new Set<number>();
    for (const p of join.inFuncs) {
      const owners = branches.map((b, i) => (b.has(p) ? i : -1)).filter((i) => i >= 0);
      if (owners.length === 0) {
        this.fail(
          'unrelated-join',
          `Step *${joinName}* joins steps from unrelated splits (*${p}* does not descend from split *${splitName}*). Ensure that there is a matching join for every split.`,
          joinName,
        );
      }
      owners.forEach((i) => reached.add(i));
    }
    if (reached.size !== split.next.length) {
      this.fail(
        'join-arity',
        `Step *${joinName}* seems like a join step (it takes inputs) but an incorrect number of steps (*${join.inFuncs.join(', ')}*) lead to it. This join was expecting ${split.next.length} incoming paths, starting from split step(s) *${split.next.join(', ')}*.`,
        joinName,
      );
    }
  }

  private checkSwitchIntoJoin(): void {
    for (const node of Object.values(this.nodes)) {
      if (node.type !== 'switch') continue;
      for (const [value, target] of Object.entries(node.switchCases!)) {
        if (this.nodes[target]!.type === 'join') {
          this.fail(
            'switch-into-join',
            `A conditional path cannot lead directly to a join step. In step *${node.name}*, case '${value}' goes to join *${target}*: introduce an intermediate, unconditional step.`,
            node.name,
          );
        }
      }
    }
  }

  /** A non-join step reached from several branches of a static split would run once per branch. */
  private checkMissingJoin(): void {
    for (const node of Object.values(this.nodes)) {
      const incoming = node.inFuncs.filter((p) => p !== node.name);
      if (node.type === 'join' || node.type === 'end' || incoming.length < 2) continue;
      const fromSwitchOnly = incoming.every((p) => this.comesThroughSwitch(p));
      if (!fromSwitchOnly) {
        this.fail(
          'missing-join',
          `Step *${node.name}* has ${node.inFuncs.length} incoming transitions (*${node.inFuncs.join(', ')}*) but takes no inputs. Make it a join: ${node.name}(inputs) { ... }.`,
          node.name,
        );
      }
    }
  }

  /**
   * True when walking up from `from` meets a switch choice before any split it is inside of:
   * then the paths into the reconvergence step are alternatives, not parallel branches.
   * Closed blocks (a join and its split) are skipped whole; a switch that only loops on itself
   * is not a choice between paths.
   */
  private comesThroughSwitch(from: string): boolean {
    const seen = new Set<string>();
    let name: string | undefined = from;
    while (name !== undefined && !seen.has(name)) {
      seen.add(name);
      const node: GraphNode = this.nodes[name]!;
      if (node.type === 'switch' && node.next.filter((t) => t !== node.name).length >= 2) return true;
      if (node.type === 'split' || node.type === 'foreach') return false;
      if (node.type === 'join') {
        const split = this.openingSplit(node.name);
        if (split === undefined) return false;
        name = this.nodes[split]!.inFuncs.find((p) => p !== split);
        continue;
      }
      name = node.inFuncs.find((p) => p !== name);
    }
    return false;
  }

  /** The split or foreach a join closes, found by walking up one path and counting nesting. */
  private openingSplit(join: string): string | undefined {
    let depth = 1;
    const seen = new Set<string>();
    let name = this.nodes[join]!.inFuncs[0];
    while (name !== undefined && !seen.has(name)) {
      seen.add(name);
      const node: GraphNode = this.nodes[name]!;
      if (node.type === 'join') depth++;
      else if (node.type === 'split' || node.type === 'foreach') {
        if (--depth === 0) return name;
      }
      const current: string = name;
      name = node.inFuncs.find((p) => p !== current);
    }
    return undefined;
  }

  private assignSplitParents(start: string): void {
    const seen = new Set<string>();
    const visit = (name: string, stack: string[]) => {
      if (seen.has(name)) return;
      seen.add(name);
      const node = this.nodes[name]!;
      let childStack = stack;
      if (node.type === 'join') {
        this.nodes[stack[stack.length - 1]!]!.matchingJoin = name;
        childStack = stack.slice(0, -1);
        node.splitParents = childStack;
      } else {
        node.splitParents = stack;
        if (node.type === 'split' || node.type === 'foreach') childStack = [...stack, name];
      }
      node.insideForeach = node.splitParents.some((p) => this.nodes[p]!.type === 'foreach');
      for (const n of node.next) visit(n, childStack);
    };
    visit(start, []);
  }
}
