import * as acorn from 'acorn';

/** The shape of the `this.next(...)` call(s) found in one step body. @internal */
export type TransitionShape =
  | { kind: 'none' }
  | { kind: 'targets'; targets: string[] }
  | { kind: 'foreach'; target: string; foreachVar: string | null }
  | { kind: 'switch'; cases: Array<[string, string]>; condition: string | null }
  | { kind: 'invalid'; reason: string };

/** @internal */
export interface ParsedStep {
  /** Number of declared parameters (a join takes one: `inputs`). */
  paramCount: number;
  transitions: TransitionShape[];
  /** Property names read or written as `this.<name>` in the body. */
  thisMembers: string[];
  /** Every property name the body accesses (`this.x`, `input.score`...): what a task may read. */
  memberNames: string[];
  /**
   * `this.next(...)` calls inside a nested `function` (whose `this` is not the flow), as written.
   * They never run as transitions; named when the step has no transition of its own.
   */
  foreignNext: string[];
  /**
   * `x.next(x.step)` calls on something that is not `this` (a minifier or hand-written alias the
   * reader cannot prove is the flow), as written.
   */
  unprovenNext: string[];
}

type Node = acorn.Node & Record<string, any>;

const SNIPPET_MAX = 60;
const isFunction = (n: Node) => n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration';

/**
 * Reads one step body. What counts as the flow's `this`: the `this` of the method itself, of the
 * arrow functions inside it, of a generator handed `this` by a compiler's async lowering
 * (`__awaiter(this, ..., function* () {...})` from tsc, `__async(this, ..., function* () {...})`
 * from esbuild), of a function expression bound with `.call/.apply/.bind(this)`, and any local
 * name initialised to it (`var _this = this`). A nested `function` or class has its own `this`.
 */
class StepReader {
  readonly transitions: TransitionShape[] = [];
  readonly thisMembers = new Set<string>();
  readonly memberNames = new Set<string>();
  readonly foreignNext: string[] = [];
  readonly unprovenNext: string[] = [];
  private readonly aliases = new Set<string>();

  constructor(private readonly text: string) {}

  snippet(n: Node): string {
    const s = this.text.slice(n.start, n.end).replace(/\s+/g, ' ');
    return s.length > SNIPPET_MAX ? `${s.slice(0, SNIPPET_MAX - 3)}...` : s;
  }

  isFlowThis(n: Node | undefined | null, own: boolean): boolean {
    if (!n) return false;
    if (n.type === 'ThisExpression') return own;
    return n.type === 'Identifier' && this.aliases.has(n.name as string);
  }

  /** `this.<name>` (or `alias.<name>`, `this['name']`): the member name, else null. */
  flowMember(n: Node | undefined | null, own: boolean): string | null {
    if (!n || n.type !== 'MemberExpression' || !this.isFlowThis(n.object, own)) return null;
    if (!n.computed && n.property.type === 'Identifier') return n.property.name as string;
    if (n.computed && n.property.type === 'Literal' && typeof n.property.value === 'string') return n.property.value as string;
    return null;
  }

  /** Function expressions in this call's arguments or callee that run with the caller's `this`. */
  private boundFunctions(call: Node, own: boolean): Set<Node> {
    const out = new Set<Node>();
    const args = call.arguments as Node[];
    if (!this.isFlowThis(args[0], own)) return out;
    const last = args[args.length - 1];
    if (args.length >= 2 && last?.type === 'FunctionExpression' && last.generator) out.add(last);
    const callee = call.callee as Node;
    if (
      callee.type === 'MemberExpression' &&
      !callee.computed &&
      ['call', 'apply', 'bind'].includes(callee.property.name as string) &&
      callee.object.type === 'FunctionExpression'
    ) {
      out.add(callee.object);
    }
    return out;
  }

  private walk(node: Node, own: boolean, visit: (n: Node, own: boolean) => void): void {
    if (!node || typeof node.type !== 'string') return;
    visit(node, own);
    const bound = node.type === 'CallExpression' ? this.boundFunctions(node, own) : undefined;
    for (const key of Object.keys(node)) {
      if (key === 'type' || key === 'start' || key === 'end' || key === 'loc') continue;
      const child = node[key];
      const step = (c: Node) => {
        if (!c || typeof c !== 'object' || typeof c.type !== 'string') return;
        const childOwn = isFunction(c) ? (bound?.has(c) ?? false) : c.type === 'ClassBody' ? false : own;
        this.walk(c, childOwn, visit);
      };
      if (Array.isArray(child)) child.forEach(step);
      else step(child);
    }
  }

