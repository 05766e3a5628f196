/**
 * A task's cards inside its worker: what `this.card` appends to, rendered to HTML in this same
 * process (no second process per card), stored content-addressed, and listed by reference.
 * Nothing here can fail the task: a card that cannot render shows its error; one that cannot be
 * stored is reported in the task's log.
 */
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { cardDocument, componentHtml } from './card-document.ts';
import type { CardSpec } from './card-options.ts';
import { cardPointerKey, type CardRef } from './card-ref.ts';
import { defaultCardSections, type CardTaskFacts } from './default-card.ts';
import { escapeHtml } from './html.ts';
import { loadCardRenderer } from './load-card-renderer.ts';
import { CardSection, makeTaskCards, type TaskCards } from './task-cards.ts';

/** @internal */
export interface TaskCardRuntimeOptions {
  specs: CardSpec[];
  store: ArtifactStore;
  logKeyPrefix: string;
  attempt: number;
  /** What the task is, now (called at each render). */
  facts: (status: CardTaskFacts['status']) => CardTaskFacts;
  /** A line in the task's stderr log. */
  warn: (message: string) => void;
}

/** @internal */
export class TaskCardRuntime {
  readonly cards: TaskCards;
  private readonly sections = new Map<string | null, CardSection>();
  private lastRefresh = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: Promise<void> | undefined;
  private ended = false;
  private resolvePending: (() => void) | undefined;

  constructor(private readonly o: TaskCardRuntimeOptions) {
    for (const spec of o.specs) this.sections.set(spec.id, new CardSection(spec, () => this.refresh()));
    this.cards = makeTaskCards({ specs: o.specs, sections: this.sections, refresh: () => this.refresh(), warn: o.warn });
  }

  /** Throttled live refresh: store now if `refreshSeconds` passed since the last one, else once, later. */
  refresh(): Promise<void> {
    if (this.ended || this.o.specs.length === 0) return Promise.resolve();
    if (this.pending) return this.pending;
    const every = Math.min(...this.o.specs.map((s) => s.refreshSeconds)) * 1000;
    const wait = Math.max(0, this.lastRefresh + every - Date.now());
    this.pending = new Promise<void>((resolve) => {
      this.resolvePending = () => {
        this.pending = undefined;
        this.resolvePending = undefined;
        resolve();
      };
      const run = () => {
        this.timer = undefined;
        this.lastRefresh = Date.now();
        const done = this.ended ? Promise.resolve() : this.store('running').then(() => undefined);
        void done.finally(() => {
          this.pending = undefined;
          resolve();
        });
      };
      if (wait === 0) run();
      else {
        this.timer = setTimeout(run, wait);
        this.timer.unref?.();
      }
    });
    return this.pending;
  }

  /** The task succeeded: render and store its cards; their references go into its metadata. */
  async succeeded(): Promise<CardRef[]> {
    await this.stop();
    if (this.o.specs.length === 0) return [];
    return this.store('succeeded');
  }

  /** The task failed: its cards show the error, and are listed where clients find them. */
  async failed(): Promise<void> {
    await this.stop();
    if (this.o.specs.length === 0) return;
    await this.store('failed');
  }

  /** No more refreshes: one waiting for its time is dropped (its caller resolved), one being stored is awaited, so the final cards are written last. */
  private async stop(): Promise<void> {
    this.ended = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.resolvePending?.();
    }
    await this.pending;
  }

  private async store(status: CardRef['status']): Promise<CardRef[]> {
    await loadCardRenderer().catch((err: unknown) =>
      this.o.warn(`card libraries could not be loaded: ${(err as Error)?.message ?? String(err)}`),
    );
    let facts: CardTaskFacts | undefined;
    let factsError: string | undefined;
    try {
      facts = this.o.facts(status);
    } catch (err) {
      factsError = (err as Error)?.message ?? String(err);
    }
    const refs: CardRef[] = [];
    await Promise.all(
      this.o.specs.map(async (spec) => {
        let rendered: { html: string; error?: string };
        try {
          rendered = this.render(spec, status, facts, factsError);
        } catch (err) {
          const error = `the card could not be rendered: ${(err as Error)?.message ?? String(err)}`;
          rendered = {
            html: cardDocument({ title: spec.id ?? 'card', body: `<div class="card-error">${escapeHtml(error)}</div>` }),
            error,
          };
        }
        const { html, error } = rendered;
        try {
          const bytes = Buffer.from(html, 'utf8');
          const sha = await this.o.store.putBlob(bytes);
          refs.push({
            id: spec.id,
            type: spec.type,
            sha,
            size: bytes.byteLength,
            attempt: this.o.attempt,
            status,
            renderedAt: Date.now(),
            ...(error ? { error } : {}),
          });
        } catch (err) {
          this.o.warn(`card ${spec.id ?? '(default)'} could not be stored: ${(err as Error)?.message ?? String(err)}`);
        }
      }),
    );
    refs.sort((a, b) => this.o.specs.findIndex((s) => s.id === a.id) - this.o.specs.findIndex((s) => s.id === b.id));
    // A succeeded task's cards are found through its metadata; live and failed ones through this list.
    if (status !== 'succeeded' && refs.length > 0) {
      try {
        await this.o.store.datastore.put(cardPointerKey(this.o.logKeyPrefix, this.o.attempt), Buffer.from(JSON.stringify(refs)));
      } catch (err) {
        this.o.warn(`the list of live cards could not be stored: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    return refs;
  }

  private render(
    spec: CardSpec,
    status: CardRef['status'],
    facts: CardTaskFacts | undefined,
    factsError: string | undefined,
  ): { html: string; error?: string } {
    const section = this.sections.get(spec.id)!;
    const title = spec.title ?? (facts ? `${facts.pathspec}${spec.id ? ` · ${spec.id}` : ''}` : (spec.id ?? 'card'));
    let body = '';
    let error = factsError;
    try {
      if (spec.type === 'default' && facts) body += defaultCardSections(facts);
    } catch (err) {
      error = `the default card's sections could not be rendered: ${(err as Error)?.message ?? String(err)}`;
    }
    const components = section.components.map(componentHtml);
    if (components.some((c) => c.includes('component card-error'))) error ??= 'a component could not be rendered (shown in its place)';
    if (components.length)
      body +=
        spec.type === 'default'
          ? `<section class="components"><h2>Step components</h2>${components.join('')}</section>`
          : components.join('');
    else if (spec.type === 'blank') body += '<p class="muted">The step appended no components to this card.</p>';
    if (error && !body.includes('card-error')) body = `<div class="card-error">${escapeHtml(error)}</div>${body}`;
    const html = cardDocument({
      title,
      ...(facts ? { subtitle: `${facts.graph.flow} · step ${facts.step} · attempt ${facts.attempt}` } : {}),
      status,
      body,
      footer: `Rendered ${new Date().toISOString()} by Tributary${status === 'running' ? ' while the step runs: refresh to see newer' : ''}.`,
    });
    return { html, ...(error ? { error } : {}) };
  }
}
