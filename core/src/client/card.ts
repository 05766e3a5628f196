import type { CardType } from '../cards/card-options.ts';
import type { CardRef } from '../cards/card-ref.ts';
import type { ClientContext } from './client-context.ts';

/**
 * A card a task rendered (`@card`): its reference, and its HTML, read on demand and verified by
 * its hash. A self-contained page: open it in a browser with no network.
 * @public
 */
export class Card {
  private cached?: Promise<string>;

  /** @internal */
  constructor(
    private readonly ctx: ClientContext,
    /** The task that rendered it. */
    readonly taskPathspec: string,
    readonly ref: CardRef,
  ) {}

  get id(): string | null {
    return this.ref.id;
  }
  get type(): CardType {
    return this.ref.type;
  }
  get sha(): string {
    return this.ref.sha;
  }
  get size(): number {
    return this.ref.size;
  }
  get attempt(): number {
    return this.ref.attempt;
  }
  /** `running`: a live card, stored while the step ran (read the task's cards again for a newer one). */
  get status(): CardRef['status'] {
    return this.ref.status;
  }
  get renderedAt(): Date {
    return new Date(this.ref.renderedAt);
  }
  /** Why the card shows an error instead of (part of) what was asked, when it does. */
  get error(): string | undefined {
    return this.ref.error;
  }

  /** The card's HTML (read once, verified by its SHA-256). */
  html(): Promise<string> {
    const flow = this.taskPathspec.split('/')[0]!;
    return (this.cached ??= this.ctx
      .artifacts(flow)
      .getBlob(this.ref.sha)
      .then(
        (bytes) => Buffer.from(bytes).toString('utf8'),
        (err: unknown) => {
          this.cached = undefined;
          throw err;
        },
      ));
  }

  toJSON(): CardRef & { task: string } {
    return { task: this.taskPathspec, ...this.ref };
  }
}
