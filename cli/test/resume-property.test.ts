import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, afterEach, expect, test } from 'vitest';
import { resumeFlow, runFlow, type FlowSpec, type RunResult as Run } from '../src/index.ts';
import { tempHome } from './helpers.ts';

// Flows of random shape are generated as modules (workers import them), with deterministic
// step bodies that fold everything upstream into one artifact `v`, a log of executions, and a
// failure injected by step name through the environment.

type Block =
  | { kind: 'linear' }
  | { kind: 'branch'; arms: Block[][] }
  | { kind: 'foreach'; body: Block[] }
  | { kind: 'switch'; arms: [Block[], Block[]] }
  | { kind: 'loop' };

const blocks: fc.Arbitrary<Block[]> = fc.letrec<{ block: Block; seq: Block[] }>((tie) => ({
  block: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constant<Block>({ kind: 'linear' }),
    fc.constant<Block>({ kind: 'loop' }),
    fc.array(tie('seq'), { minLength: 2, maxLength: 3 }).map((arms): Block => ({ kind: 'branch', arms })),
    tie('seq').map((body): Block => ({ kind: 'foreach', body })),
    fc.tuple(tie('seq'), tie('seq')).map(([a, b]): Block => ({ kind: 'switch', arms: [a, b] })),
  ),
  seq: fc.array(tie('block'), { minLength: 1, maxLength: 3 }),
})).seq;

interface Src {
  name: string;
  params: string;
  body: string;
}

function compile(seq: Block[], next: string, out: Src[], n: { i: number }): string {
  let target = next;
  for (let k = seq.length - 1; k >= 0; k--) target = compileBlock(seq[k]!, target, out, n);
  return target;
}

function compileBlock(b: Block, next: string, out: Src[], n: { i: number }): string {
  const id = (p: string) => `${p}${n.i++}`;
  const fold = (name: string) => `this.v = mix(this.v, '${name}' + ident(this)); work(this);`;
  switch (b.kind) {
    case 'linear': {
      const s = id('lin');
      out.push({ name: s, params: '', body: `${fold(s)} this.next(this.${next});` });
      return s;
    }
    case 'loop': {
      const s = id('loop');
      const exit = compileBlock({ kind: 'linear' }, next, out, n);
      out.push({
        name: s,
        params: '',
        body: `this.rounds = (this.rounds ?? 0) + 1; this.more = this.rounds % 3 !== 0; ${fold(s)} this.next({ true: this.${s}, false: this.${exit} }, { condition: 'more' });`,
      });
      return s;
    }
    case 'branch': {
      const split = id('split');
      const join = id('join');
      out.push({
        name: join,
        params: 'inputs',
        body: `this.v = mix(inputs.map((i) => i.v).join(','), '${join}'); work(this); this.next(this.${next});`,
      });
      const entries = b.arms.map((arm) => compile(arm, join, out, n));
      out.push({ name: split, params: '', body: `${fold(split)} this.next(${entries.map((e) => `this.${e}`).join(', ')});` });
      return split;
    }
    case 'foreach': {
      const fan = id('fan');
      const join = id('gather');
      out.push({
        name: join,
        params: 'inputs',
        body: `this.v = mix(inputs.map((i) => i.v).join(','), '${join}'); work(this); this.next(this.${next});`,
      });
      const entry = compile(b.body, join, out, n);
      out.push({ name: fan, params: '', body: `this.items = [1, 2, 3]; ${fold(fan)} this.next(this.${entry}, { foreach: 'items' });` });
      return fan;
    }
    case 'switch': {
      const sw = id('switch');
      const merge = id('merge');
      out.push({ name: merge, params: '', body: `${fold(merge)} this.next(this.${next});` });
      const [a, c] = b.arms.map((arm) => compile([{ kind: 'linear' }, ...arm], merge, out, n));
      out.push({
        name: sw,
        params: '',
        body: `${fold(sw)} this.route = this.v % 2 ? 'a' : 'b'; this.next({ a: this.${a}, b: this.${c} }, { condition: 'route' });`,
      });
      return sw;
    }
  }
}

