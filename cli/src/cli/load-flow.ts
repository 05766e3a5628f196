import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FlowSpec, flowNameOf, importFlowModule, prepareFlowCode, TributaryError, type FlowCode } from '@tributary/core';

/** A flow class found in a flow file. */
interface FoundFlow {
  exportName: string;
  flowClass: new () => FlowSpec;
  /** Its flow name, when it has a usable one (the picked flow's naming error is thrown later). */
  flowName?: string;
}

function found(exportName: string, flowClass: new () => FlowSpec): FoundFlow {
  try {
    return { exportName, flowClass, flowName: flowNameOf(flowClass) };
  } catch {
    return { exportName, flowClass };
  }
}

function describe(f: FoundFlow): string {
  return f.flowName === undefined || f.flowName === f.exportName ? f.exportName : `${f.exportName} (flow ${f.flowName})`;
}

/**
 * Import a flow file and pick its FlowSpec class: the only one, or the one `name` (`--flow`) names
 * by export name, flow name or class name. Two different flows of one file with one flow name are
 * refused: their runs and artifacts would be kept under the same key.
 * @internal
 */
export async function loadFlow(
  file: string,
  name?: string,
): Promise<{ flowClass: new () => FlowSpec; module: string; exportName: string; flowName: string }> {
  const path = resolve(file);
  if (!existsSync(path)) throw new TributaryError('FLOW_LOAD', `Flow file not found: ${file}`, { context: { path } });
  if (statSync(path).isDirectory())
    throw new TributaryError('FLOW_LOAD', `${file} is a directory, expected a .ts/.js file that exports a flow.`, { context: { path } });
  const module = pathToFileURL(path).href;
  let mod: Record<string, unknown>;
  let code: FlowCode;
  try {
    // TypeScript is built into JavaScript once (the same file the workers will import).
    code = await prepareFlowCode(module);
  } catch (err) {
    throw loadError(file, path, TributaryError.is(err, 'FLOW_LOAD') && err.cause !== undefined ? err.cause : err);
  }
  // Stack traces of flow code point into its TypeScript sources (enabled only now: the maps of
  // the CLI's own modules are not worth reading at every start).
  if (code.built) process.setSourceMapsEnabled(true);
  try {
    // A one-file script that runs its flow at top level hands over its class instead of running.
    const imported = await importFlowModule(code.url);
    mod = imported.exports ?? Object.fromEntries(imported.started.map((c) => [c.name, c]));
  } catch (err) {
    throw loadError(file, path, TributaryError.is(err, 'FLOW_LOAD') && err.cause !== undefined ? err.cause : err);
  }
  const exported = Object.entries(mod).filter(([, v]) => typeof v === 'function' && (v as Function).prototype instanceof FlowSpec) as Array<
    [string, new () => FlowSpec]
  >;
  // One class exported under two names (`export default TrainFlow` too) is one flow.
  const byClass = new Map<Function, [string, new () => FlowSpec]>();
  for (const [k, v] of exported) if (!byClass.has(v) || byClass.get(v)![0] === 'default') byClass.set(v, [k, v]);
  const flows = [...byClass.values()];
  if (flows.length === 0) {
    const cjs = commonJsScope(path);
    throw new TributaryError(
      'FLOW_LOAD',
      cjs
        ? `${file} exports no FlowSpec subclass that Tributary can see: ${cjs}`
        : `${file} exports no FlowSpec subclass. Export your flow: export class MyFlow extends FlowSpec { ... }`,
      { context: { path } },
    );
  }
  const all = flows.map(([k, v]) => found(k, v));
  const seen = new Map<string, FoundFlow>();
  for (const f of all) {
    if (f.flowName === undefined) continue;
    const other = seen.get(f.flowName);
    if (other) {
      throw new TributaryError(
        'CONFIG',
        `${file} exports two different flows named ${f.flowName}: ${other.exportName} and ${f.exportName}. ` +
          `A flow's name keys its runs and artifacts, so each flow needs its own: give one of them another name (static flowName = '...').`,
        { context: { path, flow: f.flowName } },
      );
    }
    seen.set(f.flowName, f);
  }
  const picked = name
    ? all.filter((f) => f.exportName === name || f.flowName === name || f.flowClass.name === name)
    : all.length === 1
      ? all
      : [];
  if (picked.length !== 1) {
    throw new TributaryError(
      'FLOW_LOAD',
      picked.length > 1
        ? `--flow ${name} is ambiguous in ${file}: it names ${picked.map(describe).join(' and ')}. Rename one of them so that its export, class and flow names are not names of the other.`
        : name
          ? `${file} exports no flow named ${name}; it exports ${all.map(describe).join(', ')}.`
          : `${file} exports ${all.length} flows (${all.map(describe).join(', ')}); choose one with --flow <Name>.`,
      { context: { path } },
    );
  }
  const pick = picked[0]!;
  return { flowClass: pick.flowClass, module: code.url, exportName: pick.exportName, flowName: flowNameOf(pick.flowClass) };
}

