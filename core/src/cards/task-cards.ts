/**
 * `this.card` inside a step: the components each of the step's cards will show. The runtime
 * renders them when the task ends (and on `refresh()`, while it runs).
 */
import type { CardSpec } from './card-options.ts';
import { CardComponent, isCardComponent } from './components/component.ts';

/** The components of one card, as the step builds it. @public */
export class CardSection {
  readonly components: CardComponent[] = [];

  /** @internal */
  constructor(
    /** The card's declaration; undefined when the step has no such card (what is appended then is dropped). */
    readonly spec: CardSpec | undefined,
    private readonly onRefresh: () => Promise<void>,
  ) {}

  /** Add components at the end of the card. */
  append(...components: CardComponent[]): this {
    for (const c of components) {
      if (!isCardComponent(c))
        throw new TypeError(
          `this.card.append takes card components (Markdown, Table, Image, LineChart, BarChart, ScatterChart, ProgressBar, ValueBox, JsonViewer), got ${describe(c)}.`,
        );
      if (this.spec) this.components.push(c);
    }
    return this;
  }

  /** Add a list of components. */
  extend(components: Iterable<CardComponent>): this {
    return this.append(...components);
  }

  /** Remove every component. */
  clear(): this {
    this.components.length = 0;
    return this;
  }

  /**
   * Store the card as it is now, while the step goes on (a live card: the UI and
   * `tributary card view` show it). At most once per `refreshSeconds`; calls in between are coalesced. Never
   * rejects: a card that cannot be stored does not fail the task.
   */
  refresh(): Promise<void> {
    return this.onRefresh();
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'an object';
}

/** `this.card`: the step's default card's methods, and each card by id (`this.card['summary']`). @public */
export interface TaskCardsApi {
  /** Add components to the step's default card: its only card, else the one without an id. */
  append(...components: CardComponent[]): CardSection;
  extend(components: Iterable<CardComponent>): CardSection;
  clear(): CardSection;
  /** Store every card of the task as it is now (see {@link CardSection.refresh}). */
  refresh(): Promise<void>;
  /** The ids of the step's cards (`null` for the one without an id). */
  readonly ids: ReadonlyArray<string | null>;
}

/** @public */
export type TaskCards = TaskCardsApi & { readonly [id: string]: CardSection };

/** @internal */
export interface TaskCardsBackend {
  specs: CardSpec[];
  sections: Map<string | null, CardSection>;
  refresh(): Promise<void>;
  /** Said once per task, in its log, when components go nowhere. */
  warn(message: string): void;
}

const API = new Set(['append', 'extend', 'clear', 'refresh', 'ids', 'then', 'toJSON', 'constructor']);

/** Build `this.card` over a task's card sections. @internal */
export function makeTaskCards(backend: TaskCardsBackend): TaskCards {
  let warned = false;
  const warnOnce = (message: string) => {
    if (!warned) backend.warn(message);
    warned = true;
  };
  const dropped = new CardSection(undefined, () => backend.refresh());
  const defaultSection = (): CardSection => {
    const { specs, sections } = backend;
    const spec = specs.length === 1 ? specs[0] : specs.find((s) => s.id === null);
    if (!spec) {
      warnOnce(
        specs.length === 0
          ? 'this.card.append: this step has no @card, so what it appends is not shown. Add @card to the step.'
          : `this.card.append: this step has ${specs.length} cards, all with ids (${specs.map((s) => s.id).join(', ')}): use this.card['<id>'].append(...).`,
      );
      return dropped;
    }
    return sections.get(spec.id)!;
  };
  const api: TaskCardsApi = {
    append: (...c) => defaultSection().append(...c),
    extend: (c) => defaultSection().extend(c),
    clear: () => defaultSection().clear(),
    refresh: () => backend.refresh(),
    get ids() {
      return backend.specs.map((s) => s.id);
    },
  };
  return new Proxy(api, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || API.has(key)) return Reflect.get(target, key, receiver);
      const section = backend.sections.get(key);
      if (section) return section;
      warnOnce(
        `this.card['${key}']: this step has no card with id '${key}' (${backend.specs.length ? `its cards: ${backend.specs.map((s) => s.id ?? '(no id)').join(', ')}` : 'it has no @card'}), so what is appended to it is not shown.`,
      );
      return dropped;
    },
  }) as TaskCards;
}
