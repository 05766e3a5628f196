import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  BarChart,
  buildGraph,
  card,
  CardSection,
  FlowSpec,
  Image,
  JsonViewer,
  layoutGraph,
  LineChart,
  loadCardRenderer,
  Markdown,
  ProgressBar,
  renderGraphSvg,
  ScatterChart,
  step,
  Table,
  TributaryError,
  ValueBox,
  type FlowGraph,
  type GraphLayout,
  type Inputs,
} from '../src/index.ts';

/**
 * Issue 14: card components (HTML of each, escaping of every user text), `@card` option checks,
 * the graph layout cards draw, and the graph SVG. Pure functions: no run, no worker.
 */

const count = (html: string, needle: string | RegExp): number =>
  typeof needle === 'string' ? html.split(needle).length - 1 : (html.match(new RegExp(needle.source, 'g')) ?? []).length;
const EVIL = '<script>alert("x")</script>';
const EVIL_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;';
const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
/** The `<rect>`s that are bars (they carry a tooltip), not legend swatches. */
const bars = (svg: string) => count(svg, /<rect [^>]*><title>/);
const legendSwatches = (svg: string) => count(svg, /<rect [^>]*width="12" height="12"[^>]*\/>/);

beforeAll(async () => {
  // Before the libraries are loaded, a component that needs them says what to do.
  expect(() => new Markdown('x').toHtml()).toThrow(/await loadCardRenderer\(\)/);
  await loadCardRenderer();
  await loadCardRenderer(); // idempotent
});

describe('Markdown', () => {
  test('GitHub-flavoured tables, fenced code (escaped), emphasis; raw HTML is kept by design; update() replaces the text', () => {
    const md = new Markdown('# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```js\nconst x = 1 < 2 && "y";\n```\n\n**bold** and `code`');
    expect(md.kind).toBe('markdown');
    const html = md.toHtml();
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toMatch(
      /<table>\s*<thead>\s*<tr>\s*<th>a<\/th>\s*<th>b<\/th>\s*<\/tr>\s*<\/thead>\s*<tbody><tr>\s*<td>1<\/td>\s*<td>2<\/td>/,
    );
    expect(html).toContain('<pre><code class="language-js">const x = 1 &lt; 2 &amp;&amp; &quot;y&quot;;\n</code></pre>');
    expect(html).toContain('<strong>bold</strong> and <code>code</code>');
    // Raw HTML stays (Metaflow does the same; the card page has a CSP and no network).
    expect(new Markdown('<b>raw</b>').toHtml()).toContain('<b>raw</b>');
    expect(md.update('plain *em*')).toBe(md);
    expect(md.toHtml()).toBe('<p>plain <em>em</em></p>\n');
  });
});

describe('Table', () => {
  test('rows as arrays: no header row unless given; one <td> per value; numbers (and bigints) get class num', () => {
    const html = new Table([
      [1, 'a', 12n],
      [2.5, '3', null],
    ]).toHtml();
    expect(html).not.toContain('<thead>');
    expect(html).toBe(
      '<div class="table-wrap"><table><tbody>' +
        '<tr><td class="num">1</td><td>a</td><td class="num">12n</td></tr>' +
        '<tr><td class="num">2.5</td><td>3</td><td>null</td></tr>' +
        '</tbody></table></div>',
    );
    expect(new Table([[1, 2]], { headers: ['x', 'y'] }).toHtml()).toContain('<thead><tr><th>x</th><th>y</th></tr></thead>');
  });

  test('rows as objects: headers are the union of keys in first-seen order; missing cells are empty', () => {
    const t = new Table([{ b: 1, a: 'x' }, { c: true, a: 'y' }, { d: { deep: [1] } }]);
    expect(t.headers).toEqual(['b', 'a', 'c', 'd']);
    const html = t.toHtml();
    expect(html).toContain('<thead><tr><th>b</th><th>a</th><th>c</th><th>d</th></tr></thead>');
    expect(html).toContain('<tr><td class="num">1</td><td>x</td><td></td><td></td></tr>');
    expect(html).toContain('<tr><td></td><td>y</td><td>true</td><td></td></tr>');
    expect(html).toContain('<tr><td></td><td></td><td></td><td>{&quot;deep&quot;:[1]}</td></tr>');
    // Given headers pick (and order) the columns.
    expect(new Table([{ a: 1, b: 2, c: 3 }], { headers: ['c', 'a'] }).toHtml()).toContain(
      '<thead><tr><th>c</th><th>a</th></tr></thead><tbody><tr><td class="num">3</td><td class="num">1</td></tr>',
    );
    // addRow takes an object (by the headers) or an array.
    t.addRow({ a: 'z', d: 4 }).addRow([9]);
    expect(t.rows.slice(-2)).toEqual([[undefined, 'z', undefined, 4], [9]]);
  });

  test('maxRows shows the first rows and counts the rest; default 1000', () => {
    const rows = Array.from({ length: 5 }, (_, i) => [i]);
    const html = new Table(rows, { maxRows: 2 }).toHtml();
    expect(count(html, '<tr>')).toBe(2);
    expect(html).toContain('<tr><td class="num">0</td></tr><tr><td class="num">1</td></tr></tbody>');
    expect(html).toMatch(/<p class="muted">… and 3 more rows \(of 5\)\.<\/p>$/);
    expect(new Table(rows, { maxRows: 5 }).toHtml()).not.toContain('more rows');
    const big = new Table(Array.from({ length: 1003 }, (_, i) => [i])).toHtml();
    expect(count(big, '<tr>')).toBe(1000);
    expect(big).toContain('… and 3 more rows (of 1003).');
  });

  test('a cell can be a component: its HTML is nested as is; long text is cut at 500 characters', () => {
    const html = new Table([[new ValueBox('inner', 3), new Image(PNG_1X1, { label: 'px' })]]).toHtml();
    expect(html).toContain('<td><div class="vb-title">inner</div><div class="vb-value">3</div></td>');
    expect(html).toContain('<td><figure><img src="data:image/png;base64,');
    const long = new Table([['x'.repeat(600)]]).toHtml();
    expect(long).toContain(`<td>${'x'.repeat(499)}…</td>`);
  });

  test('user text is escaped in cells and headers; a non-array is refused', () => {
    const html = new Table([{ [EVIL]: EVIL, "it's": `"quoted"` }]).toHtml();
    expect(html).not.toContain('<script');
    expect(html).toContain(`<th>${EVIL_ESCAPED}</th><th>it&#39;s</th>`);
    expect(html).toContain(`<td>${EVIL_ESCAPED}</td><td>&quot;quoted&quot;</td>`);
    expect(() => new Table('rows' as never)).toThrow(TypeError);
  });
});

