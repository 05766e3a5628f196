import { delimiter } from 'node:path';
import type { TaskSpec } from '../runtime/protocol.ts';
import { enterEnvironmentImports } from './environment-imports.ts';

/**
 * Enter a task's environment in this process: its variables set and its folders first on PATH, so
 * a step's `child_process` call to `python3` runs the environment's interpreter. An environment
 * with `NODE_PATH` (`@npm`) is also importable: the step's `import` and `require` of its packages
 * resolve from there (`environment-imports.ts`). A worker runs one task at a time, so the process
 * environment is the task's; the returned function puts back what was there before, for the
 * worker's next task.
 * @internal
 */
export function activateEnvironment(environment: NonNullable<TaskSpec['environment']>): () => void {
  const names = [...Object.keys(environment.env), 'PATH', 'TRIBUTARY_ENVIRONMENT'];
  const before = new Map(names.map((n) => [n, process.env[n]]));
  for (const [k, v] of Object.entries(environment.env)) process.env[k] = v;
  if (environment.path.length)
    process.env.PATH = [...environment.path, ...(before.get('PATH') ? [before.get('PATH')!] : [])].join(delimiter);
  process.env.TRIBUTARY_ENVIRONMENT = environment.id;
  const nodePath = environment.env.NODE_PATH;
  const leaveImports = nodePath === undefined ? undefined : enterEnvironmentImports(nodePath);
  return () => {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    leaveImports?.();
  };
}
