import type { CardType } from './card-options.ts';

/** A stored card, as recorded in metadata (`cards`) and in a task's live-card pointer. @public */
export interface CardRef {
  /** The card's id (`null`: the step's card without one). */
  id: string | null;
  type: CardType;
  /** Content address of its HTML in the datastore. */
  sha: string;
  size: number;
  attempt: number;
  /** `running`: a live card stored by refresh() while the step ran. */
  status: 'running' | 'succeeded' | 'failed';
  /** Epoch ms. */
  renderedAt: number;
  /** Set when the card could not be rendered as asked: the stored card shows this error instead. */
  error?: string;
}

/** Where a task attempt's latest cards are listed while it runs, and after it failed. @internal */
export function cardPointerKey(logKeyPrefix: string, attempt: number): string {
  return `${logKeyPrefix}/${attempt}.cards.json`;
}