describe('ValueBox', () => {
  test('title, value, subtitle and a change drawn good or bad by higherIsBetter', () => {
    const up = new ValueBox('R²', 0.93123, { change: 0.02, subtitle: 'vs last run' }).toHtml();
    expect(up).toBe(
      '<div class="vb-title">R²</div><div class="vb-value">0.9312<span class="delta good">▲ 0.02</span></div><div class="muted">vs last run</div>',
    );
    expect(new ValueBox('loss', 1, { change: -0.5, higherIsBetter: false }).toHtml()).toContain('<span class="delta good">▼ 0.5</span>');
    expect(new ValueBox('loss', 1, { change: 0.5, higherIsBetter: false }).toHtml()).toContain('<span class="delta bad">▲ 0.5</span>');
    expect(new ValueBox('acc', 1, { change: -0.1 }).toHtml()).toContain('<span class="delta bad">▼ 0.1</span>');
    expect(new ValueBox('x', 1, { change: 0 }).toHtml()).not.toContain('delta');
    expect(new ValueBox('x', 1, { change: NaN }).toHtml()).not.toContain('delta');
    const vb = new ValueBox('x', 1);
    expect(vb.update(2, 1).toHtml()).toContain('<div class="vb-value">2<span class="delta good">▲ 1</span>');
  });

  test('title, value and subtitle are escaped; long values are cut at 80 characters', () => {
    const html = new ValueBox(EVIL, EVIL, { subtitle: `"${EVIL}'` }).toHtml();
    expect(html).not.toContain('<script');
    expect(html).toBe(
      `<div class="vb-title">${EVIL_ESCAPED}</div><div class="vb-value">${EVIL_ESCAPED}</div><div class="muted">&quot;${EVIL_ESCAPED}&#39;</div>`,
    );
    expect(new ValueBox('t', 'y'.repeat(100)).toHtml()).toContain(`<div class="vb-value">${'y'.repeat(79)}…</div>`);
  });
});

describe('ProgressBar', () => {
  const width = (html: string) => html.match(/style="width:([^%]*)%"/)?.[1];
  test('the bar is value / max as a percentage, clamped to 0..100', () => {
    const bar = new ProgressBar({ max: 10, value: 3, label: 'epochs', unit: 'epochs' });
    expect(bar.toHtml()).toBe(
      '<div class="progress-label">epochs</div>' +
        '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="10" aria-valuenow="3">' +
        '<div class="progress-fill" style="width:30.00%"></div></div><div class="muted">3 / 10 epochs (30 %)</div>',
    );
    expect(width(new ProgressBar({ max: 10, value: 25 }).toHtml())).toBe('100.00');
    expect(new ProgressBar({ max: 10, value: 25 }).toHtml()).toContain('(100 %)');
    expect(width(new ProgressBar({ max: 10, value: -5 }).toHtml())).toBe('0.00');
    expect(new ProgressBar({ max: 10, value: -5 }).toHtml()).toContain('(0 %)');
    expect(width(new ProgressBar({ value: 1 / 3 }).toHtml())).toBe('0.33'); // max defaults to 100
    expect(width(new ProgressBar({ max: 0, value: 5 }).toHtml())).toBe('100.00'); // no division by zero
    expect(width(new ProgressBar({ max: 10, value: Infinity }).toHtml())).toBe('100.00');
    expect(bar.update(7, 'nearly').toHtml()).toMatch(/^<div class="progress-label">nearly<\/div>.*width:70\.00%.*7 \/ 10 epochs \(70 %\)/);
  });

  test('a NaN value (e.g. a diverged metric) still gives a bar between 0 and 100 %', () => {
    // width:NaN% is invalid CSS: the browser drops it and the fill takes the full width (a full bar).
    const html = new ProgressBar({ max: 10, value: NaN }).toHtml();
    const w = Number(width(html));
    expect(Number.isFinite(w)).toBe(true);
    expect(w).toBeGreaterThanOrEqual(0);
    expect(w).toBeLessThanOrEqual(100);
  });

  test('label and unit are escaped', () => {
    const html = new ProgressBar({ label: EVIL, unit: EVIL }).toHtml();
    expect(html).not.toContain('<script');
    expect(html).toContain(`<div class="progress-label">${EVIL_ESCAPED}</div>`);
    expect(html).toContain(`0 / 100 ${EVIL_ESCAPED} (0 %)`);
  });
});

