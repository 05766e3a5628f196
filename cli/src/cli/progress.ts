import type { RunEvent } from '@tributary/core';

interface StepCounts {
  cloned?: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  firstStart?: number;
  lastEnd?: number;
}

const BAR = 20;

function fmtTime(ms: number): string {
  return ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)}s`
      : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/**
 * Shows a run's progress. On a TTY: one live line per step (bar, queued/running/done/failed,
 * elapsed), redrawn at most 10 times a second so a 10,000-task foreach stays cheap. Otherwise:
 * plain lines, one per finished or failed task.
 * @internal
 */
export class ProgressDisplay {
  private readonly steps = new Map<string, StepCounts>();
  private order: string[] = [];
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private readonly t0 = Date.now();
  private header = '';

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live: boolean,
    private readonly quiet = false,
  ) {}

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
      if (e.type === 'task-failed' && !e.willRetry) this.out.write(`${e.pathspec} failed: ${e.error.message}\n`);
      return;
    }
    const now = Date.now();
    switch (e.type) {
      case 'run-started':
        this.order = [...e.steps];
        this.header = `Run ${e.flow}/${e.runId}${e.originRunId ? ` (resuming run ${e.originRunId})` : ''}`;
        if (!this.live) this.out.write(`${this.header} started\n`);
        else this.timer = setInterval(() => this.dirty && this.draw(), 100);
        break;
      case 'task-queued':
        this.counts(e.step).queued += e.count;
        break;
      case 'task-cloned': {
        const c = this.counts(e.step);
        c.queued++;
        c.done++;
        c.cloned = (c.cloned ?? 0) + 1;
        if (!this.live) this.out.write(`${new Date().toISOString().slice(11, 23)} ${e.pathspec} cloned from ${e.originPathspec}\n`);
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
        if (!this.live) this.out.write(`${new Date().toISOString().slice(11, 23)} ${e.pathspec} done in ${fmtTime(e.durationMs)}\n`);
        break;
      }
      case 'task-failed': {
        const c = this.counts(e.step);
        c.running--;
        if (!e.willRetry) c.failed++;
        c.lastEnd = now;
        const msg = `${e.pathspec} attempt ${e.attempt} failed${e.willRetry ? ' (will retry)' : ''}: ${e.error.message}`;
        if (!this.live) this.out.write(`${new Date().toISOString().slice(11, 23)} ${msg}\n`);
        else {
          this.clear();
          this.out.write(`\x1b[31m${msg}\x1b[0m\n`);
          this.drawn = 0;
        }
        break;
      }
      case 'run-finished':
        if (this.timer) clearInterval(this.timer);
        if (this.live) this.draw();
        this.out.write(`${this.header || `Run ${e.flow}/${e.runId}`} ${e.status} in ${fmtTime(e.durationMs)}\n`);
        return;
    }
    this.dirty = true;
  };

  /** Task output: printed above the live display (which is then redrawn). */
  output = (stream: 'stdout' | 'stderr', text: string): void => {
    if (!this.live) {
      (stream === 'stderr' ? process.stderr : process.stdout).write(text);
      return;
    }
    this.clear();
    this.drawn = 0;
    (stream === 'stderr' ? process.stderr : process.stdout).write(text);
    this.dirty = true;
  };

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
  }

  private draw(): void {
    this.dirty = false;
    const width = Math.max(4, ...this.order.map((s) => s.length));
    const lines = [`${this.header}  ${fmtTime(Date.now() - this.t0)}`];
    for (const step of this.order) {
      const c = this.steps.get(step) ?? { queued: 0, running: 0, done: 0, failed: 0 };
      const total = Math.max(c.queued, 1);
      const filled = c.queued === 0 ? 0 : Math.round((c.done / total) * BAR);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}`;
      const state =
        c.failed > 0
          ? '\x1b[31mfailed\x1b[0m'
          : c.queued > 0 && c.done === c.queued && c.running === 0
            ? '\x1b[32mdone\x1b[0m'
            : c.running > 0
              ? '\x1b[33mrunning\x1b[0m'
              : c.queued > 0
                ? 'queued'
                : '\x1b[2mwaiting\x1b[0m';
      const elapsed = c.firstStart ? fmtTime((c.running > 0 || !c.lastEnd ? Date.now() : c.lastEnd) - c.firstStart) : '';
      const cloned = c.cloned ? `  (${c.cloned} cloned)` : '';
      lines.push(
        `  ${step.padEnd(width)} ${bar} ${String(c.done).padStart(5)}/${String(c.queued).padEnd(5)} run ${String(c.running).padStart(3)}  fail ${String(c.failed).padStart(3)}  ${state} ${elapsed}${cloned}`,
      );
    }
    this.clear();
    this.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
