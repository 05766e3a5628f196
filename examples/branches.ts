import { FlowSpec, step, type Inputs } from '@tributary/core';

/** A static branch: two steps run in parallel on the same input, a join combines them. */
export class BranchesFlow extends FlowSpec {
  numbers!: number[];
  sum!: number;
  product!: number;
  report!: string;

  @step start() {
    this.numbers = [3, 1, 4, 1, 5, 9, 2, 6];
    this.next(this.add, this.multiply);
  }

  @step add() {
    this.sum = this.numbers.reduce((a, b) => a + b, 0);
    this.next(this.combine);
  }

  @step multiply() {
    this.product = this.numbers.reduce((a, b) => a * b, 1);
    this.next(this.combine);
  }

  @step combine(inputs: Inputs<BranchesFlow>) {
    // Branch inputs are addressable by step name; `numbers` is equal in both, so it merges.
    this.mergeArtifacts(inputs, { exclude: ['sum', 'product'] });
    this.report = `sum=${inputs.add.sum} product=${inputs.multiply.product} of ${this.numbers.length} numbers`;
    this.next(this.end);
  }

  @step end() {
    console.log(this.report);
  }
}
