import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Client, resumeFlow, runFlow, TributaryError, type Card, type RunResult, type Task } from 'tributary';
import { bin, root, runCli } from './cli-process.ts';
import { tempHome } from './helpers.ts';
import { CardEdgeFlow, CardFlow, FailCardFlow, LiveCardFlow, TwinCardFlow, TwinPlainFlow } from './fixtures/issue14-cards.ts';

/**
 * Issue 14: cards (`@card`) end to end. Flows run in this process's orchestrator (tasks on warm
 * workers) with one temporary home; the cards are read back through the client (Task.cards(),
 * Card.html()) and through `tributary card list|view`.
 *   - CardFlow: every component, a foreach of blank cards, two cards on a join, a live step, a
 *     step that fails twice and is caught, a step without @card that appends;
 *   - CardEdgeFlow: a broken component in a step that succeeds, markup in user text, appends that go nowhere;
 *   - FailCardFlow: a failed run (its card shows the error) and its resume (cloned tasks keep their cards);
 *   - TwinCardFlow / TwinPlainFlow: the same computation with and without cards;
 *   - LiveCardFlow: a card read (client and CLI) while its step runs.
 */

const { home, cleanup } = tempHome('tributary-issue14-');
afterAll(cleanup);

/** path.join, named apart from the tasks of the `join` step in the tests below. */
const join_ = join;
const sha256 = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
const ofBody = (html: string) => html.slice(html.indexOf('<body>'));

async function tasksOf(run: RunResult, step: string): Promise<Task[]> {
  const out: Task[] = [];
  for await (const t of run.step(step).tasks()) out.push(t);
  return out.sort((a, b) => Number(a.id) - Number(b.id));
}
async function only(run: RunResult, step: string): Promise<Task> {
  const tasks = await tasksOf(run, step);
  expect(tasks).toHaveLength(1);
  return tasks[0]!;
}
const shape = (cards: Card[]) => cards.map((c) => ({ id: c.id, type: c.type, status: c.status, attempt: c.attempt }));

/** The stored card is exactly its HTML: SHA-256 and size of the bytes Card.html() returns. */
async function verified(card: Card): Promise<string> {
  const html = await card.html();
  expect(card.sha).toBe(sha256(html));
  expect(card.size).toBe(Buffer.byteLength(html, 'utf8'));
  expect(html.startsWith('<!doctype html><html lang="en">')).toBe(true);
  expect(html.endsWith('</main></body></html>')).toBe(true);
  return html;
}

/** The `<g class="g-step">` group of one step in a graph SVG. */
function stepGroup(html: string, step: string): string {
  const m = html.match(new RegExp(`<g class="g-step" data-step="${step}"[^>]*>(.*?)</g>`));
  expect(m, `graph group of ${step}`).not.toBeNull();
  return m![1]!;
}
const HIGHLIGHT = /fill="#dbe8ff" stroke="#1f2937" stroke-width="3"/;

async function rejection(promise: Promise<unknown>): Promise<TributaryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TributaryError);
  return err as TributaryError;
}

/** `tributary ...args` without blocking this process (a run is going on in it). */
function runCliAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, TRIBUTARY_HOME: home, TRIBUTARY_DEBUG: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let cardRun: RunResult<CardFlow>;
let edge: RunResult<CardEdgeFlow>;
let failed: RunResult<FailCardFlow>;
let resumed: RunResult<FailCardFlow>;
let twinCard: RunResult<TwinCardFlow>;
let twinPlain: RunResult<TwinPlainFlow>;

beforeAll(async () => {
  const marker = join(home, 'fail-work');
  writeFileSync(marker, 'work fails while this file exists');
  [cardRun, edge, failed, twinCard, twinPlain] = await Promise.all([
    runFlow(CardFlow, { home }),
    runFlow(CardEdgeFlow, { home }),
    runFlow(FailCardFlow, { home, params: { marker } }),
    runFlow(TwinCardFlow, { home }),
    runFlow(TwinPlainFlow, { home }),
  ]);
  rmSync(marker);
  resumed = await resumeFlow(FailCardFlow, { home, originRunId: failed.runId });
  expect([cardRun.status, edge.status, failed.status, resumed.status, twinCard.status, twinPlain.status]).toEqual([
    'succeeded',
    'succeeded',
    'failed',
    'succeeded',
    'succeeded',
    'succeeded',
  ]);
});

