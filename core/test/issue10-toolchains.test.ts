// Issue 10 item 5: the static graph of a flow is the same whichever toolchain compiled it.
// Each fixture flow (TypeScript, in fixtures/issue10-toolchains) is compiled here by tsc and
// esbuild at several targets into .generated/toolchains/<variant>/ (gitignored; inside the repo
// so that `@tributary/core` resolves from the output), then loaded in a fresh Node process the
// way a user's program loads it, and its graph compared with the one tsx gives for the source.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import fc from 'fast-check';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildGraph, FlowSpec, GraphError, renderGraph, runFlow, sha256, step, type FlowGraph } from 'tributary';
import { parseStepSource } from '../src/graph/parse-step.ts';
import { tempHome } from '../../cli/test/helpers.ts';

const coreDir = fileURLToPath(new URL('../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/issue10-toolchains/', import.meta.url));
const generated = fileURLToPath(new URL('./.generated/toolchains/', import.meta.url));
const cliBin = fileURLToPath(new URL('../../cli/bin/tributary.js', import.meta.url));
const flowFiles = ['linear', 'branch', 'foreach', 'switch', 'arrow', 'wrapped'];

interface Variant {
  name: string;
  /** What the variant's output must contain (proof that the toolchain lowered what we claim). */
  marks: RegExp[];
  compile(file: string): Promise<string>;
}

const tsc = (name: string, target: ts.ScriptTarget, marks: RegExp[]): Variant => ({
  name,
  marks: [/__esDecorate\(/, ...marks],
  async compile(file) {
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      reportDiagnostics: true,
      compilerOptions: { target, module: ts.ModuleKind.ESNext, experimentalDecorators: false },
    });
    if (out.diagnostics?.length) throw new Error(ts.flattenDiagnosticMessageText(out.diagnostics[0]!.messageText, '\n'));
    return out.outputText;
  },
});