  read(fn: Node): void {
    // First the names that hold the flow's `this`, so that uses before the walk reaches them count.
    this.walk(fn.body, true, (n, own) => {
      if (n.type === 'VariableDeclarator' && n.id.type === 'Identifier' && this.isFlowThis(n.init, own)) this.aliases.add(n.id.name);
      if (n.type === 'AssignmentExpression' && n.operator === '=' && n.left.type === 'Identifier' && this.isFlowThis(n.right, own))
        this.aliases.add(n.left.name);
    });
    this.walk(fn.body, true, (n, own) => {
      const m = this.flowMember(n, own);
      if (m !== null) this.thisMembers.add(m);
      if (n.type === 'MemberExpression' && (own || m !== null)) {
        if (!n.computed && n.property.type === 'Identifier') this.memberNames.add(n.property.name as string);
        else if (n.property.type === 'Literal' && typeof n.property.value === 'string') this.memberNames.add(n.property.value as string);
      }
      if (n.type !== 'CallExpression' || n.callee.type !== 'MemberExpression') return;
      if (this.flowMember(n.callee, own) === 'next') {
        this.transitions.push(this.nextCall(n.arguments));
      } else if (n.callee.object.type === 'ThisExpression' && !own && this.flowMember(n.callee, true) === 'next') {
        this.foreignNext.push(this.snippet(n));
      } else if (n.callee.object.type === 'Identifier' && !n.callee.computed && n.callee.property.name === 'next') {
        // `e.next(e.end)`: looks like a transition on a renamed `this`. (`it.next()` or
        // `gen.next(value)` of an iterator pass no member of the same object.)
        const obj = n.callee.object.name as string;
        const onSame = (a: Node) => a?.type === 'MemberExpression' && a.object.type === 'Identifier' && a.object.name === obj;
        const args = n.arguments as Node[];
        const caseValues = args[0]?.type === 'ObjectExpression' ? (args[0].properties as Node[]).map((p) => p.value) : [];
        if (args.some(onSame) || caseValues.some(onSame)) this.unprovenNext.push(this.snippet(n));
      }
    });
  }

  /** Why a `this.next` argument is not a step written `this.<step>`. */
  private notAStep(a: Node, position: string): string {
    const rule = 'every step passed to this.next() must be written this.<step>, since the graph is read from the source before the run';
    const choose = "; to choose a step at run time, use a switch: this.next({ a: this.a, b: this.b }, { condition: 'route' })";
    const what = `${position} (\`${this.snippet(a)}\`)`;
    if (a.type === 'SpreadElement') return `${what} spreads a list made at run time: ${rule}`;
    if (a.type === 'MemberExpression' && this.isFlowThis(a.object, true) && a.computed)
      return `${what} names the step with a value computed at run time: ${rule}${choose}`;
    if (a.type === 'Identifier') return `${what} is a variable: ${rule}`;
    if (a.type === 'ConditionalExpression' || a.type === 'LogicalExpression' || a.type === 'CallExpression')
      return `${what} picks the step at run time: ${rule}${choose}`;
    return `${what} is not a step: ${rule}`;
  }