/** Why `import()` of a flow file failed, as a FLOW_LOAD error that says where and what to do. */
function loadError(file: string, path: string, err: unknown): TributaryError {
  const e = err as { name?: string; code?: string; message?: string; stack?: string; errors?: EsbuildMessage[] };
  const message = String(e?.message ?? err);
  const fail = (text: string, context: Record<string, unknown> = {}) =>
    new TributaryError('FLOW_LOAD', text, { cause: err, context: { path, ...context } });

  // tsx compiles TypeScript with esbuild: its errors carry the location (0-based column). From the
  // loader thread only the message survives ("file:line:col: ERROR: text"), so read that too.
  const first = Array.isArray(e?.errors) ? e.errors.find((m) => m?.location) : undefined;
  const esbuild = first?.location
    ? { file: first.location.file, line: first.location.line, column: first.location.column, text: first.text }
    : /^(.+?):(\d+):(\d+): ERROR: (.+)$/m.exec(message)?.slice(1);
  if (esbuild) {
    const [at, line, column, text] = Array.isArray(esbuild)
      ? [esbuild[0]!, Number(esbuild[1]), Number(esbuild[2]), esbuild[3]!]
      : [esbuild.file, esbuild.line, esbuild.column, esbuild.text];
    const where = `${displayPath(at, file, path)}:${line}:${column + 1}`;
    const source = sourceLine(resolve(at), line);
    const frame = source === undefined ? '' : `\n${codeFrame(source, column)}`;
    const pkg = /^Cannot find package '([^']+)'/.exec(text)?.[1];
    if (pkg) {
      return fail(
        `${file} does not load: package '${pkg}', imported from ${displayPath(at, file, path)}, cannot be found. Install it (npm install ${packageName(pkg)}) or fix the import (${where}).${frame}`,
        { line, column: column + 1, missing: pkg },
      );
    }
    const local = /^Could not resolve "([^"]+)"/.exec(text)?.[1];
    if (local) {
      return fail(
        `${file} does not load: module '${local}', imported from ${displayPath(at, file, path)}, cannot be found. Fix the import path (${where}).${frame}`,
        {
          line,
          column: column + 1,
          missing: local,
        },
      );
    }
    return fail(`Syntax error in ${where}: ${text}${frame}`, {
      line,
      column: column + 1,
    });
  }

  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') {
    const m = /Cannot find (module|package) '([^']+)' imported from (.+)$/m.exec(message);
    if (m) {
      const [, kind, missing, from] = m;
      const fromPath = from!.startsWith('file:') ? fileURLToPath(from!) : from!;
      const what = kind === 'package' ? `package '${missing}'` : `module '${displayPath(missing!, file, path)}'`;
      return fail(
        `${file} does not load: ${what}, imported from ${displayPath(fromPath, file, path)}, cannot be found.${
          kind === 'package' ? ` Install it (npm install ${packageName(missing!)}) or fix the import.` : ' Fix the import path.'
        }`,
        { missing },
      );
    }
  }

  if (
    e?.code === 'ERR_REQUIRE_CYCLE_MODULE' ||
    e?.code === 'ERR_REQUIRE_ESM' ||
    /Cannot use import statement outside a module/.test(message)
  ) {
    const cjs = commonJsScope(path);
    if (cjs) return fail(`${file} does not load: ${cjs}`);
  }

  // Node's own parse error (plain JavaScript) carries no location; `node --check` prints it. A
  // SyntaxError thrown by running code (JSON.parse...) has a frame in the user's file instead.
  if (e?.name === 'SyntaxError' && !userFrame(e.stack)) {
    const m = /\.[cm]?js$/.test(path) ? /^(.+?):(\d+)\n(.*)\n( *)\^/m.exec(syntaxCheck(path)) : null;
    if (m) {
      const [, at, line, text, pad] = m;
      const where = `${displayPath(at!, file, path)}:${line}:${pad!.length + 1}`;
      return fail(`Syntax error in ${where}: ${message}\n${codeFrame(text!, pad!.length)}`, {
        line: Number(line),
        column: pad!.length + 1,
      });
    }
    return fail(`Syntax error in ${file}: ${message}`);
  }

  // The module threw while it was evaluated: name the first frame in the user's code.
  const frame = userFrame(e?.stack);
  const label = e?.name && !message.startsWith(`${e.name}:`) ? `${e.name}: ${message}` : message;
  return fail(`${file} threw while loading: ${label}${frame ? ` (at ${displayPath(frame, file, path)})` : ''}`);
}

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number; lineText: string } | null;
}

function syntaxCheck(path: string): string {
  const r = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 10_000 });
  return r.stderr ?? '';
}

function sourceLine(path: string, line: number): string | undefined {
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/)[line - 1];
  } catch {
    return undefined;
  }
}

function codeFrame(lineText: string, column: number): string {
  const text = lineText.replace(/\t/g, ' ');
  return `  ${text}\n  ${' '.repeat(Math.max(0, column))}^`;
}

/** Show the file as the user named it when it is the flow file, else relative to the working directory. */
function displayPath(p: string, file: string, path: string): string {
  const abs = resolve(p);
  if (abs === path) return file;
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith(`..${sep}`) && rel !== '..' ? rel : abs;
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function userFrame(stack: string | undefined): string | undefined {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /^at (?:.*?\()?((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!m) continue;
    const file = m[1]!.startsWith('file:') ? fileURLToPath(m[1]!) : m[1]!;
    if (file.includes(`${sep}node_modules${sep}`) || file.startsWith('node:')) continue;
    return `${file}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

/**
 * Flows are ES modules. A `.ts`/`.js` file outside a package with `"type": "module"` is loaded as
 * CommonJS, which cannot host them: say so and how to fix it, or return undefined.
 */
function commonJsScope(path: string): string | undefined {
  if (/\.m[jt]s$/.test(path)) return undefined;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type;
      } catch {
        return undefined;
      }
      return type === 'module'
        ? undefined
        : `it is loaded as CommonJS, because ${pkg} has no "type": "module". Flows are ES modules: add "type": "module" to it, or name the file .mts.`;
    }
    if (dirname(dir) === dir)
      return 'it is loaded as CommonJS, because no package.json with "type": "module" is above it. Flows are ES modules: add a package.json with {"type": "module"}, or name the file .mts.';
  }
}
