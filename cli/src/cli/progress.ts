import type { RunEvent } from '@tributary/core';
import { safeText } from './safe-text.ts';
import { displayWidth, fitToWidth } from './text-width.ts';

interface StepCounts {
  cloned?: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  firstStart?: number;
  lastEnd?: number;
}

/** The stream the live panel is drawn on: a TTY (columns, rows, 'resize') or anything writable. @internal */
export interface DisplayStream {
  write(text: string | Uint8Array): boolean;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

/** @internal */
export interface ProgressDisplayOptions {
  /** Where progress is shown (the CLI uses stderr). */
  out: DisplayStream;
  /** Draw the live panel (a terminal); otherwise plain lines. */
  live: boolean;
  /** Only failures. */
  quiet?: boolean;
  /** Where task output goes (default: this process's stdout and stderr). */
  stdout?: DisplayStream;
  stderr?: DisplayStream;
}

const BAR = 20;
/** Relayed task output is held back to a line boundary, but not beyond this many characters. */
const MAX_PENDING = 64 * 1024;

function fmtTime(ms: number): string {
  return ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)}s`
      : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/**
 * Shows a run's progress. On a TTY: one live line per step (bar, state, done/queued, running,
 * failed, elapsed), redrawn at most 10 times a second so a 10,000-task foreach stays cheap.
 * Otherwise: plain lines, one per finished or failed task.
 *
 * The panel is redrawn by screen rows: every line is cut to the terminal's width minus one (so no
 * line wraps and the cursor never sits in the last column), the panel never has more lines than
 * the screen has rows, and it is erased by moving up exactly the rows it occupies, from column 0
 * (an echoed `^C` leaves the cursor elsewhere). After a resize, the rows a line now occupies are
 * estimated as a reflowing terminal shows them (most do; on one that does not, a few lines above
 * the panel may be erased rather than stale panel copies left behind).
 * @internal
 */
export class ProgressDisplay {
  private readonly steps = new Map<string, StepCounts>();
  private order: string[] = [];
  /** Display widths of the panel lines on screen (empty: no panel drawn). */
  private drawnWidths: number[] = [];
  /** The terminal width the panel was drawn at. */
  private drawnColumns = 80;
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private finished = false;
  private readonly t0 = Date.now();
  private header = '';
  private readonly out: DisplayStream;
  private readonly live: boolean;
  private readonly quiet: boolean;
  private readonly streams: { stdout: DisplayStream; stderr: DisplayStream };
  private readonly pending = { stdout: '', stderr: '' };
  /** The cursor is not at the start of a line (task output without a final newline was written). */
  private midLine = false;
  private readonly onResize = () => {
    if (this.drawnWidths.length > 0 && !this.finished) this.draw();
  };

  constructor(options: ProgressDisplayOptions) {
    this.out = options.out;
    this.live = options.live;
    this.quiet = options.quiet ?? false;
    this.streams = {
      stdout: options.stdout ?? (process.stdout as DisplayStream),
      stderr: options.stderr ?? (process.stderr as DisplayStream),
    };
    if (this.live) this.out.on?.('resize', this.onResize);
  }

  private counts(step: string): StepCounts {
    let c = this.steps.get(step);
    if (!c) {
      c = { queued: 0, running: 0, done: 0, failed: 0 };
      this.steps.set(step, c);
      if (!this.order.includes(step)) this.order.push(step);
    }
    return c;
  }

  handle = (e: RunEvent): void => {
    if (this.quiet) {
      if (e.type === 'task-failed' && !e.willRetry)
        this.line(`${safeText(e.pathspec)} failed: ${safeText(e.error.message, { multiline: true })}`);
      return;
    }
    const now = Date.now();
    const stamp = () => new Date().toISOString().slice(11, 23);
    switch (e.type) {
      case 'environment-ready': {
        // Before the run starts (and its live panel): a plain line, so a long solve or build is explained.
        const what = e.remote ? `locked for ${safeText(e.platform)}` : e.built ? 'built' : 'reused';
        const how = `${e.packages} package${e.packages === 1 ? '' : 's'}${e.solved ? ', solved' : ''}`;
        this.out.write(
          `@${safeText(e.kind)} of ${e.steps.map((s) => safeText(s)).join(', ')}: environment ${e.id.slice(0, 12)} (${how}) ${what} in ${fmtTime(e.durationMs)}${e.remote ? '; each container builds it from the lock' : ''}\n`,
        );
        return;
      }
      case 'run-started':
        this.order = [...e.steps];
        this.header = `Run ${safeText(e.flow)}/${safeText(e.runId)}${e.originRunId ? ` (resuming run ${safeText(e.originRunId)})` : ''}`;
        if (!this.live) this.out.write(`${this.header} started\n`);
        else {
          this.timer = setInterval(() => this.dirty && this.draw(), 100);
          this.timer.unref?.();
        }
        break;
      case 'task-queued':
        this.counts(e.step).queued += e.count;
        break;
      case 'task-cloned': {
        const c = this.counts(e.step);
        c.queued++;
        c.done++;
        c.cloned = (c.cloned ?? 0) + 1;
        if (!this.live) this.out.write(`${stamp()} ${safeText(e.pathspec)} cloned from ${safeText(e.originPathspec)}\n`);
        break;
      }
      case 'task-started': {
        const c = this.counts(e.step);
        c.running++;
        c.firstStart ??= now;
        break;
      }
      case 'task-finished': {
        const c = this.counts(e.step);
        c.running--;
        c.done++;
        c.lastEnd = now;
        if (!this.live) this.out.write(`${stamp()} ${safeText(e.pathspec)} done in ${fmtTime(e.durationMs)}\n`);
        break;
      }
      case 'task-failed': {
        const c = this.counts(e.step);
        c.running--;
        if (!e.willRetry) c.failed++;
        c.lastEnd = now;
        const msg = `${safeText(e.pathspec)} attempt ${e.attempt} failed${e.willRetry ? ' (will retry)' : ''}: ${safeText(e.error.message, { multiline: true })}`;
        if (!this.live) this.out.write(`${stamp()} ${msg}\n`);
        else this.above(`\x1b[31m${msg}\x1b[0m\n`);
        break;
      }
      case 'run-finished':
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        this.flushPending();
        if (this.live) this.draw();
        this.finished = true;
        this.out.off?.('resize', this.onResize);
        this.out.write(`${this.header || `Run ${safeText(e.flow)}/${safeText(e.runId)}`} ${e.status} in ${fmtTime(e.durationMs)}\n`);
        return;
    }
    this.dirty = true;
  };

  /** Task output: printed above the live panel (which is then redrawn), as the task printed it. */
  output = (stream: 'stdout' | 'stderr', text: string): void => {
    const target = this.streams[stream];
    if (!this.live || this.finished || target.isTTY !== true) {
      // Not on the panel's screen (a file or a pipe): nothing to erase or hold back.
      target.write(text);
      return;
    }
    // Hold back a partial line, so the panel is never drawn in the middle of one.
    const all = this.pending[stream] + text;
    const cut = Math.max(all.lastIndexOf('\n'), all.lastIndexOf('\r')) + 1;
    const ready = all.length > MAX_PENDING ? all : all.slice(0, cut);
    this.pending[stream] = all.slice(ready.length);
    if (ready) this.above(ready, target);
  };

  /** A message from the CLI itself (e.g. "stopping the run"), printed above the panel. */
  notice(text: string): void {
    if (!this.live || this.finished) {
      this.out.write(`${safeText(text, { multiline: true })}\n`);
      return;
    }
    this.above(`${safeText(text, { multiline: true })}\n`);
    this.draw();
  }

  /** Stop redrawing: leaves a finished panel on screen and the cursor below it. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flushPending();
    if (this.live && !this.finished && this.drawnWidths.length > 0) this.draw();
    this.finished = true;
    this.out.off?.('resize', this.onResize);
  }

  /** Draw the panel now (the timer does it at most 10 times a second). */
  redraw(): void {
    if (this.live && !this.finished) this.draw();
  }

  private line(text: string): void {
    this.out.write(`${text}\n`);
  }

  /** Write `text` where the panel is, then let the panel be drawn again below it. */
  private above(text: string, target: DisplayStream = this.out): void {
    this.clear();
    target.write(text);
    this.midLine = !/[\n\r]$/.test(text);
    this.dirty = true;
  }

  private flushPending(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.pending[stream];
      this.pending[stream] = '';
      if (!rest) continue;
      if (this.live) this.above(rest, this.streams[stream]);
      else this.streams[stream].write(rest);
    }
  }

  private columns(): number {
    return Math.max(20, this.out.columns || 80);
  }

  /** Screen rows the drawn panel occupies now (more than its lines if a resize made them wrap). */
  private drawnRows(): number {
    const cols = this.columns();
    if (cols >= this.drawnColumns) return this.drawnWidths.length;
    return this.drawnWidths.reduce((n, w) => n + Math.max(1, Math.ceil(w / cols)), 0);
  }

  private clear(): void {
    if (this.drawnWidths.length === 0) return;
    const rows = this.drawnRows();
    // The cursor is on the row below the panel; '\r' first: an echoed ^C moved it off column 0.
    this.out.write(`\r${rows > 0 ? `\x1b[${rows}A` : ''}\x1b[J`);
    this.drawnWidths = [];
  }

  private draw(): void {
    this.dirty = false;
    const cols = this.columns();
    const max = cols - 1;
    const lines = this.panel(max, Math.max(2, (this.out.rows || 24) - 1)).map((l) => fitToWidth(l, max));
    this.clear();
    const lead = this.midLine ? '\n' : '';
    this.midLine = false;
    this.out.write(`${lead}\r\x1b[J${lines.join('\n')}\n`);
    this.drawnWidths = lines.map((l) => displayWidth(l));
    this.drawnColumns = cols;
  }

  /** The panel's lines (at most `maxLines`), each meant for `width` cells. */
  private panel(width: number, maxLines: number): string[] {
    const header = `${this.header}  ${fmtTime(Date.now() - this.t0)}`;
    const longest = Math.max(4, ...this.order.map((s) => s.length));
    const nameWidth = Math.min(longest, Math.max(8, Math.floor(width * 0.4)));
    const rows = this.order.map((step) => ({ step, c: this.steps.get(step) ?? { queued: 0, running: 0, done: 0, failed: 0 } }));
    let shown = rows;
    let summary: string | undefined;
    if (rows.length + 1 > maxLines) {
      // Too many steps for the screen: keep the busy ones, summarize the rest.
      const room = Math.max(0, maxLines - 2);
      const busy = (r: (typeof rows)[number]) => r.c.running > 0 || r.c.failed > 0 || (r.c.queued > r.c.done && r.c.queued > 0);
      const pick = new Set([...rows.filter(busy), ...rows.filter((r) => !busy(r))].slice(0, room).map((r) => r.step));
      shown = rows.filter((r) => pick.has(r.step));
      const hidden = rows.filter((r) => !pick.has(r.step));
      const done = hidden.filter((r) => r.c.queued > 0 && r.c.done === r.c.queued).length;
      summary = `  … ${hidden.length} more steps (${done} done, ${hidden.length - done} waiting or queued)`;
    }
    const cells = shown.map(({ step, c }) => {
      const name = step.length > nameWidth ? `${step.slice(0, nameWidth - 1)}…` : step.padEnd(nameWidth);
      const state =
        c.failed > 0
          ? '\x1b[31mfailed\x1b[0m '
          : c.queued > 0 && c.done === c.queued && c.running === 0
            ? '\x1b[32mdone\x1b[0m   '
            : c.running > 0
              ? '\x1b[33mrunning\x1b[0m'
              : c.queued > 0
                ? 'queued '
                : '\x1b[2mwaiting\x1b[0m';
      const elapsed = c.firstStart ? fmtTime((c.running > 0 || !c.lastEnd ? Date.now() : c.lastEnd) - c.firstStart) : '';
      const cloned = c.cloned ? `  (${c.cloned} cloned)` : '';
      const counts = `${String(c.done).padStart(5)}/${String(c.queued).padEnd(5)} run ${String(c.running).padStart(3)}  fail ${String(c.failed).padStart(3)}`;
      return { c, name, rest: ` ${state} ${counts}  ${elapsed}${cloned}` };
    });
    // One bar width for the whole panel; it gives way first when the terminal is narrow.
    const restWidth = Math.max(0, ...cells.map((x) => displayWidth(x.rest)));
    const barWidth = Math.min(BAR, width - 2 - nameWidth - 1 - restWidth);
    const lines = [header];
    for (const { c, name, rest } of cells) {
      let bar = '';
      if (barWidth >= 5) {
        const filled = c.queued === 0 ? 0 : Math.round((c.done / Math.max(c.queued, 1)) * barWidth);
        bar = ` ${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
      }
      lines.push(`  ${name}${bar}${rest}`.trimEnd());
    }
    if (summary) lines.push(summary);
    return lines;
  }
}
