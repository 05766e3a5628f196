/**
 * Label and field selectors as list and watch requests carry them
 * (`labelSelector=job-name%3Dx,app!%3Dy`, `fieldSelector=status.phase!%3DSucceeded`).
 * Labels support the full grammar (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`);
 * fields support `=`, `==` and `!=` on any dotted path of the object, which is more than the real
 * server allows (it accepts a few fields per resource) but never gives a different answer.
 */
import { badRequest } from './api-errors.ts';
import type { KubeObject } from './model.ts';

export type Matcher = (object: KubeObject) => boolean;

/** Splits on the commas that are not inside `in (…)` lists. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out.filter(Boolean);
}

function labelTerm(term: string): (labels: Record<string, string>) => boolean {
  let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) {
    const [, key, op, list] = m as unknown as [string, string, string, string];
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in' ? (l) => key in l && values.has(l[key]!) : (l) => !(key in l) || !values.has(l[key]!);
  }
  m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s!=]*)$/.exec(term);
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string];
    // `k!=v` also matches objects without the label, as in the real server.
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = /^(!?)([^\s!=()]+)$/.exec(term);
  if (m) {
    const [, not, key] = m as unknown as [string, string, string];
    return not ? (l) => !(key in l) : (l) => key in l;
  }
  throw badRequest(`unable to parse requirement: found '${term}', expected: valid label selector`);
}

export function labelMatcher(selector: string | undefined): Matcher {
  if (!selector) return () => true;
  const checks = terms(selector).map(labelTerm);
  return (object) => {
    const labels = object.metadata.labels ?? {};
    return checks.every((check) => check(labels));
  };
}

function fieldValue(object: unknown, path: string): string {
  let value: unknown = object;
  for (const part of path.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value === undefined || value === null ? '' : String(value);
}

export function fieldMatcher(selector: string | undefined): Matcher {
  if (!selector) return () => true;
  const checks = terms(selector).map((term) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === '!=' ? (o: KubeObject) => fieldValue(o, path) !== value : (o: KubeObject) => fieldValue(o, path) === value;
  });
  return (object) => checks.every((check) => check(object));
}