describe('JsonViewer', () => {
  test('objects, arrays, Maps and Sets as nested <details>; the first level open; primitives typed', () => {
    const html = new JsonViewer({ a: [1, 'two', null], m: new Map([['k', true]]), s: new Set([1, 2, 3]) }).toHtml();
    expect(html).toBe(
      '<div class="json"><details open><summary>{3}</summary><ul>' +
        '<li><span class="j-key">a</span>: <details><summary>Array[3]</summary><ul>' +
        '<li><span class="j-key">0</span>: <span class="j-number">1</span></li>' +
        '<li><span class="j-key">1</span>: <span class="j-string">&quot;two&quot;</span></li>' +
        '<li><span class="j-key">2</span>: <span class="j-null">null</span></li></ul></details></li>' +
        '<li><span class="j-key">m</span>: <details><summary>Map{1}</summary><ul>' +
        '<li><span class="j-key">k</span>: <span class="j-boolean">true</span></li></ul></details></li>' +
        '<li><span class="j-key">s</span>: <details><summary>Set[3]</summary><ul>' +
        '<li><span class="j-key">0</span>: <span class="j-number">1</span></li>' +
        '<li><span class="j-key">1</span>: <span class="j-number">2</span></li>' +
        '<li><span class="j-key">2</span>: <span class="j-number">3</span></li></ul></details></li>' +
        '</ul></details></div>',
    );
    expect(count(new JsonViewer({ a: { b: { c: 1 } } }, { expanded: 2 }).toHtml(), '<details open>')).toBe(2);
    expect(new JsonViewer({ a: 1 }, { expanded: 0 }).toHtml()).not.toContain('<details open>');
    expect(new JsonViewer(new Float64Array(4)).toHtml()).toContain('<span class="j-object">Float64Array(4)</span>');
  });

  test('a circular reference is shown as [circular]; a value seen twice but not circular is shown twice', () => {
    const loop: Record<string, unknown> = { name: 'root' };
    loop.self = loop;
    loop.list = [loop];
    const html = new JsonViewer(loop).toHtml();
    expect(count(html, '<span class="muted">[circular]</span>')).toBe(2);
    expect(html).toContain('<li><span class="j-key">self</span>: <span class="muted">[circular]</span></li>');
    const shared = { v: 1 };
    const dag = new JsonViewer({ x: shared, y: shared }).toHtml();
    expect(dag).not.toContain('[circular]');
    expect(count(dag, '<span class="j-key">v</span>: <span class="j-number">1</span>')).toBe(2);
  });

  test('maxEntries shows the first entries per object or array and counts the rest', () => {
    const html = new JsonViewer(
      Array.from({ length: 10 }, (_, i) => i),
      { maxEntries: 3 },
    ).toHtml();
    expect(html).toContain('<summary>Array[10]</summary>');
    expect(count(html, '<span class="j-key">')).toBe(3);
    expect(html).toContain('<li class="muted">… 7 more</li>');
    const obj = Object.fromEntries(Array.from({ length: 205 }, (_, i) => [`k${i}`, i]));
    const dflt = new JsonViewer(obj).toHtml();
    expect(count(dflt, '<span class="j-key">')).toBe(200);
    expect(dflt).toContain('… 5 more');
  });

  test('keys, values and the label are escaped', () => {
    const html = new JsonViewer({ [EVIL]: EVIL, nested: new Map([[EVIL, [EVIL]]]) }, { label: EVIL }).toHtml();
    expect(html).not.toContain('<script');
    expect(html).toContain(`<div class="muted">${EVIL_ESCAPED}</div>`);
    expect(html).toContain(
      `<span class="j-key">${EVIL_ESCAPED}</span>: <span class="j-string">&quot;&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&quot;</span>`,
    );
  });
});

