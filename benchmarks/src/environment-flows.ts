// The flows of environment-bench.ts, in their own module: task workers import it to find them.
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowSpec, pypi, step } from 'tributary';

/** The wheel folder the benchmark builds (the orchestrator's decorator value is the one that counts). */
export const BENCH_WHEELS = join(tmpdir(), 'tributary-env-bench-wheels');
const wheels = BENCH_WHEELS;

export class PlainPythonFlow extends FlowSpec {
  static readonly flowName = 'PlainPythonFlow';
  declare out: string;
  @step start() {
    this.next(this.run);
  }
  @step run() {
    this.out = execFileSync('python3', ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' });
    this.next(this.end);
  }
  @step end() {}
}

export class PypiPythonFlow extends FlowSpec {
  static readonly flowName = 'PypiPythonFlow';
  declare out: string;
  @step start() {
    this.next(this.run);
  }
  @pypi({ packages: { benchmain: '1.0.0' }, sources: [wheels] })
  @step
  run() {
    this.out = execFileSync('python3', ['-c', 'import benchmain, sys; print(benchmain.VALUE, sys.prefix)'], { encoding: 'utf8' });
    this.next(this.end);
  }
  @step end() {}
}
