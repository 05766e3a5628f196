/**
 * What `@card` costs: a 100-split foreach (103 tasks) with no card, with a default card on every
 * step, and with a default card plus a table and a line chart in every split. Runs alternate
 * between the three flows (so drift in the machine affects them alike); the table shows medians
 * and the ratio to the flow without cards, measured in this same process and run.
 *
 *   pnpm --filter @tributary/benchmarks bench:cards
 *   BENCH_RUNS=7 BENCH_SPLITS=100 ...
 *
 * Cards render in the task's own worker (no extra process); the cost is rendering the HTML and
 * one content-addressed write per card. Each run has its own home, on local files + SQLite, with
 * the default warm worker pool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFlow, type FlowSpec } from 'tributary';
import { CardedFanOutFlow, ChartedFanOutFlow, FanOutFlow } from './flows.ts';
import { median, printTable } from './table.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SPLITS = Number(process.env.BENCH_SPLITS ?? 100);
const TASKS = SPLITS + 3;
const root = mkdtempSync(join(tmpdir(), 'tributary-card-bench-'));

const flows: Array<{ label: string; flow: new () => FlowSpec }> = [
  { label: 'no @card', flow: FanOutFlow },
  { label: '@card() on every step (default card)', flow: CardedFanOutFlow },
  { label: 'default card + Table + LineChart per split', flow: ChartedFanOutFlow },
];

interface Sample {
  wallMs: number;
  cards: number;
  cardBytes: number;
}

async function once(flow: new () => FlowSpec, i: number): Promise<Sample> {
  const home = mkdtempSync(join(root, `run-${i}-`));
  const t0 = performance.now();
  const run = await runFlow(flow, { home, params: { splits: SPLITS }, maxNumSplits: SPLITS });
  const wallMs = performance.now() - t0;
  run.throwIfFailed();
  let cards = 0;
  let cardBytes = 0;
  for (const step of await run.steps())
    for await (const t of step.tasks())
      for (const c of await t.cards()) {
        cards++;
        cardBytes += c.size;
      }
  await run.close();
  rmSync(home, { recursive: true, force: true });
  return { wallMs, cards, cardBytes };
}

const samples = flows.map(() => [] as Sample[]);
// One warm-up round (module loading, esbuild's first bundle), not counted.
for (const [i, f] of flows.entries()) await once(f.flow, -1 - i);
for (let r = 0; r < RUNS; r++) for (const [i, f] of flows.entries()) samples[i]!.push(await once(f.flow, r * 10 + i));

const base = median(samples[0]!.map((s) => s.wallMs));
printTable(
  `@card cost: ${SPLITS}-split foreach (${TASKS} tasks), median of ${RUNS} runs each, interleaved`,
  ['flow', 'cards stored', 'KB per card', 'run ms', 'vs no card', 'ms per carded task'],
  flows.map((f, i) => {
    const s = samples[i]!;
    const ms = median(s.map((x) => x.wallMs));
    const cards = s[0]!.cards;
    return [
      f.label,
      cards,
      cards ? (s[0]!.cardBytes / cards / 1024).toFixed(1) : '—',
      ms.toFixed(0),
      `${(ms / base).toFixed(2)}x`,
      cards ? ((ms - base) / cards).toFixed(2) : '—',
    ];
  }),
);
console.log(
  `\nMetaflow renders each card in a second Python process after the task (measured on this machine when issue 14 was filed: +0.5 s per carded task); here cards render in the task's own worker.`,
);
rmSync(root, { recursive: true, force: true });
