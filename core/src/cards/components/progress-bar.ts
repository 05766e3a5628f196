import { escapeHtml, formatNumber } from '../html.ts';
import { CardComponent } from './component.ts';

/** Options of a {@link ProgressBar}. @public */
export interface ProgressBarOptions {
  max?: number;
  value?: number;
  label?: string;
  /** Text after the numbers, e.g. `epochs`. */
  unit?: string;
}

/**
 * A progress bar. `update(value)` and `this.card.refresh()` in a long step make a live card.
 * @public
 */
export class ProgressBar extends CardComponent {
  readonly kind = 'progress';
  max: number;
  value: number;
  label: string | undefined;
  unit: string | undefined;

  constructor(options: ProgressBarOptions = {}) {
    super();
    this.max = options.max ?? 100;
    this.value = options.value ?? 0;
    this.label = options.label;
    this.unit = options.unit;
  }

  update(value: number, label?: string): this {
    this.value = value;
    if (label !== undefined) this.label = label;
    return this;
  }

  toHtml(): string {
    const max = this.max > 0 ? this.max : 1;
    const raw = (this.value / max) * 100;
    // A diverged metric (NaN) must not look like a full bar.
    const pct = Number.isNaN(raw) ? 0 : Math.max(0, Math.min(100, raw));
    const text = `${formatNumber(this.value)} / ${formatNumber(this.max)}${this.unit ? ` ${escapeHtml(this.unit)}` : ''} (${pct.toFixed(0)} %)`;
    return (
      `${this.label ? `<div class="progress-label">${escapeHtml(this.label)}</div>` : ''}` +
      `<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="${max}" aria-valuenow="${this.value}">` +
      `<div class="progress-fill" style="width:${pct.toFixed(2)}%"></div></div><div class="muted">${text}</div>`
    );
  }
}
