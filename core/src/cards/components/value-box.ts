import { escapeHtml, shortText } from '../html.ts';
import { CardComponent } from './component.ts';

/** Options of a {@link ValueBox}. @public */
export interface ValueBoxOptions {
  /** A line under the value. */
  subtitle?: string;
  /** A change to show next to it: positive is drawn as up, negative as down (e.g. `+0.02` vs the last run). */
  change?: number;
  /** Whether a rise is good (green, default) or bad (red, e.g. for a loss). */
  higherIsBetter?: boolean;
}

/**
 * One headline number (or short value) with a title: `new ValueBox('R²', 0.93, { change: 0.02 })`.
 * @public
 */
export class ValueBox extends CardComponent {
  readonly kind = 'value-box';
  constructor(
    public title: string,
    public value: unknown,
    public options: ValueBoxOptions = {},
  ) {
    super();
  }

  update(value: unknown, change?: number): this {
    this.value = value;
    if (change !== undefined) this.options = { ...this.options, change };
    return this;
  }

  toHtml(): string {
    const { subtitle, change, higherIsBetter = true } = this.options;
    let delta = '';
    if (typeof change === 'number' && Number.isFinite(change) && change !== 0) {
      const good = change > 0 === higherIsBetter;
      delta = `<span class="delta ${good ? 'good' : 'bad'}">${change > 0 ? '▲' : '▼'} ${escapeHtml(shortText(Math.abs(change)))}</span>`;
    }
    return (
      `<div class="vb-title">${escapeHtml(this.title)}</div>` +
      `<div class="vb-value">${escapeHtml(shortText(this.value, 80))}${delta}</div>` +
      (subtitle ? `<div class="muted">${escapeHtml(subtitle)}</div>` : '')
    );
  }
}