const dir = fileURLToPath(new URL('./.generated/', import.meta.url));
let counter = 0;

async function generate(seq: Block[]): Promise<new () => FlowSpec> {
  const steps: Src[] = [{ name: 'end', params: '', body: 'work(this);' }];
  const entry = compile(seq, 'end', steps, { i: 0 });
  steps.push({ name: 'start', params: '', body: `this.v = 1; work(this); this.next(this.${entry});` });
  const name = `Gen${process.pid}x${counter++}`;
  const src = `import { appendFileSync } from 'node:fs';
import { FlowSpec, step } from '@tributary/core';
const mix = (a, b) => { let h = 2166136261 ^ Number(a ?? 0); for (const ch of String(a) + '|' + b) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0; return h; };
const ident = (f) => f.current.key;
function work(f) {
  if (process.env.TRIB_FAIL === f.current.step) throw new Error('injected failure in ' + ident(f));
  appendFileSync(process.env.TRIB_LOG, ident(f) + '#' + f.current.runId + '\\n');
}
export class ${name} extends FlowSpec {
${steps.map((s) => `  ${s.name}(${s.params}) { ${s.body} }`).join('\n')}
}
for (const n of ${JSON.stringify(steps.map((s) => s.name))}) step(${name}.prototype[n], { kind: 'method', name: n, static: false, private: false, metadata: {}, addInitializer() {} });
`;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, src);
  return (await import(pathToFileURL(file).href))[name];
}

const { home, cleanup } = tempHome('tributary-resume-prop-');
const log = join(home, 'log');
afterAll(() => {
  cleanup();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.TRIB_FAIL;
  delete process.env.TRIB_LOG;
});

function take(runId: string): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(`#${runId}`))
    .map((l) => l.slice(0, l.lastIndexOf('#')));
}

async function endShas(run: Run): Promise<Record<string, string>> {
  const end = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'end' })).items[0]!;
  return Object.fromEntries(
    (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: end.taskId })).map((a) => [a.name, a.sha]),
  );
}

test('property: run + resume after a random failure gives the same end artifacts as an uninterrupted run, re-running nothing that succeeded', async () => {
  await fc.assert(
    fc.asyncProperty(blocks, fc.nat(), async (seq, pick) => {
      const flow = await generate(seq);
      process.env.TRIB_LOG = log;
      const clean = await runFlow(flow, { home, envPass: ['TRIB_FAIL', 'TRIB_LOG'], maxWorkers: 1, maxNumSplits: 1000 });
      expect(clean.error?.message).toBeUndefined();
      expect(clean.status).toBe('succeeded');
      const all = take(clean.runId);
      const steps = [...new Set(all.map((id) => id.replace(/[[#].*$/, '')))];
      const failing = steps[pick % steps.length]!;

      process.env.TRIB_FAIL = failing;
      const failed = await runFlow(flow, { home, envPass: ['TRIB_FAIL', 'TRIB_LOG'], maxWorkers: 1, maxNumSplits: 1000 });
      delete process.env.TRIB_FAIL;
      expect(failed.status).toBe('failed');
      const before = take(failed.runId);

      const resumed = await resumeFlow(flow, {
        home,
        envPass: ['TRIB_FAIL', 'TRIB_LOG'],
        maxWorkers: 1,
        maxNumSplits: 1000,
        originRunId: failed.runId,
      });
      expect(resumed.error?.message).toBeUndefined();
      expect(resumed.status).toBe('succeeded');
      const after = take(resumed.runId);
      expect(after.filter((id) => before.includes(id))).toEqual([]);
      expect([...before, ...after].sort()).toEqual([...all].sort());
      expect(await endShas(resumed)).toEqual(await endShas(clean));
      for (const r of [clean, failed, resumed]) await r.close();
    }),
    { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 6) },
  );
}, 300_000);
