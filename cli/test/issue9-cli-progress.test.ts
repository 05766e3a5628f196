import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ProgressDisplay } from '../src/cli/progress.ts';
import { TerminalEmulator } from './terminal-emulator.ts';

// The live display is driven with run events on a fake TTY, and what a terminal would show is
// checked on a small emulator: exactly one panel, no line longer than the screen, nothing garbled.

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(columns: number, rows: number) {
  const term = new TerminalEmulator(columns, rows);
  const tty = term.stream();
  const display = new ProgressDisplay({ out: tty, live: true, stdout: tty, stderr: tty });
  const tick = () => vi.advanceTimersByTime(110);
  return { term, display, tick };
}

/** A run of `steps` (in order, `tasks` tasks each) printing a line per task; returns the printed lines. */
function drive(display: ProgressDisplay, tick: () => void, steps: string[], tasks = 3, during?: (i: number) => void): string[] {
  const printed: string[] = [];
  display.handle({ type: 'run-started', flow: 'DemoFlow', runId: '7', steps });
  let n = 0;
  steps.forEach((step, s) => {
    display.handle({ type: 'task-queued', step, count: tasks });
    for (let t = 0; t < tasks; t++) {
      const pathspec = `DemoFlow/7/${step}/${s * 10 + t}`;
      display.handle({ type: 'task-started', step, pathspec, attempt: 0 });
      tick();
      const line = `[${pathspec}] working on item ${t} of ${step}`;
      display.output('stdout', `${line}\n`);
      printed.push(line);
      tick();
      during?.(n++);
      display.handle({ type: 'task-finished', step, pathspec, attempt: 0, durationMs: 12 });
      tick();
    }
  });
  return printed;
}

function expectOnePanel(term: TerminalEmulator, steps: string[], maxWidth: number) {
  const lines = term.lines();
  // Task output may wrap (it is the task's); the display's own lines never do.
  for (const line of lines.filter((l) => !l.startsWith('[')))
    expect(line.length, `line wider than the screen: ${JSON.stringify(line)}`).toBeLessThanOrEqual(maxWidth);
  // The panel header, once, plus the final "Run ... succeeded" line; nothing glued in front of either.
  const headers = lines.filter((l) => l.includes('Run DemoFlow/7'));
  for (const h of headers) expect(h).toMatch(/^Run DemoFlow\/7 /);
  expect(headers).toHaveLength(2);
  for (const step of steps) {
    const prefix = `  ${step.length > 20 ? step.slice(0, 12) : step} `;
    expect(
      lines.filter((l) => l.startsWith(prefix.trimEnd())),
      `panel line of ${step}`,
    ).toHaveLength(1);
  }
  return lines;
}

