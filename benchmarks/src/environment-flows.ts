// The flows of environment-bench.ts, in their own module: task workers import it to find them.
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conda, FlowSpec, npm, pypi, step } from 'tributary';

/** Where the benchmark builds its offline sources (the orchestrator's decorator values are the ones that count). */
export const BENCH_WHEELS = join(tmpdir(), 'tributary-env-bench-wheels');
export const BENCH_CHANNEL = join(tmpdir(), 'tributary-env-bench-channel');
export const BENCH_TARBALLS = join(tmpdir(), 'tributary-env-bench-tarballs');

/** The baseline: the same shape, the middle step does nothing (no environment, no process). */
export class PlainFlow extends FlowSpec {
  static readonly flowName = 'PlainFlow';
  declare out: string;
  @step start() {
    this.next(this.run);
  }
  @step run() {
    this.out = 'nothing';
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
  @pypi({ packages: { benchmain: '1.0.0' }, sources: [BENCH_WHEELS] })
  @step
  run() {
    this.out = execFileSync('python3', ['-c', 'import benchmain, sys; print(benchmain.VALUE, sys.prefix)'], { encoding: 'utf8' });
    this.next(this.end);
  }
  @step end() {}
}

export class CondaCommandFlow extends FlowSpec {
  static readonly flowName = 'CondaCommandFlow';
  declare out: string;
  @step start() {
    this.next(this.run);
  }
  @conda({ packages: { benchmain: '1.0' }, channels: [BENCH_CHANNEL] })
  @step
  run() {
    this.out = execFileSync('benchmain', { encoding: 'utf8' });
    this.next(this.end);
  }
  @step end() {}
}

export class NpmImportFlow extends FlowSpec {
  static readonly flowName = 'NpmImportFlow';
  declare out: string;
  @step start() {
    this.next(this.run);
  }
  @npm({ packages: { 'bench-main': '1.0.0' }, sources: [BENCH_TARBALLS] })
  @step
  async run() {
    const name = 'bench-main';
    this.out = String(((await import(name)) as { version: string }).version);
    this.next(this.end);
  }
  @step end() {}
}
