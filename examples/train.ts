import { FlowSpec, param, step, type Inputs } from '@tributary/core';

/** A small deterministic PRNG (mulberry32), so every run sees the same data set. */
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

/** Ridge regression: w = (XᵀX + αI)⁻¹ Xᵀy. X is rows×d, row-major. */
function fitRidge(X: Float64Array, y: Float64Array, rows: number, d: number, alpha: number): Float64Array {
  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < d; j++) {
      const xij = X[i * d + j]!;
      b[j]! += xij * y[i]!;
      for (let k = 0; k < d; k++) A[j * d + k]! += xij * X[i * d + k]!;
    }
  }
  for (let j = 0; j < d; j++) A[j * d + j]! += alpha;
  return solve(A, b, d);
}

function mse(X: Float64Array, y: Float64Array, w: Float64Array, rows: number, d: number): number {
  let s = 0;
  for (let i = 0; i < rows; i++) {
    let p = 0;
    for (let j = 0; j < d; j++) p += X[i * d + j]! * w[j]!;
    s += (p - y[i]!) ** 2;
  }
  return s / rows;
}

/**
 * Hyperparameter search: generate a regression data set, fit ridge regression once per alpha
 * in a foreach (one task per alpha), and pick the alpha with the lowest validation error.
 */
export class TrainFlow extends FlowSpec {
  @param({ default: 400, help: 'rows in the generated data set' }) rows!: number;
  @param({ default: 30, help: 'features per row' }) features!: number;
  @param({ default: 7, help: 'random seed of the data set' }) seed!: number;

  alphas!: number[];
  X!: Float64Array;
  y!: Float64Array;
  trainRows!: number;
  alpha!: number;
  validationMse!: number;
  weights!: Float64Array;
  results!: Array<{ alpha: number; validationMse: number }>;
  bestAlpha!: number;
  bestMse!: number;

  @step start() {
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
    this.trainRows = Math.floor(this.rows * 0.25);
    this.alphas = [0.001, 0.01, 0.1, 1, 3, 10, 30, 100, 300, 1000];
    this.next(this.fit, { foreach: 'alphas' });
  }

  @step fit() {
    const d = this.features;
    const n = this.trainRows;
    this.alpha = this.input;
    this.weights = fitRidge(this.X.subarray(0, n * d), this.y.subarray(0, n), n, d, this.alpha);
    this.validationMse = mse(this.X.subarray(n * d), this.y.subarray(n), this.weights, this.rows - n, d);
    console.log(`alpha=${this.alpha} validation MSE=${this.validationMse.toFixed(4)}`);
    this.next(this.pick);
  }

  @step pick(inputs: Inputs<TrainFlow>) {
    this.results = inputs.map((i) => ({ alpha: i.alpha, validationMse: i.validationMse }));
    const best = this.results.reduce((a, b) => (b.validationMse < a.validationMse ? b : a));
    this.bestAlpha = best.alpha;
    this.bestMse = best.validationMse;
    this.next(this.end);
  }

  @step end() {
    console.log(`best alpha: ${this.bestAlpha} (validation MSE ${this.bestMse.toFixed(4)})`);
  }
}