describe('issue 9 item 22: the live display redraws by screen rows', () => {
  test('issue 9 item 22: at 80x24 with a 22-character step name, one panel remains and task output is intact', () => {
    const { term, display, tick } = setup(80, 24);
    const steps = ['start', 'preprocess_training_set', 'fit', 'end'];
    expect(steps[1]!.length).toBeGreaterThanOrEqual(22);
    const printed = drive(display, tick, steps);
    display.handle({ type: 'run-finished', flow: 'DemoFlow', runId: '7', status: 'succeeded', durationMs: 1234 });
    const lines = expectOnePanel(term, steps, 79);
    // Task output lines, each exactly once, in order, above the panel.
    const out = lines.filter((l) => l.startsWith('[DemoFlow/7/'));
    expect(out).toEqual(printed);
    expect(lines[lines.length - 1]).toMatch(/^Run DemoFlow\/7 succeeded in 1\.2s$/);
    expect(lines.find((l) => l.startsWith('  preprocess_training_set'))).toMatch(/done/);
  });

  test('issue 9 item 22: after Ctrl-C (an echoed ^C) the final frame is clean: no "RuRun", no stale panel', () => {
    const { term, display, tick } = setup(80, 24);
    const steps = ['start', 'preprocess_training_set', 'end'];
    display.handle({ type: 'run-started', flow: 'DemoFlow', runId: '7', steps });
    display.handle({ type: 'task-queued', step: 'start', count: 1 });
    display.handle({ type: 'task-started', step: 'start', pathspec: 'DemoFlow/7/start/1', attempt: 0 });
    tick();
    display.output('stdout', '[DemoFlow/7/start/1] loading\n');
    tick();
    term.echo('^C'); // the tty echoes it at the cursor, under the panel
    display.notice('SIGINT: stopping the run; press Ctrl-C again to exit at once.');
    tick();
    display.handle({
      type: 'task-failed',
      step: 'start',
      pathspec: 'DemoFlow/7/start/1',
      attempt: 0,
      error: { name: 'TributaryError', code: 'ABORTED', message: 'Aborted: interrupted (SIGINT)', retryable: false, context: {} },
      willRetry: false,
    });
    display.handle({ type: 'run-finished', flow: 'DemoFlow', runId: '7', status: 'aborted', durationMs: 900 });
    display.stop();
    const lines = expectOnePanel(term, steps, 79);
    expect(lines.join('\n')).not.toContain('RuRun');
    expect(lines.join('\n')).not.toContain('^C');
    expect(lines.filter((l) => l.startsWith('SIGINT: stopping'))).toHaveLength(1);
    expect(lines[lines.length - 1]).toBe('Run DemoFlow/7 aborted in 900ms');
  });

  test('issue 9 item 22: a 40-column terminal with long step names: every line is cut to 39 cells, one panel', () => {
    const { term, display, tick } = setup(40, 24);
    const steps = ['start', 'a_really_long_step_name_for_the_feature_pipeline', 'another_long_step_name_that_will_not_fit', 'end'];
    drive(display, tick, steps, 2);
    display.handle({ type: 'run-finished', flow: 'DemoFlow', runId: '7', status: 'succeeded', durationMs: 50 });
    expectOnePanel(term, steps, 39);
  });

  test('issue 9 item 22: a resize (80 → 40 columns) mid-run leaves one panel, drawn for the new width', () => {
    const { term, display, tick } = setup(80, 24);
    const steps = ['start', 'preprocess_training_set', 'fit', 'end'];
    drive(display, tick, steps, 2, (i) => {
      if (i === 3) term.resize(40, 24);
    });
    display.handle({ type: 'run-finished', flow: 'DemoFlow', runId: '7', status: 'succeeded', durationMs: 50 });
    const screen = term.lines().filter((l) => l && !l.startsWith('['));
    for (const line of screen) expect(line.length).toBeLessThanOrEqual(39);
    expect(screen.filter((l) => l.startsWith('Run DemoFlow/7'))).toHaveLength(2);
    expect(screen.filter((l) => l.startsWith('  preprocess'))).toHaveLength(1);
  });

  test('issue 9 item 22: more steps than screen rows: the panel fits the screen and says what it left out', () => {
    const { term, display, tick } = setup(80, 12);
    const steps = Array.from({ length: 30 }, (_, i) => `step_${String(i).padStart(2, '0')}`);
    display.handle({ type: 'run-started', flow: 'DemoFlow', runId: '7', steps });
    for (let round = 0; round < 5; round++) {
      display.handle({ type: 'task-queued', step: steps[round]!, count: 1 });
      display.handle({ type: 'task-started', step: steps[round]!, pathspec: `DemoFlow/7/${steps[round]}/${round}`, attempt: 0 });
      tick();
      display.output('stderr', `line ${round}\n`);
      tick();
    }
    const screen = term.screen();
    const panelTop = screen.findIndex((l) => l.startsWith('Run DemoFlow/7'));
    const panel = screen.slice(panelTop).filter(Boolean);
    expect(panel.length).toBeLessThanOrEqual(11);
    expect(panel[panel.length - 1]).toMatch(/… \d+ more steps/);
    expect(panel.some((l) => l.startsWith('  step_04') && l.includes('running'))).toBe(true);
    // Nothing of an older panel above it.
    expect(term.all().filter((l) => l.startsWith('Run DemoFlow/7'))).toHaveLength(1);
  });

  test('issue 9 item 22: a task line printed in pieces stays one line; the panel is not drawn inside it', () => {
    const { term, display, tick } = setup(80, 24);
    display.handle({ type: 'run-started', flow: 'DemoFlow', runId: '7', steps: ['start', 'end'] });
    display.handle({ type: 'task-queued', step: 'start', count: 1 });
    tick();
    display.output('stdout', '[DemoFlow/7/start/1] loading');
    tick();
    display.output('stdout', '... done\n[DemoFlow/7/start/1] next');
    tick();
    display.handle({ type: 'run-finished', flow: 'DemoFlow', runId: '7', status: 'succeeded', durationMs: 5 });
    const lines = term.lines();
    expect(lines).toContain('[DemoFlow/7/start/1] loading... done');
    expect(lines).toContain('[DemoFlow/7/start/1] next');
    expect(lines.filter((l) => l.startsWith('Run DemoFlow/7'))).toHaveLength(2);
  });
});
