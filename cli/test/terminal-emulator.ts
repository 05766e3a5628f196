/**
 * A tiny terminal for tests: a grid of cells with a cursor, auto-wrap at the right edge (xterm's
 * deferred wrap), scrolling into a scrollback, and the few sequences a progress display uses
 * (\r, \n as CR+LF like a tty with onlcr, ESC[nA/B/C/D/G, ESC[K, ESC[J, SGR ignored). Any other
 * control sequence throws, so a test notices output a real terminal would act on. `resize`
 * reflows lines like most terminal emulators do.
 */
export class TerminalEmulator {
  /** Rows scrolled off the top, oldest first (`wrapped`: continues the row before it). */
  readonly scrollback: Array<{ text: string; wrapped: boolean }> = [];
  private grid: string[][];
  /** Per screen row: the row continues the previous one (an auto-wrap, not a newline). */
  private wrapped: boolean[];
  private row = 0;
  private col = 0;
  private wrapPending = false;
  private readonly resizeListeners = new Set<() => void>();
  /** Everything written, for debugging a failing test. */
  readonly transcript: string[] = [];

  constructor(
    public columns: number,
    public rows: number,
  ) {
    this.grid = Array.from({ length: rows }, () => this.blank());
    this.wrapped = Array.from({ length: rows }, () => false);
  }

