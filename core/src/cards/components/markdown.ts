import { renderDeps } from '../render-deps.ts';
import { CardComponent } from './component.ts';

/**
 * Markdown text (GitHub-flavoured: tables, fenced code, lists). HTML inside the text is kept, as
 * in Metaflow; cards are shown in a sandboxed frame, so it cannot reach the page around it.
 * @public
 */
export class Markdown extends CardComponent {
  readonly kind = 'markdown';
  constructor(public text: string) {
    super();
  }

  /** Replace the text (a live card shows the new one at its next refresh). */
  update(text: string): this {
    this.text = text;
    return this;
  }

  toHtml(): string {
    return renderDeps().marked.parse(String(this.text), { async: false, gfm: true });
  }
}