describe('issue 14: cards rendered by tasks, read through the client', () => {
  test('each task lists its cards as its step declares them (source order): id, type, status, attempt, sha and size', async () => {
    const runStart = cardRun.createdAt.getTime();
    const runEnd = cardRun.finishedAt!.getTime();
    const expected: Record<string, Array<{ id: string | null; type: string; status: string; attempt: number }>> = {
      start: [{ id: null, type: 'default', status: 'succeeded', attempt: 0 }],
      train: [{ id: null, type: 'blank', status: 'succeeded', attempt: 0 }],
      join: [
        { id: 'summary', type: 'blank', status: 'succeeded', attempt: 0 },
        { id: null, type: 'default', status: 'succeeded', attempt: 0 },
      ],
      live: [{ id: null, type: 'default', status: 'succeeded', attempt: 0 }],
      // Two failed attempts (@retry times 1), then the @catch fallback attempt: its card is the task's.
      broken: [{ id: null, type: 'default', status: 'succeeded', attempt: 2 }],
      end: [],
    };
    const shas = new Set<string>();
    for (const [step, want] of Object.entries(expected)) {
      const tasks = await tasksOf(cardRun, step);
      expect(tasks).toHaveLength(step === 'train' ? 4 : 1);
      for (const task of tasks) {
        const cards = await task.cards();
        expect(shape(cards), task.pathspec).toEqual(want);
        for (const c of cards) {
          await verified(c);
          expect(c.error).toBeUndefined();
          expect(c.renderedAt.getTime()).toBeGreaterThanOrEqual(runStart);
          expect(c.renderedAt.getTime()).toBeLessThanOrEqual(runEnd);
          expect(c.taskPathspec).toBe(task.pathspec);
          expect(c.toJSON()).toEqual({ task: task.pathspec, ...c.ref });
          shas.add(c.sha);
        }
      }
    }
    expect(shas.size).toBe(9); // every card differs (each names its task)
    expect((await only(cardRun, 'broken')).attemptCount).toBe(3);
  });

  test('the default card: the task, its parameters, artifacts, the graph with its step highlighted, then its components', async () => {
    const task = await only(cardRun, 'start');
    const html = await verified(await task.card());
    const body = ofBody(html);
    expect(html).toContain(`<title>${task.pathspec}</title>`);
    expect(body).toContain(`<h1>${task.pathspec} <span class="badge succeeded">succeeded</span></h1>`);
    expect(body).toContain('<div class="sub">CardFlow · step start · attempt 0</div>');
    expect(body).toContain(
      `<dt>task</dt><dd>${task.pathspec}</dd><dt>status</dt><dd>succeeded</dd><dt>attempt</dt><dd>0 (1 of at most 1)</dd>`,
    );
    // Parameters with their values; they are not repeated as artifacts.
    expect(body).toContain('<section class="parameters"><h2>Parameters</h2>');
    expect(body).toContain('<tr><td>n</td><td>4</td></tr><tr><td>model</td><td>ridge</td></tr>');
    expect(body).toContain('<h2>Artifacts (2)</h2>');
    expect(body).toContain('<tr><td>alphas</td><td>Array</td><td class="num">21 B</td><td>[0.01,0.1,1,10]</td></tr>');
    expect(body).toMatch(
      /<tr><td>weights<\/td><td>Float64Array<\/td><td class="num">39\.1 KB<\/td><td>Float64Array\(5000\) min -1, mean [-\d.e]+, max 1<\/td><\/tr>/,
    );
    expect(body).not.toContain('<td>n</td><td>number</td>');
    // The graph: every step, every edge, this task's step outlined and no other.
    const svg = body.slice(body.indexOf('<section class="graph">'), body.indexOf('</section>', body.indexOf('<section class="graph">')));
    expect(svg).toContain('<svg class="flow-graph"');
    for (const s of ['start', 'train', 'join', 'live', 'broken', 'end']) {
      const g = stepGroup(svg, s);
      expect(g).toContain(`>${s}</text>`);
      if (s === 'start') expect(g).toMatch(HIGHLIGHT);
      else expect(g).not.toMatch(HIGHLIGHT);
    }
    expect((svg.match(/class="g-edge"/g) ?? []).length).toBe(5);
    expect(svg).toContain('>foreach alphas</text>');
    // Then the step's components (after the graph).
    const components = body.indexOf('<section class="components"><h2>Step components</h2>');
    expect(components).toBeGreaterThan(body.indexOf('<section class="graph">'));
    expect(body.slice(components)).toContain(
      '<div class="component markdown"><h1>Training plan</h1>\n<p>Sweeping <strong>alpha</strong> over <code>0.01, 0.1, 1, 10</code>.</p>\n</div>',
    );
    expect(body).toMatch(/Rendered \d{4}-\d\d-\d\dT[\d:.]+Z by Tributary\.<\/p><\/main>/);

    // The join's default card outlines the join.
    const join = await only(cardRun, 'join');
    const joinHtml = await verified(await join.card());
    expect(stepGroup(joinHtml, 'join')).toMatch(HIGHLIGHT);
    expect(stepGroup(joinHtml, 'start')).not.toMatch(HIGHLIGHT);
    expect(joinHtml).toContain('<div class="component markdown"><p>Default card: the scores are in the summary card.</p>\n</div>');
    expect(joinHtml).toContain('<h2>Artifacts (3)</h2>'); // alphas (from start), scores, weights; not alpha/score
    expect(joinHtml).toMatch(
      /<td>alphas<\/td><td>Array<\/td><td class="num">21 B<\/td><td><span class="muted">from an earlier step \(sha256 [0-9a-f]{12}…\)<\/span>/,
    );
  });

  test('a blank card holds only its components (no task sections, no graph)', async () => {
    const trains = await tasksOf(cardRun, 'train');
    for (const task of trains) {
      const html = await verified(await task.card());
      const { alpha, score } = await task.data();
      const body = ofBody(html);
      expect(body).not.toContain('<section');
      expect(body).not.toContain('flow-graph');
      const main = body.slice(body.indexOf('</header>') + '</header>'.length, body.indexOf('<p class="muted" style="margin-top:28px">'));
      expect(main).toMatch(
        new RegExp(
          `^<div class="component value-box"><div class="vb-title">score</div><div class="vb-value">[\\d.]+</div><div class="muted">alpha ${alpha}</div></div>$`,
        ),
      );
      expect(Number(main.match(/vb-value">([\d.]+)</)![1])).toBeCloseTo(score, 3);
    }

    // The join's summary card: its title, and each component in the order appended.
    const summary = await (await only(cardRun, 'join')).card('summary');
    const html = await verified(summary);
    expect(html).toContain('<title>Sweep summary</title>');
    expect(html).toContain('<h1>Sweep summary <span class="badge succeeded">succeeded</span></h1>');
    expect(html).not.toContain('<section');
    const order = ['table', 'line-chart', 'bar-chart', 'scatter-chart', 'image', 'json'].map((k) =>
      html.indexOf(`<div class="component ${k}">`),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).toContain('<thead><tr><th>alpha</th><th>score</th></tr></thead>');
    expect((html.match(/<tr><td class="num">/g) ?? []).length).toBe(4);
    expect(html).toContain('>score by alpha</text>');
    expect((html.match(/<rect [^>]*><title>/g) ?? []).length).toBe(4); // one bar per alpha
    expect((html.match(/<circle [^>]*fill-opacity="0\.75"/g) ?? []).length).toBe(4); // one scatter point each
    expect(html).toContain('<img src="data:image/png;base64,iVBORw0KGgo');
    expect(html).toContain('<figcaption>a pixel</figcaption>');
    expect(html).toContain('<span class="j-key">best</span>');
  });

  test('a component that throws is shown, with its error, in its place; the card records it; the task succeeds', async () => {
    const task = await only(edge, 'start');
    expect(task.successful).toBe(true);
    expect((await task.data()).total).toBe(42);
    const c = await task.card();
    expect(c.status).toBe('succeeded');
    expect(c.error).toBe('a component could not be rendered (shown in its place)');
    const html = await verified(c);
    expect(html).toContain(
      '<div class="component markdown"><p>before the broken one</p>\n</div>' +
        '<div class="component card-error">This bad component could not be rendered: this component is broken</div>' +
        '<div class="component markdown"><p>after the broken one</p>\n</div>',
    );
    // The rest of the card is intact.
    expect(html).toContain('<section class="overview">');
    expect(html).toContain('<section class="graph">');
    expect((await only(twinCard, 'start')).successful).toBe(true);
  });

  test('user text (parameters, artifacts, components) is escaped in the card', async () => {
    const html = await (await (await only(edge, 'start')).card()).html();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<tr><td>evil</td><td>&lt;script&gt;alert(&quot;param&quot;)&lt;/script&gt;</td></tr>');
    expect(html).toContain(
      '<tr><td>note</td><td>string</td><td class="num">36 B</td><td>&lt;script&gt;alert(&quot;artifact&quot;)&lt;/script&gt;</td></tr>',
    );
    expect(html).toContain('<th>&lt;script&gt;h&lt;/script&gt;</th>');
    const a = await (await only(edge, 'ids')).card('a');
    expect(await a.html()).toContain('<div class="vb-title">&lt;script&gt;vb&lt;/script&gt;</div>');
  });

  test('appends that go nowhere never fail the task: they are dropped and said once, in the task stderr', async () => {
    const end = await only(cardRun, 'end');
    expect(end.successful).toBe(true);
    expect(await end.cards()).toEqual([]);
    expect(await end.stderr()).toBe(
      '[card] this.card.append: this step has no @card, so what it appends is not shown. Add @card to the step.\n',
    );

    const ids = await only(edge, 'ids');
    expect((await ids.data()).cardIds).toEqual(['a', 'b']);
    expect(await ids.stderr()).toBe(
      "[card] this.card.append: this step has 2 cards, all with ids (a, b): use this.card['<id>'].append(...).\n",
    );
    expect(await (await ids.card('b')).html()).not.toContain('dropped');

    const nope = await only(edge, 'nope');
    expect(nope.successful).toBe(true);
    // Once per task: the second unknown id is not logged again.
    expect(await nope.stderr()).toBe(
      "[card] this.card['nope']: this step has no card with id 'nope' (its cards: (no id)), so what is appended to it is not shown.\n",
    );
    const nopeHtml = await (await nope.card()).html();
    expect(nopeHtml).toContain('<p>kept</p>');
    expect(nopeHtml).not.toContain('lost');

    const edgeEnd = await only(edge, 'end');
    expect(await edgeEnd.stderr()).toBe(
      "[card] this.card['x']: this step has no card with id 'x' (it has no @card), so what is appended to it is not shown.\n",
    );
    // A step with cards and nothing dropped logs nothing.
    expect(await (await only(cardRun, 'join')).stderr()).toBe('');
  });

  test('a failed task (no @catch, the run fails) keeps its card: status failed, the error shown', async () => {
    const work = await only(failed, 'work');
    expect(work.status).toBe('failed');
    const cards = await work.cards();
    expect(shape(cards)).toEqual([{ id: null, type: 'default', status: 'failed', attempt: 0 }]);
    const html = await verified(cards[0]!);
    expect(html).toContain(`<h1>${work.pathspec} <span class="badge failed">failed</span></h1>`);
    expect(html).toContain('<dt>status</dt><dd>failed</dd>');
    expect(html).toMatch(
      /<section class="error"><h2>Error<\/h2><div class="card-error">USER_CODE: (Error: )?work failed: the marker file is there<\/div><\/section>/,
    );
    expect(html).toContain('<div class="component markdown"><p>working on it</p>\n</div>');
    expect(stepGroup(html, 'work')).toMatch(HIGHLIGHT);
    // The task before it succeeded, with its own card.
    expect(shape(await (await only(failed, 'start')).cards())).toEqual([{ id: null, type: 'default', status: 'succeeded', attempt: 0 }]);
  });

  test("a resumed run's cloned task shows its origin's cards; the re-run task renders its own", async () => {
    const origin = await only(failed, 'start');
    const clone = await only(resumed, 'start');
    expect(clone.originPathspec).toBe(origin.pathspec);
    const originCards = await origin.cards();
    const cloneCards = await clone.cards();
    expect(cloneCards.map((c) => c.ref)).toEqual(originCards.map((c) => c.ref));
    expect(await verified(cloneCards[0]!)).toBe(await originCards[0]!.html());
    expect(await cloneCards[0]!.html()).toContain(`<dd>${origin.pathspec}</dd>`);

    const work = await only(resumed, 'work');
    expect(work.originPathspec).toBeUndefined();
    const card = await work.card();
    expect(shape([card])).toEqual([{ id: null, type: 'default', status: 'succeeded', attempt: 0 }]);
    const html = await verified(card);
    expect(html).not.toContain('<section class="error">');
    expect(html).toContain(`<dd>${work.pathspec}</dd>`);
    expect(card.sha).not.toBe((await (await only(failed, 'work')).card()).sha);
    expect((await resumed.data()).seen).toBe(2);
  });

  test('cards never change what a task computes: the same artifacts (by content hash) and outcome without them', async () => {
    for (const step of ['start', 'end']) {
      const [a, b] = [await only(twinCard, step), await only(twinPlain, step)];
      expect(a.status).toBe(b.status);
      const arts = async (t: Task) =>
        Object.fromEntries(
          (await t.artifacts())
            .filter((x) => !x.name.startsWith('_'))
            .map((x) => [x.name, x.sha])
            .sort(),
        );
      expect(await arts(a)).toEqual(await arts(b));
      expect(await a.data()).toEqual(await b.data());
      expect((await a.cards()).length).toBe(1);
      expect(await b.cards()).toEqual([]);
    }
    expect((await twinCard.data()).total).toBe(30);
  });

  test('Task.card(id): the only card, the one without an id, or by id; NOT_FOUND says which cards there are', async () => {
    const join = await only(cardRun, 'join');
    expect((await join.card()).id).toBeNull();
    expect((await join.card('summary')).type).toBe('blank');
    let err = await rejection(join.card('nope'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe(`Task ${join.pathspec} has no card with id 'nope': its cards: summary, (no id).`);

    const end = await only(cardRun, 'end');
    err = await rejection(end.card());
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe(`Task ${end.pathspec} has no cards (is its step decorated with @card?).`);
    expect((await rejection(end.card('x'))).code).toBe('NOT_FOUND');

    const ids = await only(edge, 'ids');
    err = await rejection(ids.card());
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe(`Task ${ids.pathspec} has several cards, all with ids: pick one by id (its cards: a, b).`);
    expect((await ids.card('b')).id).toBe('b');

    const train = (await tasksOf(cardRun, 'train'))[0]!;
    expect((await train.card()).type).toBe('blank');
    expect((await rejection(train.card('summary'))).message).toMatch(/has no card with id 'summary': its cards: \(no id\)\.$/);
  });

  test('the live step of CardFlow ends with its final card: succeeded, the progress at 5 / 5', async () => {
    const html = await verified(await (await only(cardRun, 'live')).card());
    expect(html).toContain('<span class="badge succeeded">succeeded</span>');
    expect(html).not.toContain('badge running');
    expect(html).toContain('<div class="progress-label">epochs</div>');
    expect(html).toContain('style="width:100.00%"');
    expect(html).toContain('5 / 5 (100 %)');
    expect(html).not.toContain('so far');
  });

  test('the attempt line of a card never says more attempts than the step may make (@catch fallback)', async () => {
    // The @catch fallback runs as a third attempt of a step with @retry({ times: 1 }).
    const html = await (await only(cardRun, 'broken')).card().then((c) => c.html());
    // Attempts are numbered from 0, as in the client and `tributary logs --attempt`.
    expect(html).toContain('<dt>attempt</dt><dd>2 (the @catch fallback, after 2 failed attempts)</dd>');
    expect(html).toContain('· attempt 2</div>');
    expect(html).not.toMatch(/of at most/);
    // ...and lists how the earlier attempts failed.
    expect(html).toContain('<h2>Earlier attempts</h2>');
    expect(html).toMatch(/<td class="num">0<\/td><td>USER_CODE: [^<]*broken on purpose<\/td>/);
    expect(html).toMatch(/<td class="num">1<\/td><td>USER_CODE: [^<]*broken on purpose<\/td>/);
    // The failed attempts' own cards (with the error) stay readable by attempt.
    const task = await only(cardRun, 'broken');
    const first = await task.cards({ attempt: 0 });
    expect(first.map((c) => [c.attempt, c.status])).toEqual([[0, 'failed']]);
    expect(await first[0]!.html()).toContain('broken on purpose');
  });
});

describe('issue 14: a live card, read while its step runs', () => {
  test('task.cards() of the running task gives a running card showing its progress; the CLI lists it live; then it succeeds', async () => {
    const release = join(home, 'release-live');
    let client: Client | undefined;
    const seen: Array<{ taskStatus: string; cardStatus: string; progress: number }> = [];
    let whileRunning:
      | { html: string; card: Card; list: Awaited<ReturnType<typeof runCliAsync>>; view: Awaited<ReturnType<typeof runCliAsync>> }
      | undefined;
    let watching: Promise<void> | undefined;
    const watch = async (pathspec: string) => {
      try {
        client = await Client.open({ home });
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const task = await client.task(pathspec);
          const cards = await task.cards();
          if (cards.length === 1) {
            const html = await cards[0]!.html();
            const progress = Number(html.match(/(\d+) \/ 10 epochs/)?.[1]);
            seen.push({ taskStatus: task.status, cardStatus: cards[0]!.status, progress });
            if (progress === 3) {
              const [list, view] = await Promise.all([
                runCliAsync(['card', 'list', pathspec]),
                runCliAsync(['card', 'view', pathspec, '--out', '-']),
              ]);
              whileRunning = { html, card: cards[0]!, list, view };
              break;
            }
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        // Whatever happened here, let the step finish.
        writeFileSync(release, 'go');
      }
    };
    const run = await runFlow(LiveCardFlow, {
      home,
      params: { release },
      onEvent: (e) => {
        if (e.type === 'task-started' && e.step === 'start') watching = watch(e.pathspec);
      },
    });
    await watching;
    await client?.close();
    expect(run.status).toBe('succeeded');
    // The step saw the release file: it was still running when the card was read.
    expect((await run.data()).waited).toBe(true);

    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s).toMatchObject({ taskStatus: 'running', cardStatus: 'running' });
    const progress = seen.map((s) => s.progress);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(progress.every((p) => p >= 1 && p <= 3)).toBe(true);

    const live = whileRunning!;
    expect(live).toBeDefined();
    expect(shape([live.card])).toEqual([{ id: null, type: 'default', status: 'running', attempt: 0 }]);
    expect(live.card.sha).toBe(sha256(live.html));
    expect(live.html).toContain('<span class="badge running">live</span>');
    expect(live.html).toContain('<dt>status</dt><dd>running (live card)</dd>');
    expect(live.html).toMatch(/<dt>duration<\/dt><dd>[^<]+ so far<\/dd>/);
    expect(live.html).toContain('style="width:30.00%"');
    expect(live.html).toContain('3 / 10 epochs (30 %)');
    expect(live.html).toContain('while the step runs: refresh to see newer.');
    expect(live.list.code).toBe(0);
    expect(live.list.stdout).toMatch(/^\(default\) {2}default {2}live {2}attempt 0 {2}\d+\.\d KB {2}\d{4}-\d\d-\d\dT[\d:.]+Z\n$/);
    expect(live.view.code).toBe(0);
    expect(live.view.stdout).toContain('3 / 10 epochs (30 %)');

    const task = await only(run, 'start');
    const final = await task.card();
    expect(final.status).toBe('succeeded');
    expect(final.sha).not.toBe(live.card.sha);
    const html = await verified(final);
    expect(html).toContain('<div class="progress-label">epochs done</div>');
    expect(html).toContain('10 / 10 epochs (100 %)');
    expect(html).toContain('<span class="badge succeeded">succeeded</span>');
    expect(html).not.toContain('so far');
  });
});

describe('issue 14: tributary card list|view', () => {
  test('card list: one line per card (id, type, status, attempt, size, time, error), or --json; a task without cards says so', async () => {
    const join = await only(cardRun, 'join');
    const cards = await join.cards();
    const r = runCli(home, ['card', 'list', `${cardRun.pathspec}/join`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const kb = (c: Card) => (c.size / 1024).toFixed(1);
    expect(r.stdout).toBe(
      `summary  blank  succeeded  attempt 0  ${kb(cards[0]!)} KB  ${cards[0]!.renderedAt.toISOString()}\n` +
        `(default)  default  succeeded  attempt 0  ${kb(cards[1]!)} KB  ${cards[1]!.renderedAt.toISOString()}\n`,
    );
    // With the task id too; and as JSON.
    expect(runCli(home, ['card', 'list', join.pathspec]).stdout).toBe(r.stdout);
    const json = runCli(home, ['card', 'list', join.pathspec, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ task: join.pathspec, cards: cards.map((c) => c.toJSON()) });

    const broken = await only(edge, 'start');
    expect(runCli(home, ['card', 'list', broken.pathspec]).stdout).toMatch(
      /^\(default\) {2}default {2}succeeded {2}attempt 0 {2}[\d.]+ KB {2}\S+ {2}error: a component could not be rendered \(shown in its place\)\n$/,
    );
    const failedWork = runCli(home, ['card', 'list', `${failed.pathspec}/work`]);
    expect(failedWork.stdout).toMatch(/^\(default\) {2}default {2}failed {2}attempt 0 /);

    const end = await only(cardRun, 'end');
    const none = runCli(home, ['card', 'list', `${cardRun.pathspec}/end`]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`${end.pathspec} has no cards (is step end decorated with @card?)\n`);
    expect(JSON.parse(runCli(home, ['card', 'list', end.pathspec, '--json']).stdout)).toEqual({ task: end.pathspec, cards: [] });

    const usage = runCli(home, ['card', 'list', join.pathspec, '--id', 'summary']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--id and --out go with card view.');
  });

  test('card view: writes <home>/cards/<pathspec>/<id|default>.html and prints its path; --id; --out FILE; --out -', async () => {
    const join = await only(cardRun, 'join');
    const dflt = await (await join.card()).html();
    const summary = await (await join.card('summary')).html();

    const r = runCli(home, ['card', 'view', `${cardRun.pathspec}/join`]);
    expect(r.code).toBe(0);
    const file = join_(home, 'cards', 'CardFlow', cardRun.runId, 'join', join.id, 'default.html');
    expect(r.stdout).toBe(`${file}\n`);
    expect(readFileSync(file, 'utf8')).toBe(dflt);

    const byId = runCli(home, ['card', 'view', join.pathspec, '--id', 'summary']);
    expect(byId.code).toBe(0);
    const summaryFile = join_(home, 'cards', 'CardFlow', cardRun.runId, 'join', join.id, 'summary.html');
    expect(byId.stdout).toBe(`${summaryFile}\n`);
    expect(readFileSync(summaryFile, 'utf8')).toBe(summary);

    const out = join_(home, 'elsewhere', 'nested', 'my card.html');
    const toFile = runCli(home, ['card', 'view', join.pathspec, '--id', 'summary', '--out', out]);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout).toBe(`${out}\n`);
    expect(readFileSync(out, 'utf8')).toBe(summary);

    const toStdout = runCli(home, ['card', 'view', join.pathspec, '--out', '-']);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(dflt);

    // A step with one task needs no task id; a foreach task is named by its id.
    const train = (await tasksOf(cardRun, 'train'))[2]!;
    const one = runCli(home, ['card', 'view', train.pathspec, '--out', '-']);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(await (await train.card()).html());
  });

  test('card view errors: a step with several tasks exits 2 listing them; a missing card exits 1 with NOT_FOUND', async () => {
    const trains = await tasksOf(cardRun, 'train');
    const several = runCli(home, ['card', 'view', `${cardRun.pathspec}/train`]);
    expect(several.code).toBe(2);
    expect(several.stdout).toBe('');
    expect(several.stderr).toContain(
      `Step train of ${cardRun.pathspec} has 4 tasks; name one: tributary card view ${cardRun.pathspec}/train/<task>`,
    );
    for (const t of trains) expect(several.stderr).toContain(`  ${t.pathspec}  `);
    expect(runCli(home, ['card', 'list', `${cardRun.pathspec}/train`]).code).toBe(2);

    const end = await only(cardRun, 'end');
    const missing = runCli(home, ['card', 'view', `${cardRun.pathspec}/end`]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(
      new RegExp(`^error \\[NOT_FOUND\\]: Task ${end.pathspec} has no cards \\(is its step decorated with @card\\?\\)\\.`),
    );
    expect(existsSync(join_(home, 'cards', 'CardFlow', cardRun.runId, 'end'))).toBe(false);

    const join = await only(cardRun, 'join');
    const badId = runCli(home, ['card', 'view', join.pathspec, '--id', 'nope']);
    expect(badId.code).toBe(1);
    expect(badId.stderr).toMatch(
      /^error \[NOT_FOUND\]: Task CardFlow\/\d+\/join\/\d+ has no card with id 'nope': its cards: summary, \(no id\)\./,
    );

    const ids = await only(edge, 'ids');
    const ambiguous = runCli(home, ['card', 'view', ids.pathspec]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/^error \[NOT_FOUND\]: .*has several cards, all with ids: pick one by id \(its cards: a, b\)\./);

    const noAction = runCli(home, ['card', 'show', join.pathspec]);
    expect(noAction.code).toBe(2);
    expect(noAction.stderr).toContain('Unknown card action show: list or view.');
  });
});

describe('issue 14: --with card', () => {
  test("runFlow({ with: ['card'] }) gives every step without @card a default card; steps with their own keep theirs", async () => {
    const plain = await runFlow(TwinPlainFlow, { home, with: ['card'] });
    expect(plain.status).toBe('succeeded');
    for (const step of await plain.steps()) {
      for await (const t of step.tasks()) {
        const cards = await t.cards();
        expect([t.pathspec, cards.map((c) => [c.id, c.type, c.status])]).toEqual([t.pathspec, [[null, 'default', 'succeeded']]]);
        expect(await cards[0]!.html()).toContain(`<dd>${t.pathspec}</dd>`);
      }
    }
    const blank = await runFlow(CardFlow, { home, with: ['card:type=blank'] });
    expect(blank.status).toBe('succeeded');
    // join declares two cards of its own; end declares none and gets the blank one.
    expect((await only(blank, 'join').then((t) => t.cards())).map((c) => c.id)).toEqual(['summary', null]);
    expect((await only(blank, 'end').then((t) => t.cards())).map((c) => c.type)).toEqual(['blank']);
    await expect(runFlow(TwinPlainFlow, { home, with: ['card:colour=red'] })).rejects.toMatchObject({
      code: 'PARAM_INVALID',
      message: expect.stringMatching(/unknown card option/),
    });
    await expect(runFlow(TwinPlainFlow, { home, with: ['card:type=fancy'] })).rejects.toMatchObject({ code: 'PARAM_INVALID' });
    await plain.close();
    await blank.close();
  });

  test('tributary run --with card', () => {
    const r = runCli(home, ['run', 'cli/test/fixtures/issue14-cards.ts', '--flow', 'TwinPlainFlow', '--with', 'card', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const pathspec = r.stdout.trim().split('\n').pop()!;
    const list = runCli(home, ['card', 'list', `${pathspec}/end`]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^\(default\) {2}default {2}succeeded {2}attempt 0/);
  });
});
