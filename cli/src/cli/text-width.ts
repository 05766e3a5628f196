/**
 * Terminal cell widths, enough to never draw past the edge: SGR sequences (colours) take no
 * cells, combining marks none, East Asian wide and fullwidth characters and emoji two, the rest
 * one. Block elements (the progress bar) are counted as one, as Western terminals draw them.
 */

const SGR = /\x1b\[[0-9;]*m/y;

function charWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x20e3) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** Cells `text` takes on a terminal (one line, SGR sequences ignored). @internal */
export function displayWidth(text: string): number {
  let width = 0;
  for (let i = 0; i < text.length;) {
    SGR.lastIndex = i;
    const m = SGR.exec(text);
    if (m) {
      i += m[0].length;
      continue;
    }
    const cp = text.codePointAt(i)!;
    width += charWidth(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  return width;
}

/**
 * `text` cut to at most `max` cells, with '…' where it was cut; colours are reset after a cut so a
 * cut inside a coloured part does not bleed into what follows.
 * @internal
 */
export function fitToWidth(text: string, max: number): string {
  if (displayWidth(text) <= max) return text;
  let out = '';
  let width = 0;
  let coloured = false;
  for (let i = 0; i < text.length;) {
    SGR.lastIndex = i;
    const m = SGR.exec(text);
    if (m) {
      out += m[0];
      coloured = m[0] !== '\x1b[0m' && m[0] !== '\x1b[m';
      i += m[0].length;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const w = charWidth(cp);
    if (width + w > max - 1) break;
    out += String.fromCodePoint(cp);
    width += w;
    i += cp > 0xffff ? 2 : 1;
  }
  return `${out}…${coloured ? '\x1b[0m' : ''}`;
}
