import { TributaryError } from '../../errors.ts';
import { renderChartSvg, type SvgChartSpec, type SvgSeries } from './chart-svg.ts';
import { CardComponent } from './component.ts';

/** Options every chart takes. @public */
export interface ChartOptions {
  /** The field of each row on the x axis (numbers, Dates or categories). */
  x: string;
  /** The field (or fields: one series each) on the y axis; numbers. */
  y: string | string[];
  /** A field whose values split the rows into series (instead of several `y` fields). */
  series?: string;
  title?: string;
  /** Axis titles. Default: the field names. */
  xLabel?: string;
  yLabel?: string;
  /** In pixels. Default 640 × 320. */
  width?: number;
  height?: number;
}

type Row = Readonly<Record<string, unknown>>;

/**
 * What the three charts share: rows of records (as a data frame's rows), picked by field names,
 * drawn to static SVG when the card is rendered (so rows added later show at the next refresh).
 */
abstract class RowChart extends CardComponent {
  protected abstract readonly mark: SvgChartSpec['mark'];
  readonly rows: Row[];

  constructor(
    rows: ReadonlyArray<Row>,
    readonly options: ChartOptions,
  ) {
    super();
    if (!Array.isArray(rows)) throw new TypeError('A chart takes an array of rows, e.g. [{ epoch: 1, loss: 0.3 }].');
    if (!options || typeof options.x !== 'string' || (typeof options.y !== 'string' && !Array.isArray(options.y)))
      throw new TributaryError('PARAM_INVALID', "A chart needs the fields to plot: { x: 'epoch', y: 'loss' } (y can be a list).");
    this.rows = [...rows];
  }

  /** Add rows (a live card draws them at its next refresh). */
  add(...rows: Row[]): this {
    this.rows.push(...rows);
    return this;
  }

  toHtml(): string {
    const { x, series: by } = this.options;
    const ys = Array.isArray(this.options.y) ? this.options.y : [this.options.y];
    let series: SvgSeries[];
    if (by) {
      const groups = new Map<string, SvgSeries>();
      for (const r of this.rows) {
        const name = String(r[by]);
        if (!groups.has(name)) groups.set(name, { name, points: [] });
        groups.get(name)!.points.push({ x: r[x], y: Number(r[ys[0]!]) });
      }
      series = [...groups.values()];
    } else {
      series = ys.map((f) => ({ name: f, points: this.rows.map((r) => ({ x: r[x], y: Number(r[f]) })) }));
    }
    const yLabel = this.options.yLabel ?? (ys.length === 1 ? ys[0] : undefined);
    return renderChartSvg({
      mark: this.mark,
      series,
      width: this.options.width ?? 640,
      height: this.options.height ?? 320,
      ...(this.options.title ? { title: this.options.title } : {}),
      xLabel: this.options.xLabel ?? x,
      ...(yLabel ? { yLabel } : {}),
    });
  }
}

/** A line chart: `new LineChart(history, { x: 'epoch', y: ['loss', 'valLoss'] })`. @public */
export class LineChart extends RowChart {
  readonly kind = 'line-chart';
  protected readonly mark = 'line';
}

/** A bar chart (x is categorical): `new BarChart(results, { x: 'model', y: 'score' })`. @public */
export class BarChart extends RowChart {
  readonly kind = 'bar-chart';
  protected readonly mark = 'bar';
}

/** A scatter plot: `new ScatterChart(trials, { x: 'alpha', y: 'score', series: 'solver' })`. @public */
export class ScatterChart extends RowChart {
  readonly kind = 'scatter-chart';
  protected readonly mark = 'point';
}
