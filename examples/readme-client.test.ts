import { readFileSync } from 'node:fs';
import { expect, expectTypeOf, test } from 'vitest';
import type { DataOf } from 'tributary';
import type { TrainFlow } from './train.ts';

/** The README's client example is examples/readme-client.ts, which the repository's typecheck compiles. */
test("issue 13: the README's client example is the type-checked examples/readme-client.ts", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```ts\n(import \{ Client \} from 'tributary';[\s\S]*?)```/.exec(readme)?.[1];
  const file = readFileSync(new URL('./readme-client.ts', import.meta.url), 'utf8');
  expect(block).toBeDefined();
  expect(file.replace(/^\/\*\*.*\*\/\n/, '').replace('\nvoid everyone;', '')).toBe(block);
  expectTypeOf<DataOf<TrainFlow>['bestAlpha']>().toEqualTypeOf<number>();
  expectTypeOf<DataOf<TrainFlow>['weights']>().toEqualTypeOf<Float64Array>();
});
