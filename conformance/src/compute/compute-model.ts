import fc from 'fast-check';
import type { ComputeBackend, ComputeJob, JobResult } from '@tributary/core';

/** What the model expects of each launched job. */
interface Expected {
  exitCode: number;
  cancelled: boolean;
}

interface Real {
  backend: ComputeBackend;
  node: string;
  jobs: Array<{ job: ComputeJob; expected: Expected }>;
}

function verdict(result: JobResult, e: Expected): string | undefined {
  if (e.cancelled) {
    // A cancel can race the job's own exit; either outcome is legal, but never a success claim for a non-zero exit.
    if (result.failure?.kind === 'CANCELLED') return undefined;
    return result.exitCode === e.exitCode ? undefined : `cancelled job ended ${JSON.stringify(result)}`;
  }
  if (result.exitCode !== e.exitCode) return `expected exit ${e.exitCode}, got ${JSON.stringify(result)}`;
  if ((result.status === 'succeeded') !== (e.exitCode === 0)) return `status ${result.status} for exit ${e.exitCode}`;
  if (e.exitCode !== 0 && result.failure?.kind !== 'NON_ZERO_EXIT') return `failure kind ${result.failure?.kind} for exit ${e.exitCode}`;
  return undefined;
}

class Launch implements fc.AsyncCommand<{ launched: number }, Real> {
  constructor(
    readonly exitCode: number,
    readonly delayMs: number,
  ) {}
  check() {
    return true;
  }
  async run(model: { launched: number }, real: Real) {
    const job = await real.backend.launch({
      name: 'model',
      command: real.node,
      args: ['-e', `setTimeout(() => process.exit(${this.exitCode}), ${this.delayMs})`],
    });
    real.jobs.push({ job, expected: { exitCode: this.exitCode, cancelled: false } });
    model.launched++;
  }
  toString() {
    return `launch(exit ${this.exitCode} after ${this.delayMs}ms)`;
  }
}

class Cancel implements fc.AsyncCommand<{ launched: number }, Real> {
  constructor(readonly index: number) {}
  check(model: { launched: number }) {
    return model.launched > 0;
  }
  async run(_model: { launched: number }, real: Real) {
    const j = real.jobs[this.index % real.jobs.length]!;
    j.expected.cancelled = true;
    await j.job.cancel('model');
  }
  toString() {
    return `cancel(#${this.index})`;
  }
}

class Await implements fc.AsyncCommand<{ launched: number }, Real> {
  constructor(readonly index: number) {}
  check(model: { launched: number }) {
    return model.launched > 0;
  }
  async run(_model: { launched: number }, real: Real) {
    const j = real.jobs[this.index % real.jobs.length]!;
    const problem = verdict(await j.job.result, j.expected);
    if (problem) throw new Error(`${this.toString()}: ${problem}`);
  }
  toString() {
    return `await(#${this.index})`;
  }
}

/** Random launch / cancel / await sequences against a model of each job's expected end. @internal */
export function computeModelProperty(
  factory: () => ComputeBackend | Promise<ComputeBackend>,
  node: string,
  cleanup?: (b: ComputeBackend) => void | Promise<void>,
) {
  const commands = [
    fc.tuple(fc.constantFrom(0, 0, 1, 7, 255), fc.constantFrom(0, 30, 150)).map(([c, d]) => new Launch(c, d)),
    fc.nat().map((i) => new Cancel(i)),
    fc.nat().map((i) => new Await(i)),
  ];
  return fc.asyncProperty(fc.commands(commands, { maxCommands: 10 }), async (cmds) => {
    const backend = await factory();
    const real: Real = { backend, node, jobs: [] };
    try {
      await fc.asyncModelRun(() => ({ model: { launched: 0 }, real }), cmds);
      for (const j of real.jobs) {
        const problem = verdict(await j.job.result, j.expected);
        if (problem) throw new Error(problem);
      }
    } finally {
      await backend.close().catch(() => undefined);
      await cleanup?.(backend);
    }
  });
}
