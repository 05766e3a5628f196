import { FlowSpec, param, retry, step, type Inputs } from '@tributary/core';

/**
 * Fails at its last-but-one step unless RESUME_EXAMPLE_FIXED=1, to show resume:
 *
 *   pnpm tributary run examples/resume.ts                                   # fails in `report`
 *   pnpm tributary resume examples/resume.ts --dry-run                      # the plan: what is cloned, what re-runs
 *   RESUME_EXAMPLE_FIXED=1 pnpm tributary resume examples/resume.ts --env-pass RESUME_EXAMPLE_FIXED   # clones everything that succeeded
 *
 * `train` also shows in-task checkpoints: it saves one per epoch, and a retry (or the same task
 * in a resumed run) continues from the newest instead of starting over.
 */
export class ResumeFlow extends FlowSpec {
  @param({ default: 5, help: 'training epochs' }) epochs!: number;

  shards!: number[];
  total!: number;
  sums!: number[];
  weights!: number[];
  startedAtEpoch!: number;
  report!: string;

  @step start() {
    this.shards = [1, 2, 3, 4, 5, 6];
    this.next(this.sum, { foreach: 'shards' });
  }

  @step sum() {
    // a stand-in for real work on one shard
    let t = 0;
    for (let i = 0; i < 1_000_000 * this.input; i++) t += i % 7;
    this.total = t;
    this.next(this.collect);
  }

  @step collect(inputs: Inputs<ResumeFlow>) {
    this.sums = inputs.map((i) => i.total);
    this.next(this.train);
  }

  @retry({ times: 1 })
  @step
  async train() {
    const saved = await this.checkpoint.latest<{ epoch: number; weights: number[] }>();
    let weights = saved?.weights ?? [0, 0, 0];
    this.startedAtEpoch = saved ? saved.epoch + 1 : 0;
    for (let epoch = this.startedAtEpoch; epoch < this.epochs; epoch++) {
      weights = weights.map((w, i) => w + (this.sums[i] ?? 0) / 1e6 / (epoch + 1));
      await this.checkpoint.save({ epoch, weights });
      console.log(`epoch ${epoch} done`);
    }
    this.weights = weights;
    this.next(this.finish);
  }

  @step finish() {
    if (process.env.RESUME_EXAMPLE_FIXED !== '1') {
      throw new Error('finish failed (set RESUME_EXAMPLE_FIXED=1 and resume the run)');
    }
    this.report = `weights ${this.weights.map((w) => w.toFixed(3)).join(', ')} (training started at epoch ${this.startedAtEpoch})`;
    this.next(this.end);
  }

  @step end() {
    console.log(this.report);
  }
}