const esb = (name: string, target: string, marks: RegExp[]): Variant => ({
  name,
  marks: [/__decorateElement\(/, ...marks],
  async compile(file) {
    const out = await esbuild.transform(readFileSync(file, 'utf8'), { loader: 'ts', format: 'esm', target, sourcefile: file });
    return out.code;
  },
});

// Native async stays native down to ES2017 in both compilers; ES2015/ES2016 lower every async
// step into a generator handed `this` (tsc: __awaiter, esbuild: __async).
const compiled: Variant[] = [
  tsc('tsc-es2022', ts.ScriptTarget.ES2022, [/async work\(\)/]),
  tsc('tsc-es2017', ts.ScriptTarget.ES2017, [/async work\(\)/]),
  tsc('tsc-es2015', ts.ScriptTarget.ES2015, [/__awaiter\(this, void 0, void 0, function\* \(\)/]),
  esb('esbuild-es2020', 'es2020', [/async work\(\)/]),
  esb('esbuild-es2017', 'es2017', [/async work\(\)/, /__publicField\(/]),
  esb('esbuild-es2016', 'es2016', [/__async\(this, null, function\* \(\)/]),
  {
    // What a service bundler does: one minified file, the framework left external, names kept.
    name: 'esbuild-bundle-min',
    marks: [/__decorateElement|[a-zA-Z_$]+\(\w+,1,"start"/],
    async compile(file) {
      const out = await esbuild.build({
        entryPoints: [file],
        bundle: true,
        external: ['@tributary/core'],
        format: 'esm',
        platform: 'node',
        target: 'es2017',
        minify: true,
        keepNames: true,
        write: false,
      });
      return out.outputFiles[0]!.text;
    },
  },
];

/** The output of one variant, and the flows' files in it. */
const outputs = new Map<string, Record<string, string>>();

interface Printed {
  file: string;
  name: string;
  graph?: FlowGraph;
  json?: string;
  error?: { rule: string; message: string };
}

/** tsx's loader, from whichever of our packages depends on it. */
function tsxLoader(): string {
  for (const pkg of [join(coreDir, 'package.json'), fileURLToPath(new URL('../../cli/package.json', import.meta.url))]) {
    try {
      return pathToFileURL(createRequire(pkg).resolve('tsx')).href;
    } catch {
      // not a dependency of this package: try the next
    }
  }
  throw new Error('tsx is not resolvable from core or cli');
}

/** Load modules in a fresh Node process (tsx only for `.ts` files and our own sources) and print their graphs. */
function printGraphs(files: string[]): Printed[] {
  const r = spawnSync(process.execPath, ['--import', tsxLoader(), join(fixtures, 'print-graphs.ts'), ...files], {
    cwd: coreDir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`print-graphs failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Printed[];
}

/** The graph minus the code hash: a hash of the step's text, which every compiler prints differently. */
function comparable(graph: FlowGraph): unknown {
  return {
    ...graph,
    nodes: Object.fromEntries(Object.entries(graph.nodes).map(([k, { codeHash: _hash, ...node }]) => [k, node])),
  };
}

let printed: Map<string, Printed[]>;

// The outputs are left in place after the run, for a look at what each toolchain emitted.
beforeAll(async () => {
  rmSync(generated, { recursive: true, force: true });
  for (const v of [...compiled, tsc('tsc-es5', ts.ScriptTarget.ES5, [/__extends\(/])]) {
    const dir = join(generated, v.name);
    mkdirSync(dir, { recursive: true });
    const files: Record<string, string> = {};
    for (const f of flowFiles) {
      const code = await v.compile(join(fixtures, `${f}.ts`));
      writeFileSync(join(dir, `${f}.js`), code);
      files[f] = code;
    }
    outputs.set(v.name, files);
  }
  const all = [
    ...flowFiles.map((f) => join(fixtures, `${f}.ts`)),
    ...[...outputs.keys()].flatMap((v) => flowFiles.map((f) => join(generated, v, `${f}.js`))),
  ];
  printed = new Map();
  for (const p of printGraphs(all)) {
    const variant = p.file.startsWith(fixtures) ? 'tsx' : basename(join(p.file, '..'));
    printed.set(variant, [...(printed.get(variant) ?? []), p]);
  }
}, 120_000);

describe('issue 10 item 5: graph extraction survives real toolchains', () => {
  test('issue 10 item 5: each variant was really compiled the way it claims', () => {
    for (const v of compiled) {
      const code = Object.values(outputs.get(v.name)!).join('\n');
      for (const mark of v.marks) expect(code, `${v.name} output should match ${mark}`).toMatch(mark);
      expect(code, v.name).not.toMatch(/^\s*@(step|retry|logged|param)\b/m); // lowered, not left for Node to parse
    }
  });

  test('issue 10 item 5: the toolchain matrix test: same graph JSON for every compiled variant', () => {
    const reference = new Map(printed.get('tsx')!.map((p) => [p.name, p]));
    for (const ref of reference.values()) expect(ref.error, `${ref.name} under tsx`).toBeUndefined();
    expect([...reference.keys()].sort()).toEqual(['ArrowFlow', 'BranchFlow', 'ForeachFlow', 'LinearFlow', 'SwitchFlow', 'WrappedFlow']);
    // The matrix: toolchain x flow, 'pass' when the graph (codeHash aside) and its JSON rendering
    // are identical to tsx's, else why not.
    const matrix: Record<string, Record<string, string>> = {};
    const expected: Record<string, Record<string, string>> = {};
    for (const v of compiled.map((c) => c.name)) {
      matrix[v] = {};
      expected[v] = {};
      for (const p of printed.get(v)!) {
        const ref = reference.get(p.name)!;
        expected[v][p.name] = 'pass';
        if (p.error) matrix[v][p.name] = `${p.error.rule}: ${p.error.message}`;
        else if (p.json !== ref.json) matrix[v][p.name] = `json differs:\n${p.json}`;
        else if (JSON.stringify(comparable(p.graph!)) !== JSON.stringify(comparable(ref.graph!)))
          matrix[v][p.name] = `graph differs:\n${JSON.stringify(comparable(p.graph!))}`;
        else matrix[v][p.name] = 'pass';
      }
      expect(Object.keys(matrix[v]).sort(), v).toEqual([...reference.keys()].sort());
    }
    expect(matrix).toEqual(expected);
  });

  test('issue 10 item 5: the reference graphs are the flows as written', () => {
    const g = Object.fromEntries(printed.get('tsx')!.map((p) => [p.name, p.graph!]));
    const types = (f: FlowGraph) => Object.fromEntries(f.order.map((n) => [n, f.nodes[n]!.type]));
    expect(types(g.LinearFlow!)).toEqual({ start: 'linear', train: 'linear', end: 'end' });
    expect(types(g.BranchFlow!)).toEqual({ start: 'split', left: 'linear', join: 'join', right: 'linear', end: 'end' });
    expect(g.BranchFlow!.nodes.left!.decorators).toEqual({ retry: { times: 1, minutesBetween: 0, only: 'all' } });
    expect(types(g.ForeachFlow!)).toEqual({ start: 'foreach', work: 'linear', collect: 'join', end: 'end' });
    expect(g.ForeachFlow!.nodes.start!.foreachVar).toBe('items');
    expect(g.ForeachFlow!.nodes.work!.usesCheckpoint).toBe(true);
    expect(g.ForeachFlow!.nodes.work!.reads).toEqual(expect.arrayContaining(['checkpoint', 'latest', 'save', 'input', 'out']));
    expect(types(g.SwitchFlow!)).toEqual({ start: 'linear', loop: 'switch', finish: 'linear', end: 'end' });
    expect(g.SwitchFlow!.nodes.loop!.switchCases).toEqual({ again: 'loop', done: 'finish' });
    expect(g.SwitchFlow!.nodes.loop!.condition).toBe('route');
    expect(types(g.ArrowFlow!)).toEqual({ start: 'linear', middle: 'linear', end: 'end' });
    expect(types(g.WrappedFlow!)).toEqual({ start: 'split', inner: 'linear', join: 'join', outer: 'linear', end: 'end' });
    expect(g.WrappedFlow!.nodes.inner!.decorators).toEqual({ retry: { times: 1, minutesBetween: 0, only: 'all' } });
    // The wrapped steps hash their own text, not the (shared) wrapper's.
    expect(g.WrappedFlow!.nodes.inner!.codeHash).not.toBe(g.WrappedFlow!.nodes.outer!.codeHash);
  });

  test('issue 10 item 5: the same flows imported in this (vitest) process give the same graphs', async () => {
    const reference = new Map(printed.get('tsx')!.map((p) => [p.name, p]));
    for (const f of flowFiles) {
      const mod = (await import(pathToFileURL(join(generated, 'tsc-es2017', `${f}.js`)).href)) as Record<string, Function>;
      for (const [name, cls] of Object.entries(mod)) {
        const graph = buildGraph(cls);
        expect(renderGraph(graph, 'json'), name).toBe(reference.get(name)!.json);
        // Reading steps from the class source leaves the code hash of an unwrapped step what it
        // was (the method's own text), so that resume still sees unchanged steps as unchanged.
        for (const node of Object.values(graph.nodes)) {
          if (name === 'WrappedFlow' && ['inner', 'outer'].includes(node.name)) continue;
          expect(node.codeHash, `${name}.${node.name}`).toBe(sha256(Buffer.from(String(cls.prototype[node.name]))));
        }
      }
    }
  });

  test('issue 10 item 5: a flow compiled to ES5 is refused with the target to use', () => {
    for (const p of printed.get('tsc-es5')!) {
      expect(p.error?.rule, p.name).toBe('unreadable-source');
      expect(p.error!.message).toBe(
        `Flow ${p.name} was compiled to ES5: its class is a function, which cannot extend FlowSpec (a native class). ` +
          'Compile flows to ES2015 or later: "target": "ES2017" (or newer) in tsconfig.json, or --target=es2017 for esbuild.',
      );
    }
  });
});

describe('issue 10 item 5: compiled flows run, and the run-time transition check agrees with the static graph', () => {
  const { home, cleanup } = tempHome('tributary-issue10-');
  afterAll(cleanup);

  const expectations: Record<string, (data: Record<string, unknown>) => void> = {
    linear: (d) => expect(d.summary).toBe('demo:6'),
    branch: (d) => expect([d.best, d.score, d.base]).toEqual(['right', 22, 20]),
    foreach: (d) => expect(d.total).toBe(12),
    switch: (d) => expect(d.count).toBe(3),
    arrow: (d) => expect(d.seen).toEqual(['only']),
    wrapped: (d) => expect(d.wrappers).toEqual(['logged:inner', 'logged:outer']),
  };

  // Through the API with the .js module: every flow at the lowered targets (generator wrappers)
  // and at es2017; the minified bundle for the wrapped steps (identity of a wrapper at run time).
  const runs: Array<[string, string[]]> = [
    ['tsc-es2015', flowFiles],
    ['esbuild-es2016', flowFiles],
    ['esbuild-es2017', flowFiles],
    ['esbuild-bundle-min', ['wrapped', 'foreach']],
  ];
  for (const [variant, flows] of runs) {
    test(`issue 10 item 5: flows compiled by ${variant} run to success with runFlow (${flows.join(', ')})`, async () => {
      for (const f of flows) {
        const file = join(generated, variant, `${f}.js`);
        const mod = (await import(pathToFileURL(file).href)) as Record<string, new () => FlowSpec>;
        const [flowClass] = Object.values(mod);
        const run = await runFlow(flowClass!, { home, flowModule: file, maxWorkers: 2 });
        expect(run.error?.message ?? run.status, `${variant}/${f}`).toBe('succeeded');
        expectations[f]!(await run.data());
      }
    });
  }

  test('issue 10 item 5: `tributary run file.js` runs a flow in plain JavaScript produced by tsc', () => {
    for (const f of ['wrapped', 'foreach', 'switch']) {
      const r = spawnSync(process.execPath, [cliBin, 'run', join(generated, 'tsc-es2017', `${f}.js`)], {
        cwd: coreDir,
        env: { ...process.env, TRIBUTARY_HOME: home, TRIBUTARY_DEBUG: '' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('issue 10 item 5: what cannot be read fails with a GraphError that says why and what to do', () => {
  function rejection(flow: Function): GraphError {
    try {
      buildGraph(flow);
    } catch (err) {
      expect(err).toBeInstanceOf(GraphError);
      return err as GraphError;
    }
    throw new Error(`${flow.name} was accepted`);
  }

  test('issue 10 item 5: a this.next target computed at run time', () => {
    class Dynamic extends FlowSpec {
      which = 'end';
      @step start() {
        this.next((this as any)[this.which]);
      }
      @step end() {}
    }
    const e = rejection(Dynamic);
    expect(e.rule).toBe('invalid-next');
    expect(e.message).toContain(
      "Step *start* has an invalid this.next() transition: argument 1 (`this[this.which]`) names the step with a value computed at run time: every step passed to this.next() must be written this.<step>, since the graph is read from the source before the run; to choose a step at run time, use a switch: this.next({ a: this.a, b: this.b }, { condition: 'route' }).",
    );
  });

  test('issue 10 item 5: this.next in a nested function() is not the flow', () => {
    class Nested extends FlowSpec {
      @step start() {
        [1].forEach(function (this: any) {
          this.next(this.end);
        });
      }
      @step end() {}
    }
    const e = rejection(Nested);
    expect(e.rule).toBe('missing-next');
    expect(e.message).toBe(
      'Step *start* calls this.next(this.end) inside a nested function(), whose `this` is not the flow. Use an arrow function for the callback (items.forEach(() => this.next(this.end))), or call this.next() in the step itself.',
    );
  });

  test('issue 10 item 5: `this` passed into a function under another name cannot be proven to be the flow', () => {
    class Renamed extends FlowSpec {
      @step start() {
        ((e: any) => e.next(e.end))(this);
      }
      @step end() {}
    }
    const e = rejection(Renamed);
    expect(e.rule).toBe('unreadable-source');
    // (The name is whatever the test's own compiler made of `e`.)
    expect(e.message).toMatch(
      /^Step \*start\* calls (\w+)\.next\(\1\.end\): that looks like this\.next\(\) on `this` under another name, which the graph reader cannot prove is the flow \(it follows `const self = this`, not `this` passed into a function\)\. Write this\.next\(this\.<step>\) in the step itself\.$/,
    );
  });

  test('issue 10 item 5: a local name for `this` is followed (tsc ES5-style `var _this = this`)', () => {
    class Aliased extends FlowSpec {
      @step start() {
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const self = this;
        [1].forEach(function () {
          self.next(self.end);
        });
      }
      @step end() {}
    }
    expect(buildGraph(Aliased).nodes.start!.next).toEqual(['end']);
  });

  test('issue 10 item 5: a wrapped step whose class source cannot be searched asks for @step last', () => {
    const logged = (fn: Function, _context: ClassMethodDecoratorContext) =>
      function (this: unknown, ...args: unknown[]) {
        return fn.apply(this, args);
      };
    const key: string = ['mid', 'dle'].join('');
    class Hidden extends FlowSpec {
      @step start() {
        this.next((this as any).middle);
      }
      // A computed name: the class text does not say which method this is.
      @step @logged [key]() {
        this.next(this.end);
      }
      @step end() {}
    }
    const e = rejection(Hidden);
    expect(e.rule).toBe('unreadable-source');
    expect(e.message).toBe(
      'Step *middle* has no this.next() call in the function @step received, and the source of class Hidden has no method middle() to read instead. If another decorator wraps the method before @step sees it, put @step last, directly above the method (`@logged @step middle() {...}`); otherwise add the this.next() call.',
    );
    // The order the message asks for works even there: @step records the method itself.
    class Shown extends FlowSpec {
      @step start() {
        this.next((this as any).middle);
      }
      @logged @step [key]() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(buildGraph(Shown).nodes.middle!.next).toEqual(['end']);
  });

  test('issue 10 item 5: a join keeps its inputs when async lowering moves them into the generator', async () => {
    const src = 'class J { async join(inputs = []) { await 1; this.next(this.end); } }';
    for (const code of [
      ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES2015 } }).outputText,
      (await esbuild.transform(src, { target: 'es2016' })).code,
    ]) {
      const J = new Function(`${code}\nreturn J;`)() as { prototype: { join: Function } };
      const method = J.prototype.join.toString();
      expect(method).toMatch(/^join\(\) \{\s*return __\w+\(this, arguments,/);
      const parsed = parseStepSource(method);
      expect(parsed.paramCount).toBe(1);
      expect(parsed.transitions).toEqual([{ kind: 'targets', targets: ['end'] }]);
    }
  });
});

describe("issue 10 item 5: property: every compiler's output of a step body reads as the body as written", () => {
  // A step body: statements before the transition, the this.next call (maybe inside an arrow
  // callback, after awaits, through a local `this` alias, in both branches of an if), async or not.
  const targets = fc.constantFrom(
    'this.next(this.a)',
    'this.next(this.a, this.b)',
    "this.next(this.a, { foreach: 'items' })",
    "this.next({ x: this.a, y: this.b }, { condition: 'route' })",
  );
  const before = fc.uniqueArray(
    fc.constantFrom('this.x = 1;', 'const v = this.y ?? 0;', 'for (const i of [1, 2]) { this.z = i; }', 'const { p } = this;'),
    { maxLength: 3 },
  );
  const awaits = fc.uniqueArray(
    fc.constantFrom('await pause();', 'try { await pause(); } finally { this.w = 2; }', 'const r = await Promise.all([pause(), pause()]);'),
    { maxLength: 2 },
  );
  const wrap = fc.constantFrom(
    (c: string) => `${c};`,
    (c: string) => `[1].forEach(() => ${c});`,
    (c: string) => `const go = () => { ${c}; }; go();`,
    (c: string) => `const self = this; ${c.replaceAll('this.', 'self.')};`,
    (c: string) => `if (this.flag) { ${c}; } else { ${c}; }`,
  );
  const awaitedWrap = fc.constantFrom(
    (c: string) => `await Promise.resolve().then(() => ${c});`,
    (c: string) => `await pause(); ${c};`,
  );
  const body = fc.record({
    isAsync: fc.boolean(),
    join: fc.constantFrom('', 'inputs', 'inputs = []'),
    before,
    awaits,
    targets,
    wrap,
    awaitedWrap,
    useAwaitedWrap: fc.boolean(),
  });

  const compilers: Array<[string, (src: string) => Promise<string>]> = [
    ...[ts.ScriptTarget.ES2015, ts.ScriptTarget.ES2017, ts.ScriptTarget.ES2022].map(
      (target) =>
        [`tsc-${ts.ScriptTarget[target]}`, async (src: string) => ts.transpileModule(src, { compilerOptions: { target } }).outputText] as [
          string,
          (src: string) => Promise<string>,
        ],
    ),
    ...['es2016', 'es2020', 'esnext'].map(
      (target) =>
        [`esbuild-${target}`, async (src: string) => (await esbuild.transform(src, { target })).code] as [
          string,
          (src: string) => Promise<string>,
        ],
    ),
  ];
  const summary = (p: ReturnType<typeof parseStepSource>) => ({
    paramCount: p.paramCount,
    transitions: p.transitions,
    thisMembers: [...p.thisMembers].sort(),
    memberNames: [...p.memberNames].sort(),
  });

  test('issue 10 item 5: property: same transitions, arity and members after tsc/esbuild at every target', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const awaited = b.isAsync && b.useAwaitedWrap ? b.awaitedWrap(b.targets) : b.wrap(b.targets);
        const stmts = [...b.before, ...(b.isAsync ? b.awaits : []), awaited].join(' ');
        const method = `${b.isAsync ? 'async ' : ''}m(${b.join}) { ${stmts} }`;
        const written = summary(parseStepSource(method));
        expect(written.transitions.length).toBeGreaterThan(0);
        expect(written.paramCount).toBe(b.join ? 1 : 0);
        for (const [name, compile] of compilers) {
          const code = await compile(`const pause = () => Promise.resolve();\nclass S { ${method} }`);
          const S = new Function(`${code}\nreturn S;`)() as { prototype: { m: Function } };
          expect(summary(parseStepSource(S.prototype.m.toString())), `${name}:\n${S.prototype.m.toString()}`).toEqual(written);
        }
      }),
      { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 100) },
    );
  });
});
