/**
 * Replace `import.meta.url` / `.filename` / `.dirname` in a module's source, in code only: the
 * same text inside a string, a template's literal part or a comment is left as it is (a regular
 * expression over the whole source would break `"pass import.meta.url to runFlow"`).
 * @internal
 */
export function rewriteImportMeta(source: string, replacement: (prop: 'url' | 'filename' | 'dirname') => string): string {
  let out = '';
  let i = 0;
  // One entry per open template literal: the depth of `{` inside its current `${ ... }`.
  const templates: number[] = [];
  let braces = 0;
  const n = source.length;
  const copyUntil = (end: number) => {
    out += source.slice(i, end);
    i = end;
  };
  while (i < n) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      copyUntil(end < 0 ? n : end);
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      copyUntil(end < 0 ? n : end + 2);
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      copyUntil(Math.min(n, j + 1));
    } else if (c === '`' || (c === '}' && templates.length > 0 && braces === templates[templates.length - 1])) {
      // A template's literal text, up to its end or the next `${`.
      if (c === '}') templates.pop();
      let j = i + 1;
      while (j < n && source[j] !== '`' && !(source[j] === '$' && source[j + 1] === '{')) j += source[j] === '\\' ? 2 : 1;
      if (j < n && source[j] === '$') {
        templates.push(braces);
        copyUntil(j + 2);
      } else copyUntil(Math.min(n, j + 1));
    } else if (c === 'i' && source.startsWith('import.meta.', i) && !/[\w$.]/.test(source[i - 1] ?? '')) {
      const m = /^import\.meta\.(url|filename|dirname)(?![\w$])/.exec(source.slice(i, i + 24));
      if (m) {
        out += replacement(m[1] as 'url' | 'filename' | 'dirname');
        i += m[0].length;
      } else copyUntil(i + 1);
    } else {
      if (c === '{') braces++;
      else if (c === '}') braces--;
      copyUntil(i + 1);
    }
  }
  return out;
}