  private nextCall(args: Node[]): TransitionShape {
    if (args.length === 0) return { kind: 'invalid', reason: 'this.next() was called with no step' };
    const last = args[args.length - 1]!;
    let options: Node | null = null;
    let positional = args;
    // An options object is the trailing object literal whose values are not `this.<step>`.
    if (
      args.length >= 2 &&
      last.type === 'ObjectExpression' &&
      last.properties.every((p: Node) => this.flowMember(p.value, true) === null)
    ) {
      options = last;
      positional = args.slice(0, -1);
    }
    const opts: Record<string, Node> = {};
    for (const p of options?.properties ?? []) {
      if (p.type !== 'Property') return { kind: 'invalid', reason: 'the options object may not use spread' };
      const k = literalKey(p);
      if (k === null) return { kind: 'invalid', reason: 'option names must be plain identifiers' };
      opts[k] = p.value;
    }
    for (const k of Object.keys(opts)) {
      if (k !== 'foreach' && k !== 'condition') return { kind: 'invalid', reason: `unknown option '${k}' (expected foreach or condition)` };
    }
    const literal = (n: Node | undefined) => (n && n.type === 'Literal' && typeof n.value === 'string' ? (n.value as string) : null);

    if (positional.length === 1 && positional[0]!.type === 'ObjectExpression') {
      const cases: Array<[string, string]> = [];
      for (const p of positional[0]!.properties as Node[]) {
        if (p.type !== 'Property') return { kind: 'invalid', reason: 'switch cases may not use spread' };
        const key = literalKey(p);
        const target = this.flowMember(p.value, true);
        if (key === null) return { kind: 'invalid', reason: 'switch case keys must be string or number literals' };
        if (target === null) return { kind: 'invalid', reason: this.notAStep(p.value, `switch case '${key}'`) };
        cases.push([key, target]);
      }
      if (opts.foreach) return { kind: 'invalid', reason: 'a switch cannot also be a foreach' };
      if (!opts.condition) return { kind: 'switch', cases, condition: null };
      return { kind: 'switch', cases, condition: literal(opts.condition) ?? null };
    }
    const targets: string[] = [];
    for (const [i, a] of positional.entries()) {
      const t = this.flowMember(a, true);
      if (t === null) return { kind: 'invalid', reason: this.notAStep(a, `argument ${i + 1}`) };
      targets.push(t);
    }
    if (opts.condition) return { kind: 'invalid', reason: 'condition needs a dictionary of cases as the first argument' };
    if (opts.foreach) {
      if (targets.length !== 1) return { kind: 'invalid', reason: 'a foreach goes to exactly one step' };
      return { kind: 'foreach', target: targets[0]!, foreachVar: literal(opts.foreach) };
    }
    return { kind: 'targets', targets };
  }
}

function literalKey(prop: Node): string | null {
  if (prop.computed) return prop.key.type === 'Literal' ? String(prop.key.value) : null;
  if (prop.key.type === 'Identifier') return prop.key.name as string;
  if (prop.key.type === 'Literal') return String(prop.key.value);
  return null;
}

/**
 * The parameters a step really declares. Async lowering can move them: tsc and esbuild turn
 * `async join(inputs = []) {...}` into `join() { return __awaiter(this, arguments, ..., function* (inputs = []) {...}) }`,
 * the generator receiving the method's arguments.
 */
function declaredParams(fn: Node): number {
  const body = fn.body as Node;
  if (fn.params.length > 0 || body.type !== 'BlockStatement') return fn.params.length;
  const last = body.body[body.body.length - 1] as Node | undefined;
  const call = last?.type === 'ReturnStatement' ? (last.argument as Node | null) : null;
  if (call?.type !== 'CallExpression' || call.arguments[0]?.type !== 'ThisExpression') return 0;
  const gen = call.arguments[call.arguments.length - 1] as Node;
  const passesArguments = (call.arguments as Node[]).some((a) => a.type === 'Identifier' && a.name === 'arguments');
  return gen.type === 'FunctionExpression' && gen.generator && passesArguments ? gen.params.length : 0;
}

/**
 * Parse one step method's source (as `Function.prototype.toString` returns it, or as sliced from
 * its class's source) and find its `this.next(...)` transitions. Works on what tsc, esbuild and
 * tsx emit down to ES2015: native or lowered async, arrow callbacks, `_this` aliases.
 * @internal
 */
export function parseStepSource(source: string): ParsedStep {
  let fn: Node;
  let text: string;
  try {
    // A method's toString is `name(...) {...}` (maybe async/generator): valid inside an object literal.
    text = `({ ${source} \n})`;
    const program = acorn.parse(text, { ecmaVersion: 'latest', sourceType: 'module' }) as Node;
    fn = program.body[0].expression.properties[0].value;
  } catch {
    text = `(${source})`;
    const program = acorn.parse(text, { ecmaVersion: 'latest', sourceType: 'module' }) as Node;
    fn = program.body[0].expression;
  }
  const reader = new StepReader(text);
  reader.read(fn);
  return {
    paramCount: declaredParams(fn),
    transitions: reader.transitions,
    thisMembers: [...reader.thisMembers],
    memberNames: [...reader.memberNames],
    foreignNext: reader.foreignNext,
    unprovenNext: reader.unprovenNext,
  };
}
