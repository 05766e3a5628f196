import { FlowSpec, param, step } from '@tributary/core';

/**
 * Conditional steps. `refine` is a switch that loops on itself until the estimate converges
 * (Newton's method for a square root), then a second switch routes on the result's size.
 */
export class SwitchFlow extends FlowSpec {
  @param({ default: 2, help: 'number whose square root to compute' }) value!: number;
  @param({ default: 1e-10, help: 'stop when successive estimates differ by less than this' }) tolerance!: number;

  estimate!: number;
  iterations!: number;
  status!: 'again' | 'done';
  size!: 'small' | 'large';
  summary!: string;

  @step start() {
    this.estimate = this.value;
    this.iterations = 0;
    this.next(this.refine);
  }

  @step refine() {
    const previous = this.estimate;
    this.estimate = (this.estimate + this.value / this.estimate) / 2;
    this.iterations += 1;
    this.status = Math.abs(previous - this.estimate) < this.tolerance ? 'done' : 'again';
    this.next({ again: this.refine, done: this.classify }, { condition: 'status' });
  }

  @step classify() {
    this.size = this.estimate < 10 ? 'small' : 'large';
    this.next({ small: this.small, large: this.large }, { condition: 'size' });
  }

  @step small() {
    this.summary = `sqrt(${this.value}) ≈ ${this.estimate} (small) after ${this.iterations} iterations`;
    this.next(this.end);
  }

  @step large() {
    this.summary = `sqrt(${this.value}) ≈ ${this.estimate} (large) after ${this.iterations} iterations`;
    this.next(this.end);
  }

  @step end() {
    console.log(this.summary);
  }
}
