import * as acorn from 'acorn';

type Node = acorn.Node & Record<string, any>;

/** A step's source text, and where it was read. @internal */
export interface StepSource {
  text: string;
  /**
   * `class`: the method as written in the source of the class that declares it. `function`: the
   * text of the function @step received (the class source had no such method).
   */
  from: 'class' | 'function';
  /** The class whose source was searched (its name, for messages). */
  className?: string;
}

const methodsCache = new WeakMap<Function, Map<string, string> | null>();

/** Instance methods written in a class's source text, by name (null: the text is not a class). */
function methodsOf(cls: Function): Map<string, string> | null {
  if (methodsCache.has(cls)) return methodsCache.get(cls)!;
  let found: Map<string, string> | null = null;
  try {
    const text = Function.prototype.toString.call(cls);
    const expr = (acorn.parse(`(${text}\n)`, { ecmaVersion: 'latest', sourceType: 'module' }) as Node).body[0].expression as Node;
    if (expr.type === 'ClassExpression') {
      found = new Map();
      for (const m of expr.body.body as Node[]) {
        if (m.type !== 'MethodDefinition' || m.kind !== 'method' || m.static) continue;
        const key = m.computed
          ? m.key.type === 'Literal'
            ? String(m.key.value)
            : null
          : m.key.type === 'Identifier'
            ? (m.key.name as string)
            : m.key.type === 'Literal'
              ? String(m.key.value)
              : null;
        // The source is wrapped in one `(`: positions are one past the class text's.
        if (key !== null) found.set(key, text.slice(m.start - 1, m.end - 1));
      }
    }
  } catch {
    found = null; // not parseable as a class (e.g. native code): fall back to the function text
  }
  methodsCache.set(cls, found);
  return found;
}

/**
 * The source of step `name` of `flowClass`, for the graph and the step's code hash. Read from the
 * declaring class's own source text: a decorator that wraps a step (`@step @logged train()`)
 * hands @step a wrapper whose text is not the step's, and the prototype may hold a wrapper too;
 * the class text always has the method as written (and for an unwrapped step it is exactly what
 * the method's toString gives, so code hashes do not change).
 * @internal
 */
export function stepSource(flowClass: Function, name: string, recorded: Function): StepSource {
  for (let proto = flowClass.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (!Object.prototype.hasOwnProperty.call(proto, name)) continue;
    const cls = proto.constructor;
    if (typeof cls !== 'function' || cls.prototype !== proto) break;
    const text = methodsOf(cls)?.get(name);
    if (text !== undefined) return { text, from: 'class', className: cls.name };
    return { text: Function.prototype.toString.call(recorded), from: 'function', className: cls.name };
  }
  return { text: Function.prototype.toString.call(recorded), from: 'function' };
}
