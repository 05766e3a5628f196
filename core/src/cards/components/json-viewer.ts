import { escapeHtml, shortText } from '../html.ts';
import { CardComponent } from './component.ts';

/** Options of a {@link JsonViewer}. @public */
export interface JsonViewerOptions {
  /** Levels shown open (default 1: the top level). */
  expanded?: number;
  /** Entries shown per object or array (default 200; the rest are counted). */
  maxEntries?: number;
  label?: string;
}

/**
 * Any value as a collapsible tree (objects, arrays, Maps, Sets; typed arrays and long strings
 * abbreviated). It uses `<details>`: no script.
 * @public
 */
export class JsonViewer extends CardComponent {
  readonly kind = 'json';
  constructor(
    public value: unknown,
    readonly options: JsonViewerOptions = {},
  ) {
    super();
  }

  toHtml(): string {
    const expanded = this.options.expanded ?? 1;
    const max = this.options.maxEntries ?? 200;
    const seen = new Set<unknown>();
    const node = (v: unknown, depth: number): string => {
      if (v === null || typeof v !== 'object' || v instanceof Date || ArrayBuffer.isView(v)) {
        const cls = v === null ? 'null' : typeof v;
        const text = typeof v === 'string' ? JSON.stringify(shortText(v, 2000)) : shortText(v, 2000);
        return `<span class="j-${cls}">${escapeHtml(text)}</span>`;
      }
      if (seen.has(v)) return '<span class="muted">[circular]</span>';
      // An Error's useful parts are not enumerable: show them.
      if (v instanceof Error)
        return node(
          { ...(v as unknown as Record<string, unknown>), name: v.name, message: v.message, ...(v.stack ? { stack: v.stack } : {}) },
          depth,
        );
      seen.add(v);
      const entries: Array<[string, unknown]> =
        v instanceof Map
          ? [...v.entries()].map(([k, x]) => [shortText(k, 100), x])
          : v instanceof Set
            ? [...v].map((x, i) => [String(i), x])
            : Array.isArray(v)
              ? v.map((x, i) => [String(i), x])
              : Object.entries(v);
      const open = Array.isArray(v) || v instanceof Set ? '[' : '{';
      const close = open === '[' ? ']' : '}';
      const name = v instanceof Map ? 'Map' : v instanceof Set ? 'Set' : Array.isArray(v) ? 'Array' : '';
      const summary = `${name}${open}${entries.length}${close}`;
      const items = entries
        .slice(0, max)
        .map(([k, x]) => `<li><span class="j-key">${escapeHtml(k)}</span>: ${node(x, depth + 1)}</li>`)
        .join('');
      const more = entries.length > max ? `<li class="muted">… ${entries.length - max} more</li>` : '';
      seen.delete(v);
      return `<details${depth < expanded ? ' open' : ''}><summary>${escapeHtml(summary)}</summary><ul>${items}${more}</ul></details>`;
    };
    return `${this.options.label ? `<div class="muted">${escapeHtml(this.options.label)}</div>` : ''}<div class="json">${node(this.value, 0)}</div>`;
  }
}
