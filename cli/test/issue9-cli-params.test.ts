import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { parseArgs, type OptionSpec } from '../src/cli/args.ts';
import { runCli } from './cli-process.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome();
afterAll(cleanup);
const FLOWS = 'cli/test/fixtures/issue9-cli.ts';

const CLI_OPTIONS: OptionSpec[] = [
  { name: 'quiet', kind: 'flag', help: '' },
  { name: 'max-workers', kind: 'value', help: '' },
  { name: 'tag', kind: 'list', help: '' },
];
const PARAMS = [
  { name: 'dry', boolean: true },
  { name: 'verbose', boolean: true },
  { name: 'epochs', boolean: false },
  { name: 'lr', boolean: false },
];

type Word =
  { kind: 'param'; name: string; value: string; tokens: string[] } | { kind: 'cli'; name: string; value: string; tokens: string[] };

const value = fc.string({ maxLength: 6 }).filter((s) => !s.startsWith('--'));
const word: fc.Arbitrary<Word> = fc.oneof(
  fc
    .record({ name: fc.constantFrom('dry', 'verbose'), on: fc.boolean(), form: fc.constantFrom('bare', 'inline') })
    .map(({ name, on, form }) => ({
      kind: 'param' as const,
      name,
      value: String(on),
      tokens: form === 'bare' ? [on ? `--${name}` : `--no-${name}`] : [`--${name}=${on}`],
    })),
  fc.record({ name: fc.constantFrom('epochs', 'lr'), v: value, inline: fc.boolean() }).map(({ name, v, inline }) => ({
    kind: 'param' as const,
    name,
    value: v,
    tokens: inline ? [`--${name}=${v}`] : [`--${name}`, v],
  })),
  fc.constant<Word>({ kind: 'cli', name: 'quiet', value: 'true', tokens: ['--quiet'] }),
  fc
    .record({ n: fc.integer({ min: 1, max: 64 }) })
    .map(({ n }) => ({ kind: 'cli' as const, name: 'max-workers', value: String(n), tokens: ['--max-workers', String(n)] })),
  value.map((t) => ({ kind: 'cli' as const, name: 'tag', value: t, tokens: ['--tag', t] })),
);

describe('issue 9 item 18: flow parameters on the command line', () => {
  test('issue 9 item 18: property: a boolean parameter never takes the next word; every option gets exactly its value', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (words) => {
        const tokens = ['flow.ts', ...words.flatMap((w) => w.tokens)];
        const parsed = parseArgs(tokens, CLI_OPTIONS, PARAMS);
        expect(parsed.unknown).toEqual([]);
        expect(parsed.positional).toEqual(['flow.ts']);
        const params = new Map<string, string>();
        const options = new Map<string, string[]>();
        for (const w of words) {
          if (w.kind === 'param') params.set(w.name, w.value);
          else options.set(w.name, [...(options.get(w.name) ?? []), w.value]);
        }
        expect(parsed.params).toEqual(params);
        expect(parsed.options).toEqual(options);
      }),
      { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });

  test('issue 9 item 18: --dry --epochs 3 gives dry=true and epochs=3; --no-dry and --dry=false give false', () => {
    const on = runCli(home, ['run', FLOWS, '--flow', 'FlagsFlow', '--dry', '--epochs', '3', '--no-progress']);
    expect(on.code).toBe(0);
    expect(on.stdout).toContain('dry=true epochs=3 optimizer=adam');
    const off = runCli(home, ['run', FLOWS, '--flow', 'FlagsFlow', '--no-dry', '--optimizer=sgd', '--no-progress']);
    expect(off.stdout).toContain('dry=false epochs=10 optimizer=sgd');
    const inline = runCli(home, ['run', FLOWS, '--dry=false', '--flow', 'FlagsFlow', '--epochs=7', '--no-progress']);
    expect(inline.stdout).toContain('dry=false epochs=7 optimizer=adam');
  });

  test('issue 9 item 18: "--dry false" is refused with how to write it; a value option refuses an option as its value', () => {
    const r = runCli(home, ['run', FLOWS, '--flow', 'FlagsFlow', '--dry', 'false']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'error [PARAM_INVALID]: Unexpected argument "false" for tributary run. --dry is a flag: write --dry=false or --no-dry.',
    );
    const v = runCli(home, ['run', FLOWS, '--flow', 'FlagsFlow', '--epochs', '--dry']);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('--epochs needs a value, but the next word is the option --dry');
  });

  test('issue 9 item 18: a parameter named like a CLI option is refused before anything runs, naming both', () => {
    for (const [flow, param, option] of [
      ['TagParamFlow', 'tag', '--tag'],
      ['HomeParamFlow', 'home', '--home'],
      ['ProgressParamFlow', 'progress', '--no-progress'],
    ] as const) {
      const r = runCli(home, ['run', FLOWS, '--flow', flow]);
      expect(r.code, flow).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `^error \\[PARAM_INVALID\\]: Parameter ${param} of ${flow} cannot be set from the command line: .*${option}.* of tributary run/resume\\. Rename the parameter`,
        ),
      );
      expect(runCli(home, ['runs', flow]).stdout).toBe(`No runs of ${flow}.\n`);
    }
  });

  test('issue 9 item 18: run --help shows boolean parameters as --[no-]name, and the ones that cannot be set', () => {
    const r = runCli(home, ['run', FLOWS, '--flow', 'FlagsFlow', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '  --[no-]dry (default false)  plan only\n  --epochs <number> (default 10)\n  --optimizer <string> (default "adam")',
    );
    const clash = runCli(home, ['run', FLOWS, '--flow', 'TagParamFlow', '--help']);
    expect(clash.code).toBe(0);
    expect(clash.stdout).toMatch(/--tag <string> \(default "x"\)\s+\[cannot be set: it has the name of the option --tag/);
  });

  test('issue 9 item 18: flow parameters before the flow file are refused with where they go', () => {
    const r = runCli(home, ['run', '--epochs', '3', FLOWS]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error [PARAM_INVALID]: --epochs comes before the flow file: flow parameters follow it');
  });
});
