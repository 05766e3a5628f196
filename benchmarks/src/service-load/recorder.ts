import type { OpSamples } from './generator-messages.ts';

/** The samples of one operation in one generator: end time and latency of each call, the errors. */
export class Recorder {
  private ends = new Float64Array(1 << 14);
  private lats = new Float64Array(1 << 14);
  private n = 0;
  private errs: number[] = [];
  private samples: string[] = [];
  ok(end: number, lat: number): void {
    if (this.n === this.ends.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.ends = grow(this.ends);
      this.lats = grow(this.lats);
    }
    this.ends[this.n] = end;
    this.lats[this.n++] = lat;
  }
  error(end: number, err: unknown): void {
    this.errs.push(end);
    const e = err as { code?: string; message?: string };
    if (this.samples.length < 5) this.samples.push(`${e.code ?? 'Error'}: ${(e.message ?? String(err)).slice(0, 300)}`);
  }
  done(): OpSamples {
    return {
      ends: this.ends.slice(0, this.n),
      lats: this.lats.slice(0, this.n),
      errorEnds: Float64Array.from(this.errs),
      errorSamples: this.samples,
    };
  }
}
