/** @public */
export type CardType = 'default' | 'blank';

/** Options of `@card(...)`. @public */
export interface CardOptions {
  /**
   * `default` (the default): the task's parameters, artifacts, timings, attempt and the graph with
   * its step highlighted, then the components the step appended. `blank`: only the components.
   */
  type?: CardType;
  /** Names the card when a step has several: `this.card['summary'].append(...)`, `tributary card view --id summary`. */
  id?: string;
  /**
   * `this.card.refresh()` stores the card while the step runs (a live card) at most once per this
   * many seconds; calls in between are coalesced into one later refresh. Default 5.
   */
  refreshSeconds?: number;
  /** The card's title. Default: the step's pathspec. */
  title?: string;
}

/** A card declaration as recorded in the graph (JSON-safe). @internal */
export interface CardSpec {
  type: CardType;
  id: string | null;
  refreshSeconds: number;
  title?: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Check `@card` options; throws a TypeError naming the fix. @internal */
export function cardSpecOf(options: CardOptions): CardSpec {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError("@card takes an object of options, e.g. @card({ type: 'blank', id: 'summary' }).");
  const type = options.type ?? 'default';
  if (type !== 'default' && type !== 'blank') throw new TypeError(`@card type must be 'default' or 'blank', got ${JSON.stringify(type)}.`);
  if (options.id !== undefined && (typeof options.id !== 'string' || !ID.test(options.id)))
    throw new TypeError(
      `@card id must be 1-64 letters, digits, '_' or '-' (starting with a letter or digit), got ${JSON.stringify(options.id)}.`,
    );
  const refreshSeconds = options.refreshSeconds ?? 5;
  if (typeof refreshSeconds !== 'number' || !(refreshSeconds >= 0.1) || refreshSeconds > 3600)
    throw new TypeError(`@card refreshSeconds must be a number from 0.1 to 3600, got ${JSON.stringify(options.refreshSeconds)}.`);
  return {
    type,
    id: options.id ?? null,
    refreshSeconds,
    ...(options.title !== undefined ? { title: String(options.title) } : {}),
  };
}

/** `card` or `card:type=blank,refreshSeconds=2` (the run's `--with card`) as card options. @internal */
export function parseCardWith(spec: string): CardOptions {
  const options: Record<string, unknown> = {};
  const rest = spec.slice('card'.length).replace(/^:/, '');
  for (const pair of rest.split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const raw = eq < 0 ? '' : pair.slice(eq + 1);
    if (!['type', 'id', 'refreshSeconds', 'title'].includes(key))
      throw new TypeError(
        `--with card:${key}=...: unknown card option; use type, id, refreshSeconds or title (e.g. --with card:type=blank).`,
      );
    options[key] = key === 'refreshSeconds' ? Number(raw) : raw;
  }
  return options as CardOptions;
}

/** Add a card to a step's list; ids are unique per step, and at most one card has none. @internal */
export function addCardSpec(existing: CardSpec[], spec: CardSpec, step: string): CardSpec[] {
  const clash = existing.find((c) => c.id === spec.id);
  if (clash)
    throw new TypeError(
      spec.id === null
        ? `Step ${step} has two @card decorators without an id: give each an id, e.g. @card({ id: 'summary' }).`
        : `Step ${step} has two @card decorators with id '${spec.id}': card ids are unique per step.`,
    );
  // Decorators apply bottom-up: put this one first so the list is in source order.
  return [spec, ...existing];
}
