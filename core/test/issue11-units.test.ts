import fc from 'fast-check';
import { expect, test } from 'vitest';
import { rewriteImportMeta } from '../src/util/rewrite-import-meta.ts';

const R = (s: string) => rewriteImportMeta(s, (p) => `<${p}>`);

test('issue 11 item 3: import.meta in code is rewritten; in strings, template text and comments it is kept', () => {
  expect(R('const u = import.meta.url;')).toBe('const u = <url>;');
  expect(R('f(import.meta.filename, import.meta.dirname)')).toBe('f(<filename>, <dirname>)');
  expect(R('const s = "pass import.meta.url to runFlow";')).toBe('const s = "pass import.meta.url to runFlow";');
  expect(R("const s = 'import.meta.url' + import.meta.url;")).toBe("const s = 'import.meta.url' + <url>;");
  expect(R('// import.meta.url\nimport.meta.url')).toBe('// import.meta.url\n<url>');
  expect(R('/* import.meta.url */ x')).toBe('/* import.meta.url */ x');
  expect(R('`import.meta.url is ${import.meta.url} and ${ {a: import.meta.url}.a }`')).toBe(
    '`import.meta.url is ${<url>} and ${ {a: <url>}.a }`',
  );
  expect(R('const s = "a \\" import.meta.url";')).toBe('const s = "a \\" import.meta.url";');
  expect(R('x.import.meta.url; import.meta.urlish; import.meta.resolve("x")')).toBe(
    'x.import.meta.url; import.meta.urlish; import.meta.resolve("x")',
  );
});

test('issue 11 item 3: source without import.meta in code comes out unchanged (property)', () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      const text = s.replace(/import\.meta/g, 'imp.meta');
      expect(R(text)).toBe(text);
    }),
  );
});

test('issue 11 item 5: envPass takes names only, never TRIBUTARY_* ones, and never echoes a value', async () => {
  const { checkEnvPass } = await import('../src/execution/job-environment.ts');
  expect(checkEnvPass(['HF_TOKEN', 'HF_TOKEN', 'A_1'])).toEqual(['HF_TOKEN', 'A_1']);
  for (const bad of [['1ABC'], ['BAD-NAME'], [''], ['TRIBUTARY_DATASTORE'], [42]])
    expect(() => checkEnvPass(bad)).toThrow(/envPass|TRIBUTARY_/);
  expect(() => checkEnvPass('HF_TOKEN')).toThrow(/array/);
  let message = '';
  try {
    checkEnvPass(['TOKEN=sk-live-123']);
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toContain('TOKEN=…');
  expect(message).not.toContain('sk-live-123');
});
