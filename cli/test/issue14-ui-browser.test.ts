/**
 * `tributary ui` in a real browser: Debian's Chromium driven by playwright-core. The UI server is
 * the built CLI (`node cli/bin/tributary.js ui`), reading stores that flows run in this process
 * wrote. Screenshots go to .generated/screenshots/ (look at them).
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runFlow, type RunResult } from 'tributary';
import { bin, root } from './cli-process.ts';
import { LiveUiFlow, SweepFlow, WideUiFlow } from './fixtures/issue14-ui-flows.ts';

const SHOTS = join(root, '.generated', 'screenshots');
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let home = '';
let ui: ChildProcessByStdio<null, Readable, Readable> | undefined;
let base = '';
let browser: Browser;
let page: Page;
let sweep: RunResult;
let wide: RunResult;

beforeAll(async () => {
  // The UI server and its app are the built packages: make sure they are current.
  await promisify(execFile)(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root });
  home = mkdtempSync(join(tmpdir(), 'tributary-ui-'));
  mkdirSync(SHOTS, { recursive: true });
  sweep = await runFlow(SweepFlow, { home });
  wide = await runFlow(WideUiFlow, { home, maxNumSplits: 200 });
  expect([sweep.status, wide.status]).toEqual(['succeeded', 'succeeded']);

  ui = spawn(process.execPath, [bin, 'ui', '--port', '0', '--home', home], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tributary ui printed no URL:\n${printed}`)), 20_000);
    ui!.stdout.setEncoding('utf8').on('data', (t: string) => {
      printed += t;
      const m = /Tributary UI: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(printed);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    ui!.stderr.setEncoding('utf8').on('data', (t: string) => (printed += t));
    ui!.once('exit', (code) => reject(new Error(`tributary ui exited ${code}:\n${printed}`)));
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  if (ui && ui.exitCode === null) {
    ui.kill('SIGTERM');
    await new Promise((r) => ui!.once('exit', r));
  }
  await sweep?.close();
  await wide?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

const rows = (testid: string) => page.locator(`[data-testid=${testid}] tbody tr`);

describe('issue 14: the run browser in Chromium', () => {
  test('flows → runs → run graph → step → task → card, by clicking', async () => {
    await page.goto(base);
    await expect.poll(() => rows('flows').count()).toBe(2);
    await page.locator('[data-testid=flows] a', { hasText: 'SweepFlow' }).first().click();
    await expect.poll(() => rows('runs').count()).toBe(1);
    const runRow = rows('runs').first();
    expect(await runRow.textContent()).toContain(`SweepFlow/${sweep.runId}`);
    expect(await runRow.locator('.badge').textContent()).toBe('succeeded');
    await runRow.click();

    // The run: its graph with each step's status, and task counts.
    const graph = page.locator('[data-testid=run-graph] svg');
    await graph.waitFor();
    expect(await page.locator('h1').textContent()).toContain(`SweepFlow/${sweep.runId}`);
    const steps = await page
      .locator('[data-testid=run-graph] g[data-step]')
      .evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-step'), g.getAttribute('data-status')]));
    expect(steps).toEqual([
      ['start', 'succeeded'],
      ['train', 'succeeded'],
      ['join', 'succeeded'],
      ['end', 'succeeded'],
    ]);
    expect(await page.locator('[data-testid=run-graph]').textContent()).toContain('12/12 done');
    expect(await page.locator('[data-step-row=train] [data-count=total]').textContent()).toBe('12');
    await page.screenshot({ path: join(SHOTS, 'run-graph.png') });

    // Click the train step in the picture: its 12 tasks.
    await page.locator('[data-testid=run-graph] g[data-step=train]').click();
    await expect.poll(() => rows('tasks').count()).toBe(12);
    expect(await rows('tasks').first().textContent()).toContain('train[0]');
    await rows('tasks').nth(3).click();

    // A train task: attempts, its blank card with a value box and a chart.
    await page.locator('[data-testid=attempts]').waitFor();
    expect(await page.locator('h1').textContent()).toMatch(new RegExp(`SweepFlow/${sweep.runId}/train/\\d+`));
    const frame = page.frameLocator('[data-testid=card-frame]');
    await frame.locator('.vb-title').waitFor();
    expect(await frame.locator('.vb-title').textContent()).toBe('validation score');
    expect(await frame.locator('svg.chart path').count()).toBeGreaterThan(0);

    // Logs: what the task printed.
    await page.locator('[data-tab=logs]').click();
    await expect.poll(() => page.locator('[data-testid=log]').textContent()).toMatch(/^alpha=\S+ score=\S+/);

    // Back to the run, to the join: two cards; the leaderboard shows the table and charts.
    await page.goBack();
    await page.goto(`${base}#/runs/SweepFlow/${sweep.runId}/join`);
    await expect.poll(() => rows('tasks').count()).toBe(1);
    await rows('tasks').first().click();
    await page.locator('[data-card=leaderboard]').click();
    const board = page.frameLocator('[data-testid=card-frame]');
    await board.locator('h1').waitFor();
    expect(await board.locator('h1').textContent()).toContain('Sweep leaderboard');
    expect(await board.locator('table tbody tr').count()).toBe(12);
    expect(await board.locator('svg.chart').count()).toBe(2);
    expect(await board.locator('svg.chart rect[fill]').count()).toBeGreaterThanOrEqual(6);
    await page.screenshot({ path: join(SHOTS, 'task-page.png') });

    // The default card: parameters, artifacts, the graph with this step highlighted.
    await page.locator('[data-card=default]').click();
    const def = page.frameLocator('[data-testid=card-frame]');
    await def.locator('section.parameters').waitFor();
    expect(await def.locator('section.parameters').textContent()).toContain('ridge');
    expect(await def.locator('section.artifacts').textContent()).toContain('results');
    expect(await def.locator('section.graph g[data-step=join] rect').last().getAttribute('stroke-width')).toBe('3');

    // The card alone, as its own page.
    const alone = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    const href = await page.locator('a', { hasText: 'open alone' }).getAttribute('href');
    await alone.goto(new URL(href!, base).href);
    await alone.locator('section.graph svg').waitFor();
    await alone.screenshot({ path: join(SHOTS, 'card.png'), fullPage: true });
    await alone.close();

    // Artifacts: click one to see its value.
    await page.locator('[data-tab=artifacts]').click();
    await page.locator('[data-artifact=best]').click();
    await expect
      .poll(async () => JSON.parse((await page.locator('[data-testid=artifact-value]').textContent()) ?? 'null'))
      .toEqual((await sweep.data()).best);
  });

  test("a step's tasks are paged: 120 splits are 50 + 50 + 20", async () => {
    await page.goto(`${base}#/runs/WideUiFlow/${wide.runId}/each`);
    await expect.poll(() => rows('tasks').count()).toBe(50);
    expect(await rows('tasks').first().textContent()).toContain('each[0]');
    await page.locator('[data-testid=next-page]').click();
    await expect.poll(() => rows('tasks').first().textContent()).toContain('each[50]');
    expect(await rows('tasks').count()).toBe(50);
    await page.locator('[data-testid=next-page]').click();
    await expect.poll(() => rows('tasks').count()).toBe(20);
    expect(await rows('tasks').last().textContent()).toContain('each[119]');
    expect(await page.locator('[data-testid=next-page]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid=page-info]').textContent()).toContain('page 3');
  });

  test("a live run: the graph's counters and a live card change while it runs, then it is shown finished", async () => {
    let startTask = '';
    let runId = '';
    const started = new Promise<void>((resolve) => {
      const live = runFlow(LiveUiFlow, {
        home,
        maxWorkers: 2,
        onEvent: (e) => {
          if (e.type === 'run-started') runId = e.runId;
          if (e.type === 'task-started' && e.step === 'start') {
            startTask = e.pathspec;
            resolve();
          }
        },
      });
      liveRun = live;
    });
    await started;

    // The start step's live card: stored by refresh() while it runs.
    await page.goto(`${base}#/tasks/${startTask}`);
    const card = page.frameLocator('[data-testid=card-frame]');
    await expect.poll(() => card.locator('h1 .badge').textContent(), { timeout: 10_000 }).toBe('live');
    // It refreshes while the step runs: the page reloads the newer card.
    const progress = async () => Number(await card.locator('[role=progressbar]').getAttribute('aria-valuenow'));
    const firstProgress = await progress();
    await expect.poll(progress, { timeout: 10_000 }).toBeGreaterThan(firstProgress);

    await page.goto(`${base}#/runs/LiveUiFlow/${runId}`);
    await page.locator('[data-testid=live]').waitFor();
    const done = async () => Number(await page.locator('[data-step-row=body] [data-count=succeeded]').textContent());
    await expect.poll(done, { timeout: 20_000 }).toBeGreaterThan(0);
    const first = await done();
    await expect.poll(done, { timeout: 20_000 }).toBeGreaterThan(first);
    await page.screenshot({ path: join(SHOTS, 'live-run.png') });
    const run = await liveRun!;
    expect(run.status).toBe('succeeded');
    await expect.poll(() => page.locator('h1 .badge').textContent(), { timeout: 10_000 }).toBe('succeeded');
    expect(await page.locator('[data-testid=live]').count()).toBe(0);
    expect(await done()).toBe(40);
    await run.close();

    // The card is final now.
    await page.goto(`${base}#/tasks/${startTask}`);
    await page.frameLocator('[data-testid=card-frame]').locator('h1 .badge').waitFor();
    expect(await page.frameLocator('[data-testid=card-frame]').locator('h1 .badge').textContent()).toBe('succeeded');
  });

  test('read-only, on loopback, and cards are sandboxed', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const post = await fetch(`${base}api/flows`, { method: 'POST' });
    expect(post.status).toBe(405);
    const task = (await (await sweep.step('join')).task()).pathspec;
    const cardRes = await fetch(`${base}api/tasks/${task}/cards/0`);
    expect(cardRes.status).toBe(200);
    expect(cardRes.headers.get('content-security-policy')).toMatch(/^sandbox;/);
    expect(await page.locator('[data-testid=card-frame]').getAttribute('sandbox')).toBe('');
    const missing = await fetch(`${base}api/runs/SweepFlow/999`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});

let liveRun: Promise<RunResult> | undefined;
