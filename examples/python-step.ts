/**
 * A step that runs Python: `@pypi` gives it a virtual environment with pinned packages (locked
 * with hashes, built once, reused by later runs), and `python3` inside the step is that
 * environment's interpreter. The step hands its data to a Python script on stdin and reads the
 * script's JSON answer back as an artifact.
 *
 *   tributary run examples/python-step.ts
 *
 * The packages come from PyPI. On a machine without it, point TRIBUTARY_EXAMPLE_WHEELS at a folder
 * of wheels (the tests build one with `makeWheels` from `@tributary/environment-pypi/testing`).
 */
import { execFileSync } from 'node:child_process';
import { FlowSpec, param, pypi, step } from 'tributary';

const wheels = process.env.TRIBUTARY_EXAMPLE_WHEELS;

// The "training code" a data scientist already has, in Python.
const SCORE_PY = `
import json, sys
import tribstats
scores = json.load(sys.stdin)
mean = sum(scores) / len(scores)
print(json.dumps({"mean": mean, "max": max(scores), "library": tribstats.VALUE, "python": sys.prefix}))
`;

export class PythonStepFlow extends FlowSpec {
  static readonly flowName = 'PythonStepFlow';
  @param({ default: 5, help: 'how many scores' }) count!: number;
  declare scores: number[];
  declare summary: { mean: number; max: number; library: string; python: string };

  @step start() {
    this.scores = Array.from({ length: this.count }, (_, i) => (i + 1) * 10);
    this.next(this.score);
  }

  @pypi({ packages: { tribstats: '1.0.0' }, ...(wheels ? { sources: [wheels] } : {}) })
  @step
  score() {
    const out = execFileSync('python3', ['-c', SCORE_PY], { input: JSON.stringify(this.scores), encoding: 'utf8' });
    this.summary = JSON.parse(out) as PythonStepFlow['summary'];
    this.next(this.end);
  }

  @step end() {
    console.log(`mean ${this.summary.mean}, max ${this.summary.max} (scored by ${this.summary.library} in ${this.summary.python})`);
  }
}
