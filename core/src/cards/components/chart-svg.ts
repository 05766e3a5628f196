/**
 * Static SVG charts drawn with d3-scale (scales, ticks and tick labels): no script, no canvas, no
 * network; the SVG is part of the card's HTML and prints as it shows.
 */
import { renderDeps } from '../render-deps.ts';
import { escapeHtml, shortText } from '../html.ts';

/** Ten distinguishable colours (Tableau 10). @internal */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** @internal */
export interface SvgSeries {
  name: string;
  points: Array<{ x: unknown; y: number }>;
}

/** @internal */
export interface SvgChartSpec {
  mark: 'line' | 'bar' | 'point';
  series: SvgSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width: number;
  height: number;
}

type XKind = 'number' | 'time' | 'category';

function xKindOf(values: unknown[], mark: SvgChartSpec['mark']): XKind {
  if (mark === 'bar') return 'category';
  if (values.length > 0 && values.every((v) => typeof v === 'number' && Number.isFinite(v))) return 'number';
  if (values.length > 0 && values.every((v) => v instanceof Date && !Number.isNaN(v.getTime()))) return 'time';
  return 'category';
}

const fmt = (v: number) => shortText(v, 12);

/** Render a chart spec to an SVG element string. @internal */
export function renderChartSvg(spec: SvgChartSpec): string {
  const { width, height, mark } = spec;
  const { scaleBand, scaleLinear, scalePoint, scaleTime } = renderDeps().scales;
  const series = spec.series.map((s) => ({ ...s, points: s.points.filter((p) => typeof p.y === 'number' && Number.isFinite(p.y)) }));
  const all = series.flatMap((s) => s.points);
  const legend = series.length > 1;
  const m = { top: spec.title ? 30 : 12, right: legend ? 130 : 16, bottom: spec.xLabel ? 48 : 32, left: spec.yLabel ? 64 : 50 };
  const iw = Math.max(10, width - m.left - m.right);
  const ih = Math.max(10, height - m.top - m.bottom);
  const parts: string[] = [];
  const text = (x: number, y: number, t: string, attrs = '') =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${escapeHtml(t)}</text>`;
  if (spec.title) parts.push(text(width / 2, 18, spec.title, ' class="c-title" text-anchor="middle"'));
  if (all.length === 0) {
    parts.push(text(width / 2, height / 2, 'no data', ' class="c-tick" text-anchor="middle"'));
    return wrap(width, height, parts);
  }

  const ys = all.map((p) => p.y);
  const yMin = mark === 'bar' ? Math.min(0, ...ys) : Math.min(...ys);
  const yMax = mark === 'bar' ? Math.max(0, ...ys) : Math.max(...ys);
  const y = scaleLinear()
    .domain(yMin === yMax ? [yMin - 1, yMax + 1] : [yMin, yMax])
    .nice()
    .range([ih, 0]);

  const xsRaw = all.map((p) => p.x);
  const kind = xKindOf(xsRaw, mark);
  let xPos: (v: unknown) => number;
  let xTicks: Array<{ at: number; label: string }>;
  let band = 0;
  if (kind === 'number') {
    const xs = xsRaw as number[];
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const x = scaleLinear()
      .domain(lo === hi ? [lo - 1, hi + 1] : [lo, hi])
      .nice()
      .range([0, iw]);
    xPos = (v) => x(v as number);
    xTicks = x.ticks(Math.max(2, Math.floor(iw / 80))).map((t) => ({ at: x(t), label: fmt(t) }));
  } else if (kind === 'time') {
    const ts = xsRaw as Date[];
    const x = scaleTime()
      .domain([new Date(Math.min(...ts.map(Number))), new Date(Math.max(...ts.map(Number)))])
      .nice()
      .range([0, iw]);
    const tf = x.tickFormat();
    xPos = (v) => x(v as Date);
    xTicks = x.ticks(Math.max(2, Math.floor(iw / 90))).map((t) => ({ at: x(t), label: tf(t) }));
  } else {
    const cats = [...new Set(xsRaw.map((v) => shortText(v, 40)))];
    const every = Math.max(1, Math.ceil(cats.length / Math.max(1, Math.floor(iw / 60))));
    if (mark === 'bar') {
      const x = scaleBand<string>().domain(cats).range([0, iw]).padding(0.2);
      band = x.bandwidth();
      xPos = (v) => x(shortText(v, 40)) ?? 0;
      xTicks = cats.filter((_, i) => i % every === 0).map((c) => ({ at: (x(c) ?? 0) + band / 2, label: c }));
    } else {
      const x = scalePoint<string>().domain(cats).range([0, iw]).padding(0.5);
      xPos = (v) => x(shortText(v, 40)) ?? 0;
      xTicks = cats.filter((_, i) => i % every === 0).map((c) => ({ at: x(c) ?? 0, label: c }));
    }
  }

  const g: string[] = [];
  // grid and axes
  for (const t of y.ticks(Math.max(2, Math.floor(ih / 40)))) {
    const yy = y(t);
    g.push(`<line class="c-grid" x1="0" x2="${iw}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}"/>`);
    g.push(text(-6, yy + 4, fmt(t), ' class="c-tick" text-anchor="end"'));
  }
  g.push(`<line class="c-axis" x1="0" x2="${iw}" y1="${ih}" y2="${ih}"/>`);
  for (const t of xTicks) {
    g.push(`<line class="c-axis" x1="${t.at.toFixed(1)}" x2="${t.at.toFixed(1)}" y1="${ih}" y2="${ih + 4}"/>`);
    g.push(text(t.at, ih + 16, t.label, ' class="c-tick" text-anchor="middle"'));
  }
  if (spec.xLabel) g.push(text(iw / 2, ih + 38, spec.xLabel, ' class="c-label" text-anchor="middle"'));
  if (spec.yLabel) g.push(text(-ih / 2, -m.left + 14, spec.yLabel, ' class="c-label" text-anchor="middle" transform="rotate(-90)"'));

  // marks
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    if (mark === 'line') {
      const pts = s.points.map((p) => ({ x: xPos(p.x), y: y(p.y) }));
      if (kind !== 'category') pts.sort((a, b) => a.x - b.x);
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('');
      g.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"><title>${escapeHtml(s.name)}</title></path>`);
      if (pts.length <= 60) for (const p of pts) g.push(`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="2.5" fill="${color}"/>`);
    } else if (mark === 'bar') {
      const w = band / series.length;
      for (const p of s.points) {
        const x0 = xPos(p.x) + i * w;
        const y0 = y(Math.max(0, p.y));
        const h = Math.abs(y(p.y) - y(0));
        g.push(
          `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${Math.max(1, w - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}">` +
            `<title>${escapeHtml(`${series.length > 1 ? `${s.name} ` : ''}${shortText(p.x, 40)}: ${fmt(p.y)}`)}</title></rect>`,
        );
      }
    } else {
      for (const p of s.points)
        g.push(
          `<circle cx="${xPos(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.5" fill="${color}" fill-opacity="0.75">` +
            `<title>${escapeHtml(`${shortText(p.x, 40)}, ${fmt(p.y)}`)}</title></circle>`,
        );
    }
  });
  parts.push(`<g transform="translate(${m.left},${m.top})">${g.join('')}</g>`);
  if (legend) {
    series.forEach((s, i) => {
      const ly = m.top + 8 + i * 18;
      parts.push(`<rect x="${width - m.right + 14}" y="${ly - 9}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
      parts.push(text(width - m.right + 32, ly + 1, shortText(s.name, 16), ' class="c-tick"'));
    });
  }
  return wrap(width, height, parts);
}

function wrap(width: number, height: number, parts: string[]): string {
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join('')}</svg>`;
}
