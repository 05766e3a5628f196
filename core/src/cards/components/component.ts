/**
 * What a card is made of. A component renders itself to an HTML fragment (escaped, no script, no
 * network): a card is the concatenation of its components inside one self-contained page.
 * @public
 */
export abstract class CardComponent {
  /** The component's kind, e.g. `markdown` or `table` (a CSS class of its wrapper). */
  abstract readonly kind: string;
  /** The HTML fragment. Called when the card is rendered, so a component changed after `append` shows its latest state. */
  abstract toHtml(): string;
}

/** True for a card component (also one made by another copy of this module). @internal */
export function isCardComponent(value: unknown): value is CardComponent {
  return (
    value instanceof CardComponent ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { toHtml?: unknown }).toHtml === 'function' &&
      typeof (value as { kind?: unknown }).kind === 'string')
  );
}
