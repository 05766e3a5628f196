import { escapeHtml, shortText } from '../html.ts';
import { CardComponent, isCardComponent } from './component.ts';

/** Options of a {@link Table}. @public */
export interface TableOptions {
  /** Column titles. Default: for rows that are objects, their keys (in first-seen order); for arrays, none. */
  headers?: string[];
  /** Rows shown at most (the rest are counted below the table). Default 1000. */
  maxRows?: number;
}

/**
 * A table, from rows that are arrays (`[[1, 'a'], [2, 'b']]`) or objects (`[{ alpha: 1, score: 0.9 }]`).
 * A cell can itself be a component (e.g. an Image or a chart); other values show as short text.
 * @public
 */
export class Table extends CardComponent {
  readonly kind = 'table';
  readonly rows: unknown[][];
  readonly headers: string[];
  private readonly maxRows: number;

  constructor(rows: ReadonlyArray<ReadonlyArray<unknown> | Readonly<Record<string, unknown>>>, options: TableOptions = {}) {
    super();
    if (!Array.isArray(rows)) throw new TypeError('Table takes an array of rows (arrays or objects).');
    this.maxRows = options.maxRows ?? 1000;
    const objects = rows.length > 0 && rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r));
    if (objects) {
      const keys: string[] = options.headers ? [...options.headers] : [];
      if (!options.headers) for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
      this.headers = keys;
      this.rows = rows.map((r) => keys.map((k) => (r as Record<string, unknown>)[k]));
    } else {
      this.headers = options.headers ? [...options.headers] : [];
      this.rows = rows.map((r) => (Array.isArray(r) ? [...r] : [r]));
    }
  }

  /** Add a row (a live card shows it at its next refresh). */
  addRow(row: ReadonlyArray<unknown> | Readonly<Record<string, unknown>>): this {
    this.rows.push(Array.isArray(row) ? [...row] : this.headers.map((k) => (row as Record<string, unknown>)[k]));
    return this;
  }

  toHtml(): string {
    const cell = (v: unknown, tag: 'td' | 'th') => {
      const numeric = typeof v === 'number' || typeof v === 'bigint';
      const inner = isCardComponent(v) ? v.toHtml() : escapeHtml(shortText(v, 500));
      return `<${tag}${numeric ? ' class="num"' : ''}>${inner}</${tag}>`;
    };
    const head = this.headers.length ? `<thead><tr>${this.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>` : '';
    const shown = this.rows.slice(0, this.maxRows);
    const body = shown.map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`).join('');
    const more =
      this.rows.length > shown.length
        ? `<p class="muted">… and ${this.rows.length - shown.length} more rows (of ${this.rows.length}).</p>`
        : '';
    return `<div class="table-wrap"><table>${head}<tbody>${body}</tbody></table></div>${more}`;
  }
}