  /** A stream-like object that writes here, as a TTY would (what ProgressDisplay draws on). */
  stream(): {
    isTTY: true;
    readonly columns: number;
    readonly rows: number;
    write(text: string | Uint8Array): boolean;
    on(event: 'resize', fn: () => void): void;
    off(event: 'resize', fn: () => void): void;
  } {
    const term = this;
    return {
      isTTY: true,
      get columns() {
        return term.columns;
      },
      get rows() {
        return term.rows;
      },
      write(text) {
        term.write(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
        return true;
      },
      on(_event, fn) {
        term.resizeListeners.add(fn);
      },
      off(_event, fn) {
        term.resizeListeners.delete(fn);
      },
    };
  }

  /** What the user typed being echoed (e.g. `^C`): written at the cursor, like the tty driver does. */
  echo(text: string): void {
    this.write(text);
  }

  private blank(): string[] {
    return Array.from({ length: this.columns }, () => ' ');
  }

  private lineFeed(): void {
    if (this.row === this.rows - 1) {
      this.scrollback.push({ text: this.grid.shift()!.join('').trimEnd(), wrapped: this.wrapped.shift()! });
      this.grid.push(this.blank());
      this.wrapped.push(false);
    } else this.row++;
  }

  write(text: string): void {
    this.transcript.push(text);
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '\x1b') {
        const m = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(text.slice(i));
        if (!m) throw new Error(`unsupported escape sequence ${JSON.stringify(text.slice(i, i + 8))}`);
        this.csi(m[1]!, m[2]!);
        i += m[0].length - 1;
        continue;
      }
      if (ch === '\r') {
        this.col = 0;
        this.wrapPending = false;
        continue;
      }
      if (ch === '\n') {
        this.col = 0;
        this.wrapPending = false;
        this.lineFeed();
        continue;
      }
      const code = ch.charCodeAt(0);
      if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) throw new Error(`unexpected control character 0x${code.toString(16)}`);
      if (this.wrapPending) {
        this.col = 0;
        this.lineFeed();
        this.wrapped[this.row] = true;
        this.wrapPending = false;
      }
      this.grid[this.row]![this.col] = ch;
      if (this.col === this.columns - 1) this.wrapPending = true;
      else this.col++;
    }
  }

  private csi(params: string, final: string): void {
    const n = params === '' ? undefined : Number(params.split(';')[0]);
    this.wrapPending = false;
    switch (final) {
      case 'A':
        this.row = Math.max(0, this.row - (n || 1));
        return;
      case 'B':
        this.row = Math.min(this.rows - 1, this.row + (n || 1));
        return;
      case 'C':
        this.col = Math.min(this.columns - 1, this.col + (n || 1));
        return;
      case 'D':
        this.col = Math.max(0, this.col - (n || 1));
        return;
      case 'G':
        this.col = Math.min(this.columns - 1, Math.max(0, (n || 1) - 1));
        return;
      case 'K': {
        const line = this.grid[this.row]!;
        const [from, to] = (n ?? 0) === 0 ? [this.col, this.columns] : n === 1 ? [0, this.col + 1] : [0, this.columns];
        for (let c = from; c < to; c++) line[c] = ' ';
        return;
      }
      case 'J': {
        if ((n ?? 0) === 0) {
          for (let c = this.col; c < this.columns; c++) this.grid[this.row]![c] = ' ';
          for (let r = this.row + 1; r < this.rows; r++) {
            this.grid[r] = this.blank();
            this.wrapped[r] = false;
          }
        } else if (n === 2) {
          this.grid = Array.from({ length: this.rows }, () => this.blank());
          this.wrapped = Array.from({ length: this.rows }, () => false);
        } else throw new Error(`unsupported ESC[${params}J`);
        return;
      }
      case 'm':
        return;
      default:
        throw new Error(`unsupported escape sequence ESC[${params}${final}`);
    }
  }

  /** Change the size and reflow, then tell the listeners (like SIGWINCH → 'resize'). */
  resize(columns: number, rows: number): void {
    // Logical lines of scrollback + screen, rewrapped at the new width.
    const logical: string[] = [];
    let current: string | undefined;
    for (const row of this.scrollback) {
      if (row.wrapped && current !== undefined) current += row.text.padEnd(this.columns);
      else {
        if (current !== undefined) logical.push(current);
        current = row.text.padEnd(this.columns);
      }
    }
    let cursorLine = -1;
    let cursorOffset = 0;
    for (let r = 0; r < this.rows; r++) {
      const text = this.grid[r]!.join('');
      if (this.wrapped[r] && current !== undefined) current += text;
      else {
        if (current !== undefined) logical.push(current);
        current = text;
      }
      if (r === this.row) {
        cursorLine = logical.length;
        cursorOffset = current.length - this.columns + this.col;
      }
    }
    logical.push(current!);
    this.scrollback.length = 0;
    this.columns = columns;
    this.rows = rows;
    const outRows: Array<{ text: string; wrapped: boolean }> = [];
    let cursor = { row: 0, col: 0 };
    logical.forEach((line, i) => {
      const keep = i === cursorLine ? Math.max(line.trimEnd().length, cursorOffset) : line.trimEnd().length;
      const text = line.slice(0, keep);
      const chunks =
        text.length === 0
          ? ['']
          : Array.from({ length: Math.ceil(text.length / columns) }, (_, k) => text.slice(k * columns, (k + 1) * columns));
      if (i === cursorLine) {
        const k = Math.min(Math.floor(cursorOffset / columns), chunks.length - 1);
        cursor = { row: outRows.length + k, col: Math.min(cursorOffset - k * columns, columns - 1) };
        if (cursorOffset === text.length && text.length > 0 && text.length % columns === 0) {
          chunks.push('');
          cursor = { row: outRows.length + chunks.length - 1, col: 0 };
        }
      }
      chunks.forEach((c, k) => outRows.push({ text: c, wrapped: k > 0 }));
    });
    // Trailing empty rows below the cursor are not kept (the screen fills from the top).
    while (outRows.length > cursor.row + 1 && outRows[outRows.length - 1]!.text === '') outRows.pop();
    const top = Math.max(0, outRows.length - rows);
    for (let r = 0; r < top; r++) this.scrollback.push({ text: outRows[r]!.text.trimEnd(), wrapped: outRows[r]!.wrapped });
    this.grid = Array.from({ length: rows }, (_, r) => {
      const line = this.blank();
      const src = outRows[top + r];
      if (src) for (let c = 0; c < src.text.length; c++) line[c] = src.text[c]!;
      return line;
    });
    this.wrapped = Array.from({ length: rows }, (_, r) => outRows[top + r]?.wrapped ?? false);
    this.row = cursor.row - top;
    this.col = cursor.col;
    this.wrapPending = false;
    for (const fn of this.resizeListeners) fn();
  }

  /** The visible screen, one string per row, trailing spaces trimmed. */
  screen(): string[] {
    return this.grid.map((r) => r.join('').trimEnd());
  }

  /** Scrollback and screen together as rows, trailing blank rows dropped. */
  all(): string[] {
    const lines = [...this.scrollback.map((r) => r.text), ...this.screen()];
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  /** Scrollback and screen as the lines that were written: rows an auto-wrap split are joined. */
  lines(): string[] {
    const rows = [...this.scrollback, ...this.screen().map((text, r) => ({ text, wrapped: this.wrapped[r]! }))];
    const out: string[] = [];
    for (const row of rows) {
      if (row.wrapped && out.length) out[out.length - 1] = out[out.length - 1]!.padEnd(this.columns) + row.text;
      else out.push(row.text);
    }
    while (out.length && out[out.length - 1] === '') out.pop();
    return out;
  }
}
