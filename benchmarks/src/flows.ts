import { card, FlowSpec, LineChart, param, step, Table, type Inputs } from '@tributary/core';

/** A foreach with a trivial body: measures scheduling, not work. */
export class FanOutFlow extends FlowSpec {
  @param({ default: 100 }) splits!: number;
  items!: number[];
  y!: number;
  total!: number;

  @step start() {
    this.items = Array.from({ length: this.splits }, (_, i) => i);
    this.next(this.body, { foreach: 'items' });
  }
  @step body() {
    this.y = this.input * 2;
    this.next(this.join);
  }
  @step join(inputs: Inputs<FanOutFlow>) {
    let t = 0;
    for (const i of inputs) t += i.y;
    this.total = t;
    this.next(this.end);
  }
  @step end() {}
}

/** Five steps in a line, each touching one small artifact. */
export class FiveStepFlow extends FlowSpec {
  x!: number;
  @step start() {
    this.x = 0;
    this.next(this.a);
  }
  @step a() {
    this.x += 1;
    this.next(this.b);
  }
  @step b() {
    this.x += 1;
    this.next(this.c);
  }
  @step c() {
    this.x += 1;
    this.next(this.end);
  }
  @step end() {
    this.x += 1;
  }
}

/** A foreach of `n` splits that each do almost nothing: the cost of fanning out, not of work. */
export class WideFlow extends FlowSpec {
  @param() n = 100;
  items!: number[];
  value!: number;
  total!: number;
  @step start() {
    this.items = Array.from({ length: this.n }, (_, i) => i);
    this.next(this.each, { foreach: 'items' });
  }
  @step each() {
    this.value = this.input * 2;
    this.next(this.join);
  }
  @step join(inputs: Inputs<WideFlow>) {
    this.total = inputs.reduce((s, i) => s + i.value, 0);
    this.next(this.end);
  }
  @step end() {}
}

/** FanOutFlow with a default card on every step: what `@card` costs per task. */
export class CardedFanOutFlow extends FlowSpec {
  @param({ default: 100 }) splits!: number;
  items!: number[];
  y!: number;
  total!: number;

  @card() @step start() {
    this.items = Array.from({ length: this.splits }, (_, i) => i);
    this.next(this.body, { foreach: 'items' });
  }
  @card() @step body() {
    this.y = this.input * 2;
    this.next(this.join);
  }
  @card() @step join(inputs: Inputs<CardedFanOutFlow>) {
    let t = 0;
    for (const i of inputs) t += i.y;
    this.total = t;
    this.next(this.end);
  }
  @card() @step end() {}
}

/** The carded foreach whose splits also draw a table and a 50-point line chart in their card. */
export class ChartedFanOutFlow extends FlowSpec {
  @param({ default: 100 }) splits!: number;
  items!: number[];
  y!: number;
  total!: number;

  @card() @step start() {
    this.items = Array.from({ length: this.splits }, (_, i) => i);
    this.next(this.body, { foreach: 'items' });
  }
  @card() @step body() {
    this.y = this.input * 2;
    const curve = Array.from({ length: 50 }, (_, e) => ({ epoch: e, loss: 1 / (1 + e + this.input) }));
    this.card.append(new Table(curve.slice(0, 10)), new LineChart(curve, { x: 'epoch', y: 'loss' }));
    this.next(this.join);
  }
  @card() @step join(inputs: Inputs<ChartedFanOutFlow>) {
    let t = 0;
    for (const i of inputs) t += i.y;
    this.total = t;
    this.next(this.end);
  }
  @card() @step end() {}
}