describe('Image', () => {
  const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
  const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
  const WEBP = Buffer.from('RIFF\x1a\x00\x00\x00WEBPVP8L', 'latin1');
  const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><script>alert(1)</script><rect width="4" height="4"/></svg>';

  test('the format is found from the bytes (PNG, JPEG, GIF, WebP, SVG) and the image embedded as a data URL', () => {
    expect(new Image(PNG_1X1).type).toBe('image/png');
    expect(new Image(JPEG).type).toBe('image/jpeg');
    expect(new Image(GIF).type).toBe('image/gif');
    expect(new Image(WEBP).type).toBe('image/webp');
    expect(new Image(SVG).type).toBe('image/svg+xml');
    expect(new Image(Buffer.from(SVG)).type).toBe('image/svg+xml');
    expect(new Image(`<?xml version="1.0"?>\n<!-- drawn -->\n<!DOCTYPE svg>\n${SVG}`).type).toBe('image/svg+xml');
    const ab = PNG_1X1.buffer.slice(PNG_1X1.byteOffset, PNG_1X1.byteOffset + PNG_1X1.byteLength);
    expect(new Image(ab).type).toBe('image/png');
    expect(new Image(PNG_1X1).toHtml()).toBe(
      `<figure><img src="data:image/png;base64,${PNG_1X1.toString('base64')}" alt="image"></figure>`,
    );
    expect(new Image(PNG_1X1, { width: 99.6, label: 'one pixel' }).toHtml()).toBe(
      `<figure><img src="data:image/png;base64,${PNG_1X1.toString('base64')}" alt="one pixel" width="100"><figcaption>one pixel</figcaption></figure>`,
    );
    // An SVG's script is inside the base64 data URL (and an <img> never runs it): no markup leaks.
    const svgHtml = new Image(SVG).toHtml();
    expect(svgHtml).not.toContain('<script');
    expect(svgHtml).toContain(`src="data:image/svg+xml;base64,${Buffer.from(SVG).toString('base64')}"`);
  });

  test('unknown bytes are refused with PARAM_INVALID (unless the type is given); a non-image value with a TypeError', () => {
    let err: unknown;
    try {
      new Image(Buffer.from('hello, not an image'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe('PARAM_INVALID');
    expect((err as TributaryError).message).toMatch(/not a PNG, JPEG, GIF, WebP or SVG image\. Pass \{ type \}/);
    expect(() => new Image(new Uint8Array(0))).toThrow(TributaryError);
    expect(new Image(Buffer.from('raw'), { type: 'image/png' }).type).toBe('image/png');
    expect(() => new Image(42 as never)).toThrow(TypeError);
  });

  test('the label is escaped in alt and caption', () => {
    const html = new Image(PNG_1X1, { label: `${EVIL}" onerror="x` }).toHtml();
    expect(html).not.toContain('<script');
    expect(html).not.toContain('" onerror="');
    expect(html).toContain(`alt="${EVIL_ESCAPED}&quot; onerror=&quot;x"`);
    expect(html).toContain(`<figcaption>${EVIL_ESCAPED}&quot; onerror=&quot;x</figcaption>`);
  });
});

describe('charts', () => {
  const history = [
    { epoch: 3, loss: 0.5, val: 0.6 },
    { epoch: 1, loss: 0.9, val: 1.0 },
    { epoch: 2, loss: 0.7, val: 0.8 },
    { epoch: 4, loss: 0.4, val: 0.55 },
    { epoch: 5, loss: 0.35, val: 0.56 },
  ];
  const pathXs = (svg: string) =>
    [...svg.matchAll(/<path d="([^"]*)" fill="none"/g)].map((m) => [...m[1]!.matchAll(/[ML](-?[\d.]+),/g)].map((p) => Number(p[1])));

  test('LineChart: one <path> per series (points sorted by x), a circle per point, a legend for several series', () => {
    const one = new LineChart(history, { x: 'epoch', y: 'loss', title: 'loss' }).toHtml();
    expect(one.startsWith('<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 320" width="640" height="320"')).toBe(
      true,
    );
    expect(count(one, '<path ')).toBe(1);
    expect(count(one, '<circle ')).toBe(5);
    expect(legendSwatches(one)).toBe(0);
    const xs = pathXs(one)[0]!;
    expect(xs).toHaveLength(5);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(one).toContain('class="c-title" text-anchor="middle">loss</text>');
    expect(one).toContain('class="c-label" text-anchor="middle">epoch</text>'); // the x label defaults to the field
    expect(one).toMatch(/transform="rotate\(-90\)">loss<\/text>/); // so does the y label, for one field

    const two = new LineChart(history, { x: 'epoch', y: ['loss', 'val'], xLabel: 'Epoch', width: 400, height: 200 }).toHtml();
    expect(two).toContain('viewBox="0 0 400 200"');
    expect(count(two, '<path ')).toBe(2);
    expect(count(two, '<circle ')).toBe(10);
    expect(legendSwatches(two)).toBe(2);
    expect(two).toMatch(/<text [^>]*class="c-tick">loss<\/text>.*<text [^>]*class="c-tick">val<\/text>/);
    expect(two).toContain('stroke="#4e79a7"');
    expect(two).toContain('stroke="#f28e2b"');
    expect(two).not.toContain('rotate(-90)'); // several y fields: no default y label

    // Long series are drawn as lines only.
    const long = new LineChart(
      Array.from({ length: 61 }, (_, i) => ({ i, v: i * i })),
      { x: 'i', y: 'v' },
    ).toHtml();
    expect(count(long, '<path ')).toBe(1);
    expect(count(long, '<circle ')).toBe(0);
  });

  test('rows whose y is not a finite number are skipped; add() adds rows', () => {
    const chart = new LineChart(
      [
        { x: 1, y: 1 },
        { x: 2, y: 'n/a' },
        { x: 3, y: NaN },
        { x: 4, y: 2 },
      ],
      { x: 'x', y: 'y' },
    );
    expect(count(chart.toHtml(), '<circle ')).toBe(2);
    chart.add({ x: 5, y: 3 }, { x: 6, y: 4 });
    expect(count(chart.toHtml(), '<circle ')).toBe(4);
  });

  test('a `series` field splits the rows into series, each with its colour and a legend entry', () => {
    const trials = [
      { alpha: 0.1, score: 0.5, solver: 'lbfgs' },
      { alpha: 0.2, score: 0.6, solver: 'sag' },
      { alpha: 0.3, score: 0.7, solver: 'lbfgs' },
      { alpha: 0.4, score: 0.65, solver: 'sag' },
      { alpha: 0.5, score: 0.62, solver: 'lbfgs' },
    ];
    const svg = new ScatterChart(trials, { x: 'alpha', y: 'score', series: 'solver' }).toHtml();
    expect(count(svg, '<circle ')).toBe(5);
    expect(count(svg, /<circle [^>]*fill="#4e79a7"/)).toBe(3);
    expect(count(svg, /<circle [^>]*fill="#f28e2b"/)).toBe(2);
    expect(legendSwatches(svg)).toBe(2);
    expect(svg).toMatch(/class="c-tick">lbfgs<\/text>.*class="c-tick">sag<\/text>/);
    expect(svg).toContain('<title>0.1, 0.5</title>');
    expect(count(svg, '<path ')).toBe(0);

    const lines = new LineChart(trials, { x: 'alpha', y: 'score', series: 'solver' }).toHtml();
    expect(count(lines, '<path ')).toBe(2);
    expect(pathXs(lines).map((p) => p.length)).toEqual([3, 2]);
  });

  test('BarChart: a <rect> per bar (grouped for several y fields), categorical x, bars from 0 for negatives', () => {
    const results = [
      { model: 'ridge', score: 0.8, time: 2 },
      { model: 'lasso', score: 0.7, time: 3 },
      { model: 'tree', score: -0.1, time: 1 },
    ];
    const svg = new BarChart(results, { x: 'model', y: 'score' }).toHtml();
    expect(bars(svg)).toBe(3);
    expect(legendSwatches(svg)).toBe(0);
    expect(svg).toContain('<title>ridge: 0.8</title>');
    expect(svg).toContain('<title>tree: -0.1</title>');
    for (const m of ['ridge', 'lasso', 'tree']) expect(svg).toContain(`text-anchor="middle">${m}</text>`);
    // Heights are non-negative; the negative bar hangs from the zero line.
    const heights = [...svg.matchAll(/<rect [^>]*height="([\d.-]+)" fill/g)].map((m) => Number(m[1]));
    expect(heights.every((h) => h >= 0)).toBe(true);
    const grouped = new BarChart(results, { x: 'model', y: ['score', 'time'] }).toHtml();
    expect(bars(grouped)).toBe(6);
    expect(legendSwatches(grouped)).toBe(2);
    expect(grouped).toContain('<title>time ridge: 2</title>');
  });

  test('no rows: "no data", no marks', () => {
    for (const Chart of [LineChart, BarChart, ScatterChart]) {
      const svg = new Chart([], { x: 'x', y: 'y', title: 'empty' }).toHtml();
      expect(svg).toContain('>no data</text>');
      expect(svg).toContain('>empty</text>');
      expect(count(svg, /<(path|circle|rect) /)).toBe(0);
    }
  });

  test('Dates on x make a time axis: date tick labels, points placed in time order', () => {
    const rows = [
      { day: new Date('2024-03-01T00:00:00Z'), v: 3 },
      { day: new Date('2024-01-01T00:00:00Z'), v: 1 },
      { day: new Date('2024-02-01T00:00:00Z'), v: 2 },
    ];
    const svg = new LineChart(rows, { x: 'day', y: 'v' }).toHtml();
    expect(count(svg, '<path ')).toBe(1);
    const xs = pathXs(svg)[0]!;
    expect(xs).toHaveLength(3);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    // Feb 1 lies between Jan 1 and Mar 1 in proportion to the days (31 of 60).
    expect((xs[1]! - xs[0]!) / (xs[2]! - xs[0]!)).toBeCloseTo(31 / 60, 2);
    const ticks = [...svg.matchAll(/<text [^>]*class="c-tick" text-anchor="middle">([^<]*)<\/text>/g)].map((m) => m[1]!);
    expect(ticks.length).toBeGreaterThan(1);
    expect(ticks.some((t) => /Jan|Feb|Mar/.test(t))).toBe(true);
    expect(ticks.every((t) => !/^\d+(\.\d+)?$/.test(t))).toBe(true); // not epoch numbers
  });

  test('options are checked: x and y fields are needed', () => {
    expect(() => new LineChart([], { x: 'a' } as never)).toThrow(TributaryError);
    expect(() => new BarChart('rows' as never, { x: 'a', y: 'b' })).toThrow(TypeError);
  });

  test('titles, axis labels, categories, series names are escaped', () => {
    const rows = [
      { [EVIL]: EVIL, y: 1, s: EVIL },
      { [EVIL]: 'b', y: 2, s: 'ok' },
    ];
    const opts = { x: EVIL, y: 'y', title: EVIL, xLabel: EVIL, yLabel: EVIL };
    for (const html of [
      new LineChart(rows, opts).toHtml(),
      new BarChart(rows, opts).toHtml(),
      new ScatterChart(rows, opts).toHtml(),
      new LineChart(rows, { ...opts, series: 's' }).toHtml(),
      new BarChart(rows, { x: 'y', y: 'y', series: 's' }).toHtml(),
    ]) {
      expect(html).not.toContain('<script');
      expect(html).not.toContain('"x")');
      expect(html).toContain('&lt;script&gt;');
    }
  });
});

describe('no user text becomes markup', () => {
  test('every text field of every component, with <script> and quotes in it', () => {
    const html = [
      new Table([[EVIL], { a: EVIL }] as never, { headers: [EVIL] }),
      new Table([{ [EVIL]: `'${EVIL}"` }]),
      new ValueBox(EVIL, EVIL, { subtitle: EVIL }),
      new JsonViewer({ [EVIL]: [EVIL, { [EVIL]: EVIL }] }, { label: EVIL }),
      new LineChart([{ x: EVIL, y: 1 }], { x: 'x', y: 'y', title: EVIL, xLabel: EVIL, yLabel: EVIL }),
      new BarChart([{ x: EVIL, y: 1 }], { x: 'x', y: 'y', title: EVIL }),
      new ScatterChart([{ x: EVIL, y: 1, g: EVIL }], { x: 'x', y: 'y', series: 'g', title: EVIL }),
      new ProgressBar({ label: EVIL, unit: EVIL }),
      new Image(PNG_1X1, { label: EVIL }),
    ]
      .map((c) => c.toHtml())
      .join('');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/alert\("/);
    expect(html).toContain(EVIL_ESCAPED);
  });

  // Random text, heavy in markup characters: the number of '<' in the output is the same as with
  // harmless text of the same length (so none came from the text), and the text shows escaped.
  const markupy = fc.string({
    unit: fc.constantFrom('<', '>', '&', '"', "'", '/', 's', 'c', 'r', 'i', 'p', 't', ' ', '=', 'é', '😀'),
    maxLength: 40,
  });
  const text = fc.oneof(markupy, fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
  const esc = (t: string) =>
    t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  const safe = (t: string) => 'a'.repeat(t.length);
  const lt = (html: string) => count(html, '<');

  test('property: Table cells and headers', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const html = new Table([{ [a]: b }]).toHtml();
        expect(lt(html)).toBe(lt(new Table([{ [safe(a) || 'k']: safe(b) }]).toHtml()));
        expect(html).toContain(`<td>${esc(b)}</td>`);
        if (a) expect(html).toContain(`<th>${esc(a)}</th>`);
        const arrays = new Table([[a, b]], { headers: [b] }).toHtml();
        expect(lt(arrays)).toBe(lt(new Table([[safe(a), safe(b)]], { headers: [safe(b)] }).toHtml()));
      }),
      { numRuns: 300 },
    );
  });

  test('property: ValueBox title, value and subtitle', () => {
    fc.assert(
      fc.property(text, text, text, (title, value, subtitle) => {
        const html = new ValueBox(title, value, { subtitle }).toHtml();
        expect(lt(html)).toBe(lt(new ValueBox(safe(title), safe(value), { subtitle: safe(subtitle) }).toHtml()));
        expect(html.startsWith(`<div class="vb-title">${esc(title)}</div><div class="vb-value">${esc(value)}</div>`)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('property: JsonViewer keys, string values and label', () => {
    fc.assert(
      fc.property(text, text, text, (key, value, label) => {
        const html = new JsonViewer({ [key]: value, list: [value], map: new Map([[key, value]]) }, { label: label || 'l' }).toHtml();
        const same = new JsonViewer(
          { [safe(key)]: safe(value), list: [safe(value)], map: new Map([[safe(key), safe(value)]]) },
          { label: safe(label) || 'l' },
        ).toHtml();
        expect(lt(html)).toBe(lt(same));
        expect(html).toContain(`<span class="j-key">${esc(key)}</span>`);
        expect(html).toContain(`<span class="j-string">${esc(JSON.stringify(value))}</span>`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('CardSection (this.card[...])', () => {
  test('append takes components only; a section of a card that does not exist drops them; clear and extend', () => {
    const spec = { type: 'blank' as const, id: 'x', refreshSeconds: 5 };
    let refreshed = 0;
    const section = new CardSection(spec, async () => {
      refreshed++;
    });
    const md = new Markdown('a');
    expect(section.append(md).extend([new Markdown('b')])).toBe(section);
    expect(section.components.map((c) => (c as Markdown).text)).toEqual(['a', 'b']);
    expect(() => section.append('text' as never)).toThrow(/this\.card\.append takes card components .*got string\./);
    expect(() => section.append({ html: 'x' } as never)).toThrow(/got Object\./);
    expect(() => section.append(null as never)).toThrow(/got null\./);
    // A component made by another copy of the library (duck-typed) is accepted.
    section.append({ kind: 'custom', toHtml: () => '<b>custom</b>' } as never);
    expect(section.components).toHaveLength(3);
    expect(section.clear().components).toHaveLength(0);
    void section.refresh();
    expect(refreshed).toBe(1);
    const dropped = new CardSection(undefined, async () => {});
    dropped.append(md);
    expect(dropped.components).toHaveLength(0);
  });
});

describe('@card options', () => {
  const throwsType = (fn: () => unknown, message: RegExp) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err, 'expected a TypeError').toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(message);
  };

  test('bad options are refused with a TypeError saying what is allowed', () => {
    throwsType(() => card({ type: 'fancy' as never }), /^@card type must be 'default' or 'blank', got "fancy"\.$/);
    for (const id of ['', 'has space', '-dash-first', '_under', 'a'.repeat(65), 'dot.ted', 'ü'])
      throwsType(() => card({ id }), /^@card id must be 1-64 letters, digits, '_' or '-' \(starting with a letter or digit\), got /);
    throwsType(() => card({ id: 7 as never }), /got 7\.$/);
    for (const refreshSeconds of [0, 0.05, -1, 3600.5, Infinity, NaN, '5' as never])
      throwsType(() => card({ refreshSeconds }), /^@card refreshSeconds must be a number from 0\.1 to 3600, got /);
    throwsType(() => card(null as never), /^@card takes an object of options/);
    throwsType(() => card([] as never), /^@card takes an object of options/);
    throwsType(() => card('blank' as never), /^@card takes an object of options/);
    // The limits themselves are fine.
    expect(() => card({ id: 'a'.repeat(64), refreshSeconds: 0.1 })).not.toThrow();
    expect(() => card({ id: 'A-1_b', refreshSeconds: 3600, type: 'blank' })).not.toThrow();
    expect(() => card()).not.toThrow();
  });

  test('two cards without an id on one step, or two with one id, are refused when the class is defined', () => {
    throwsType(() => {
      class TwoDefaults extends FlowSpec {
        @card()
        @card({ type: 'blank' })
        @step
        start() {
          this.next(this.end);
        }
        @step end() {}
      }
      return TwoDefaults;
    }, /^Step start has two @card decorators without an id: give each an id, e\.g\. @card\(\{ id: 'summary' \}\)\.$/);
    throwsType(() => {
      class SameId extends FlowSpec {
        @step start() {
          this.next(this.end);
        }
        @card({ id: 'sum' })
        @card({ id: 'sum', type: 'blank' })
        @step
        end() {}
      }
      return SameId;
    }, /^Step end has two @card decorators with id 'sum': card ids are unique per step\.$/);
  });

  test('the graph records each step card in source order, with defaults filled in', () => {
    class Declared extends FlowSpec {
      @card({ id: 'summary', type: 'blank', title: 'Sum' })
      @card({ refreshSeconds: 1 })
      @card({ id: 'third' })
      @step
      start() {
        this.next(this.end);
      }
      @step end() {}
    }
    const g = buildGraph(Declared);
    expect(g.nodes.start!.decorators.card).toEqual([
      { type: 'blank', id: 'summary', refreshSeconds: 5, title: 'Sum' },
      { type: 'default', id: null, refreshSeconds: 1 },
      { type: 'default', id: 'third', refreshSeconds: 5 },
    ]);
    expect(g.nodes.end!.decorators.card).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------------
// Graph layout

class LinearG extends FlowSpec {
  @step start() {
    this.next(this.a);
  }
  @step a() {
    this.next(this.b);
  }
  @step b() {
    this.next(this.end);
  }
  @step end() {}
}

class BranchG extends FlowSpec {
  @step start() {
    this.next(this.left, this.middle, this.right);
  }
  @step left() {
    this.next(this.join);
  }
  @step middle() {
    this.next(this.deeper);
  }
  @step deeper() {
    this.next(this.join);
  }
  @step right() {
    this.next(this.join);
  }
  @step join(_inputs: Inputs) {
    this.next(this.end);
  }
  @step end() {}
}

class ForeachG extends FlowSpec {
  declare items: number[];
  declare cols: number[];
  @step start() {
    this.items = [1, 2];
    this.next(this.body, { foreach: 'items' });
  }
  @step body() {
    this.cols = [1];
    this.next(this.inner, { foreach: 'cols' });
  }
  @step inner() {
    this.next(this.innerJoin);
  }
  @step innerJoin(_inputs: Inputs) {
    this.next(this.join);
  }
  @step join(_inputs: Inputs) {
    this.next(this.end);
  }
  @step end() {}
}

class SwitchG extends FlowSpec {
  declare parity: string;
  @step start() {
    this.parity = 'odd';
    this.next({ even: this.onEven, odd: this.onOdd }, { condition: 'parity' });
  }
  @step onEven() {
    this.next(this.end);
  }
  @step onOdd() {
    this.next(this.end);
  }
  @step end() {}
}

class LoopG extends FlowSpec {
  declare more: boolean;
  @step start() {
    this.next(this.loop);
  }
  @step loop() {
    this.more = false;
    this.next({ again: this.loop, done: this.after }, { condition: 'more' });
  }
  @step after() {
    this.next(this.end);
  }
  @step end() {}
}

/** Layout invariants every graph must satisfy. */
function checkLayout(graph: FlowGraph, layout: GraphLayout = layoutGraph(graph)): GraphLayout {
  const names = graph.order.filter((n) => graph.nodes[n]);
  expect(layout.steps.map((s) => s.name).sort()).toEqual([...names].sort());
  const at = new Map(layout.steps.map((s) => [s.name, s]));
  // Every edge of the graph is drawn, once.
  const want = names.flatMap((n) => graph.nodes[n]!.next.filter((t) => graph.nodes[t]).map((t) => `${n}>${t}`)).sort();
  expect(layout.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(want);
  for (const e of layout.edges) {
    expect(e.d).toMatch(/^M[\d.-]+,[\d.-]+ C/);
    // Ranks grow along every edge but the loops of a recursive switch.
    if (e.kind !== 'loop') expect(at.get(e.to)!.rank, `${e.from} -> ${e.to}`).toBeGreaterThan(at.get(e.from)!.rank);
  }
  // One row per rank, top to bottom; no two steps of a rank overlap; all inside the picture.
  const byRank = new Map<number, typeof layout.steps>();
  for (const s of layout.steps) byRank.set(s.rank, [...(byRank.get(s.rank) ?? []), s]);
  for (const [rank, row] of byRank) {
    expect(new Set(row.map((s) => s.y)).size).toBe(1);
    const sorted = [...row].sort((a, b) => a.x - b.x);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.x).toBeGreaterThanOrEqual(sorted[i - 1]!.x + sorted[i - 1]!.width);
    for (const other of byRank.keys()) if (other > rank) expect(byRank.get(other)![0]!.y).toBeGreaterThan(row[0]!.y + row[0]!.height);
  }
  for (const s of layout.steps) {
    expect(s.x).toBeGreaterThanOrEqual(0);
    expect(s.y).toBeGreaterThanOrEqual(0);
    expect(s.x + s.width).toBeLessThanOrEqual(layout.width);
    expect(s.y + s.height).toBeLessThanOrEqual(layout.height);
    expect(s.type).toBe(graph.nodes[s.name]!.type);
  }
  // Pure and deterministic.
  expect(layoutGraph(graph)).toEqual(layout);
  return layout;
}

describe('layoutGraph', () => {
  const rankOf = (l: GraphLayout) => Object.fromEntries(l.steps.map((s) => [s.name, s.rank]));

  test('a linear flow is one column, one step per rank', () => {
    const l = checkLayout(buildGraph(LinearG));
    expect(rankOf(l)).toEqual({ start: 0, a: 1, b: 2, end: 3 });
    expect(new Set(l.steps.map((s) => s.x + s.width / 2)).size).toBe(1);
    expect(l.edges.every((e) => e.kind === 'next' && !e.label)).toBe(true);
    expect(l.steps.some((s) => s.fanned)).toBe(false);
  });

  test('split/join: branches side by side; the join below its longest branch', () => {
    const l = checkLayout(buildGraph(BranchG));
    expect(rankOf(l)).toEqual({ start: 0, left: 1, middle: 1, right: 1, deeper: 2, join: 3, end: 4 });
    const row = l.steps.filter((s) => s.rank === 1);
    expect(row).toHaveLength(3);
  });

  test('foreach: labelled foreach edges; every step with many tasks fanned (nested bodies and the inner join), the outer join not', () => {
    const l = checkLayout(buildGraph(ForeachG));
    expect(rankOf(l)).toEqual({ start: 0, body: 1, inner: 2, innerJoin: 3, join: 4, end: 5 });
    const fanned = Object.fromEntries(l.steps.map((s) => [s.name, s.fanned]));
    // innerJoin runs once per split of the outer foreach (it is inside it): it has many tasks too.
    expect(fanned).toEqual({ start: false, body: true, inner: true, innerJoin: true, join: false, end: false });
    const fe = l.edges.filter((e) => e.kind === 'foreach');
    expect(fe.map((e) => [e.from, e.to, e.label?.text])).toEqual([
      ['start', 'body', 'foreach items'],
      ['body', 'inner', 'foreach cols'],
    ]);
  });

  test('switch: an edge per case, labelled with the case', () => {
    const l = checkLayout(buildGraph(SwitchG));
    const sw = l.edges.filter((e) => e.from === 'start');
    expect(sw.map((e) => [e.kind, e.to, e.label?.text])).toEqual([
      ['switch', 'onEven', 'even'],
      ['switch', 'onOdd', 'odd'],
    ]);
    expect(rankOf(l)).toEqual({ start: 0, onEven: 1, onOdd: 1, end: 2 });
  });

  test('a recursive switch: its loop is drawn (dashed, labelled) and does not push ranks', () => {
    const g = buildGraph(LoopG);
    const l = checkLayout(g);
    expect(rankOf(l)).toEqual({ start: 0, loop: 1, after: 2, end: 3 });
    const loop = l.edges.find((e) => e.kind === 'loop')!;
    expect([loop.from, loop.to, loop.label?.text]).toEqual(['loop', 'loop', 'again']);
    expect(l.edges.find((e) => e.to === 'after')).toMatchObject({ kind: 'switch', label: { text: 'done' } });
    const svg = renderGraphSvg(g);
    expect(svg).toContain('stroke-dasharray="4 3"');
    expect(count(svg, 'class="g-edge"')).toBe(l.edges.length);
  });

  // A hand-made graph with a longer loop (the graph builder only allows a switch looping on
  // itself, but the layout is also used for graphs it did not build).
  const node = (name: string, next: string[], type: FlowGraph['nodes'][string]['type'] = 'linear') => ({
    name,
    type,
    next,
    inFuncs: [],
    splitParents: [],
    insideForeach: false,
    decorators: {},
  });
  test('a loop over several steps: the back edge is a loop, ranks follow the rest', () => {
    const g: FlowGraph = {
      flow: 'Loop',
      start: 'start',
      end: 'end',
      order: ['start', 'a', 'b', 'check', 'end'],
      nodes: {
        start: node('start', ['a']),
        a: node('a', ['b']),
        b: node('b', ['check']),
        check: { ...node('check', ['a', 'end'], 'switch'), switchCases: { retry: 'a', ok: 'end' }, condition: 'c' },
        end: node('end', [], 'end'),
      },
    };
    const l = checkLayout(g);
    expect(rankOf(l)).toEqual({ start: 0, a: 1, b: 2, check: 3, end: 4 });
    expect(l.edges.filter((e) => e.kind === 'loop').map((e) => [e.from, e.to, e.label?.text])).toEqual([['check', 'a', 'retry']]);
  });

  test('property: the invariants hold on random graphs (with random back edges and unreachable steps)', () => {
    const graphArb = fc
      .integer({ min: 1, max: 9 })
      .chain((n) =>
        fc.tuple(
          fc.constant(n),
          fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: n * 3 }),
          fc.array(fc.integer({ min: 1, max: 20 }), { minLength: n, maxLength: n }),
        ),
      )
      .map(([n, pairs, lengths]) => {
        const names = Array.from({ length: n }, (_, i) => `s${i}${'x'.repeat(lengths[i]!)}`);
        const next = names.map(() => new Set<string>());
        for (const [a, b] of pairs) if (a !== b || a % 2 === 0) next[a]!.add(names[b]!);
        const nodes = Object.fromEntries(names.map((nm, i) => [nm, node(nm, [...next[i]!])]));
        return { flow: 'Random', start: names[0]!, end: names[n - 1]!, order: names, nodes } as FlowGraph;
      });
    fc.assert(
      fc.property(graphArb, (g) => {
        checkLayout(g);
      }),
      { numRuns: 200 },
    );
  });
});

describe('renderGraphSvg', () => {
  test('the highlighted step is outlined (thick dark border, blue fill); the others are not', () => {
    const g = buildGraph(ForeachG);
    const svg = renderGraphSvg(g, { highlight: 'inner' });
    const fanned = new Set(
      layoutGraph(g)
        .steps.filter((s) => s.fanned)
        .map((s) => s.name),
    );
    expect(fanned.has('body') && fanned.has('inner')).toBe(true);
    const groups = [...svg.matchAll(/<g class="g-step" data-step="([^"]+)"[^>]*>(.*?)<\/g>/g)].map((m) => [m[1]!, m[2]!] as const);
    expect(groups.map(([n]) => n).sort()).toEqual(Object.keys(g.nodes).sort());
    for (const [name, body] of groups) {
      const rects = [...body.matchAll(/<rect [^>]*>/g)].map((m) => m[0]);
      // A fanned step is drawn as a stack of three.
      expect(rects).toHaveLength(fanned.has(name) ? 3 : 1);
      for (const r of rects) {
        if (name === 'inner') expect(r).toMatch(/fill="#dbe8ff" stroke="#1f2937" stroke-width="3"/);
        else expect(r).toMatch(/stroke-width="1\.5"/);
      }
      expect(body).toContain(`>${name}</text>`);
    }
    expect(count(svg, 'stroke-width="3"')).toBe(3);
    expect(count(renderGraphSvg(g), 'stroke-width="3"')).toBe(0);
  });

  test('step badges colour steps by status and add a label; text is escaped', () => {
    const g: FlowGraph = { ...buildGraph(LinearG), flow: EVIL };
    const svg = renderGraphSvg(g, { steps: { a: { status: 'failed', label: EVIL }, b: { status: 'running', label: '3/10 tasks' } } });
    expect(svg).not.toContain('<script');
    expect(svg).toContain('aria-label="graph of &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"');
    expect(svg).toMatch(/data-step="a" data-status="failed"><rect [^>]*fill="#fde8e8" stroke="#d14343"/);
    expect(svg).toMatch(/data-step="b" data-status="running"><rect [^>]*fill="#e3efff" stroke="#2f6fdb"/);
    expect(svg).toContain('class="g-sub"');
    expect(svg).toContain('>3/10 tasks</text>');
    expect(svg).toMatch(/data-step="start" data-status="pending"/);
  });
});
