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
}

type Node = acorn.Node & Record<string, any>;

function isThisMember(node: Node | undefined | null): string | null {
  if (!node || node.type !== 'MemberExpression' || node.object?.type !== 'ThisExpression') return null;
  if (!node.computed && node.property.type === 'Identifier') return node.property.name as string;
  if (node.computed && node.property.type === 'Literal' && typeof node.property.value === 'string') return node.property.value as string;
  return null;
}

function literalKey(prop: Node): string | null {
  if (prop.computed) return prop.key.type === 'Literal' ? String(prop.key.value) : null;
  if (prop.key.type === 'Identifier') return prop.key.name as string;
  if (prop.key.type === 'Literal') return String(prop.key.value);
  return null;
}

function parseNextCall(args: Node[]): TransitionShape {
  if (args.length === 0) return { kind: 'invalid', reason: 'this.next() was called with no step' };
  const last = args[args.length - 1]!;
  let options: Node | null = null;
  let positional = args;
  // An options object is the trailing object literal whose values are not `this.<step>`.
  if (args.length >= 2 && last.type === 'ObjectExpression' && last.properties.every((p: Node) => !isThisMember(p.value))) {
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
      const target = isThisMember(p.value);
      if (key === null) return { kind: 'invalid', reason: 'switch case keys must be string or number literals' };
      if (target === null) return { kind: 'invalid', reason: `switch case '${key}' must point at a step, written this.<step>` };
      cases.push([key, target]);
    }
    if (opts.foreach) return { kind: 'invalid', reason: 'a switch cannot also be a foreach' };
    if (!opts.condition) return { kind: 'switch', cases, condition: null };
    return { kind: 'switch', cases, condition: literal(opts.condition) ?? null };
  }
  const targets: string[] = [];
  for (const a of positional) {
    const t = isThisMember(a);
    if (t === null) return { kind: 'invalid', reason: 'every step passed to this.next() must be written this.<step>' };
    targets.push(t);
  }
  if (opts.condition) return { kind: 'invalid', reason: 'condition needs a dictionary of cases as the first argument' };
  if (opts.foreach) {
    if (targets.length !== 1) return { kind: 'invalid', reason: 'a foreach goes to exactly one step' };
    return { kind: 'foreach', target: targets[0]!, foreachVar: literal(opts.foreach) };
  }
  return { kind: 'targets', targets };
}

function walk(node: Node, visit: (n: Node) => void, inOwnThis = true): void {
  if (!node || typeof node.type !== 'string') return;
  // A nested non-arrow function has its own `this`: calls in it are not this step's transitions.
  if (!inOwnThis) return;
  visit(node);
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end' || key === 'loc') continue;
    const child = node[key];
    const nested = (c: Node) =>
      walk(c, visit, !(c.type === 'FunctionExpression' || c.type === 'FunctionDeclaration' || c.type === 'ClassBody'));
    if (Array.isArray(child)) for (const c of child) c && typeof c === 'object' && nested(c);
    else if (child && typeof child === 'object' && typeof child.type === 'string') nested(child);
  }
}

/**
 * Parse one step method's source (as `Function.prototype.toString` returns it) and find its
 * `this.next(...)` transitions. Works on what tsc, esbuild and tsx emit: method bodies survive
 * compilation unchanged apart from formatting.
 * @internal
 */
export function parseStepSource(source: string): ParsedStep {
  let fn: Node;
  try {
    // A method's toString is `name(...) {...}` (maybe async/generator): valid inside an object literal.
    const program = acorn.parse(`({ ${source} \n})`, { ecmaVersion: 'latest', sourceType: 'module' }) as Node;
    fn = program.body[0].expression.properties[0].value;
  } catch {
    const program = acorn.parse(`(${source})`, { ecmaVersion: 'latest', sourceType: 'module' }) as Node;
    fn = program.body[0].expression;
  }
  const transitions: TransitionShape[] = [];
  const members = new Set<string>();
  const names = new Set<string>();
  walk(fn.body, (n) => {
    if (n.type === 'MemberExpression') {
      if (!n.computed && n.property.type === 'Identifier') names.add(n.property.name as string);
      else if (n.property.type === 'Literal' && typeof n.property.value === 'string') names.add(n.property.value as string);
    }
    if (n.type === 'CallExpression' && isThisMember(n.callee) === 'next') {
      transitions.push(parseNextCall(n.arguments));
    }
    const m = isThisMember(n);
    if (m !== null) members.add(m);
  });
  return { paramCount: fn.params.length, transitions, thisMembers: [...members], memberNames: [...names] };
}
