/**
 * The flow the service trains: ridge regression on a generated data set. This module only
 * defines the flow (no side effects at import): task workers import its compiled form,
 * `dist/flow.js`, for the class, so it must not start the server.
 */
import { FlowSpec, param, step } from 'tributary';

/** What `GET /model` serves: plain JSON values, so the artifact reads back as it is sent. */
export interface RidgeModel {
  kind: 'ridge';
  alpha: number;
  features: number;
  weights: number[];
  /** Mean squared error on the validation rows. */
  validationMse: number;
  /** Coefficient of determination on the validation rows (1 is a perfect fit). */
  score: number;
}

/** Bounds the service enforces on parameters (400) and the flow checks again when run from the CLI. */
export const PARAM_BOUNDS = {
  alpha: { min: 0, max: 1e6, integer: false },
  seed: { min: 0, max: 2 ** 32 - 1, integer: true },
  rows: { min: 20, max: 20_000, integer: true },
  features: { min: 1, max: 50, integer: true },
} as const;

/** Why resolved parameter values are out of bounds, or undefined when they are fine. */
export function paramProblem(values: Record<string, unknown>): string | undefined {
  for (const [name, b] of Object.entries(PARAM_BOUNDS)) {
    const v = values[name];
    if (typeof v !== 'number') continue;
    if (v < b.min || v > b.max) return `${name} must be between ${b.min} and ${b.max}, got ${v}`;
    if (b.integer && !Number.isInteger(v)) return `${name} must be an integer, got ${v}`;
  }
  const rows = values.rows;
  const features = values.features;
  if (typeof rows === 'number' && typeof features === 'number' && rows < 4 * features)
    return `rows must be at least 4 × features (${4 * features}), got ${rows}`;
  return undefined;
}

/** A small deterministic PRNG (mulberry32): a seed always gives the same data set. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next());
}

/** Solve A x = b (A is n×n, row-major) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]!) > Math.abs(M[p * n + c]!)) p = r;
    for (let k = 0; k < n; k++) [M[c * n + k], M[p * n + k]] = [M[p * n + k]!, M[c * n + k]!];
    [x[c], x[p]] = [x[p]!, x[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c]! / M[c * n + c]!;
      for (let k = c; k < n; k++) M[r * n + k]! -= f * M[c * n + k]!;
      x[r]! -= f * x[c]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let k = r + 1; k < n; k++) s -= M[r * n + k]! * x[k]!;
    x[r] = s / M[r * n + r]!;
  }
  return x;
}

/**
 * Ridge regression trained by the service: `start` generates the data set (by `seed`), `fit`
 * solves w = (XᵀX + αI)⁻¹ Xᵀy on the first 60 % of the rows and scores it on the rest, and the
 * `model` artifact is what `GET /model` serves.
 */
export class RidgeTrainFlow extends FlowSpec {
  static readonly flowName = 'RidgeTrainFlow';
  @param({ default: 1, help: 'ridge penalty α (0 to 1e6)' }) alpha!: number;
  @param({ default: 7, help: 'random seed of the data set' }) seed!: number;
  @param({ default: 400, help: 'rows in the generated data set' }) rows!: number;
  @param({ default: 12, help: 'features per row' }) features!: number;

  declare X: Float64Array;
  declare y: Float64Array;
  declare trainRows: number;
  declare model: RidgeModel;

  @step start() {
    const problem = paramProblem({ alpha: this.alpha, seed: this.seed, rows: this.rows, features: this.features });
    if (problem) throw new RangeError(problem);
    const next = rng(this.seed);
    const d = this.features;
    const trueW = Float64Array.from({ length: d }, (_, j) => (j % 3 === 0 ? gaussian(next) * 2 : 0));
    const X = new Float64Array(this.rows * d);
    const y = new Float64Array(this.rows);
    for (let i = 0; i < this.rows; i++) {
      let t = 0;
      for (let j = 0; j < d; j++) {
        X[i * d + j] = gaussian(next);
        t += X[i * d + j]! * trueW[j]!;
      }
      y[i] = t + gaussian(next) * 3;
    }
    this.X = X;
    this.y = y;
    this.trainRows = Math.floor(this.rows * 0.6);
    this.next(this.fit);
  }

  @step fit() {
    const d = this.features;
    const n = this.trainRows;
    const A = new Float64Array(d * d);
    const b = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const xij = this.X[i * d + j]!;
        b[j]! += xij * this.y[i]!;
        for (let k = 0; k < d; k++) A[j * d + k]! += xij * this.X[i * d + k]!;
      }
    }
    for (let j = 0; j < d; j++) A[j * d + j]! += this.alpha;
    const w = solve(A, b, d);
    let sse = 0;
    let mean = 0;
    for (let i = n; i < this.rows; i++) mean += this.y[i]!;
    mean /= this.rows - n;
    let sst = 0;
    for (let i = n; i < this.rows; i++) {
      let p = 0;
      for (let j = 0; j < d; j++) p += this.X[i * d + j]! * w[j]!;
      sse += (p - this.y[i]!) ** 2;
      sst += (this.y[i]! - mean) ** 2;
    }
    this.model = {
      kind: 'ridge',
      alpha: this.alpha,
      features: d,
      weights: Array.from(w),
      validationMse: sse / (this.rows - n),
      score: 1 - sse / sst,
    };
    this.next(this.end);
  }

  @step end() {
    console.log(`alpha=${this.model.alpha} validation MSE=${this.model.validationMse.toFixed(4)} R²=${this.model.score.toFixed(4)}`);
  }
}
