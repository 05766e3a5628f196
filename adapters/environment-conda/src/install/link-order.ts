/**
 * The order packages are linked in: dependencies first (python before the `noarch: python`
 * packages that need it, a library before what links against it), ties by name; cycles, which
 * conda allows (python ↔ pip), are broken where they are met.
 */

import { dependencyName } from '../lock/match-specs.ts';

export function linkOrder<T>(items: readonly T[], nameOf: (item: T) => string, dependsOf: (item: T) => readonly string[]): T[] {
  const byName = new Map(items.map((item) => [nameOf(item), item]));
  const seen = new Set<string>();
  const out: T[] = [];
  const visit = (item: T): void => {
    const name = nameOf(item);
    if (seen.has(name)) return;
    seen.add(name);
    for (const dep of dependsOf(item).map(dependencyName).sort()) {
      const found = byName.get(dep);
      if (found !== undefined) visit(found);
    }
    out.push(item);
  };
  [...items].sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0)).forEach(visit);
  return out;
}
