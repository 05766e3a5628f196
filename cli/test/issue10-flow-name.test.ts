/**
 * Issue 10 item 4, end to end: a flow's explicit name is the key of its runs and artifacts, from
 * code and from the CLI, and survives a bundler renaming the class.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createSqliteMetadataStore, resumeFlow, runFlow, TributaryError, type MetadataStore } from '../src/index.ts';
import { runCli } from './cli-process.ts';
import * as named from './fixtures/issue10-named.ts';
import * as minified from './fixtures/issue10-minified.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-i10-name-');
afterAll(cleanup);

const NAMED = 'cli/test/fixtures/issue10-named.ts';
const MINIFIED = 'cli/test/fixtures/issue10-minified.ts';
const COLLISION = 'cli/test/fixtures/issue10-collision.ts';

function openMetadata(h: string): MetadataStore {
  return createSqliteMetadataStore({ path: join(h, 'metadata.sqlite') });
}

/** Top-level folders of the datastore: one per flow name (`.tmp` is the store's own staging). */
function datastoreFolders(h: string): string[] {
  return readdirSync(join(h, 'datastore'))
    .filter((n) => !n.startsWith('.'))
    .sort();
}

async function runIds(h: string, flow: string): Promise<string[]> {
  const md = openMetadata(h);
  try {
    return (await md.listRuns({ flow })).items.map((r) => r.runId);
  } finally {
    await md.close();
  }
}

describe('issue 10 item 4: explicit flow identity, end to end', () => {
  test('issue 10 item 4: runFlow keys metadata and datastore by the explicit name, not the class name', async () => {
    const h = join(home, 'api');
    const run = await runFlow(named.Train, { home: h, maxWorkers: 1 });
    expect(run.status).toBe('succeeded');
    expect(run.flow).toBe('TrainingFlow');
    expect(run.pathspec).toBe(`TrainingFlow/${run.runId}`);
    expect((await run.data()).x).toBe(2);
    expect(await runIds(h, 'TrainingFlow')).toEqual([run.runId]);
    expect(await runIds(h, 'Train')).toEqual([]);
    const record = await run.metadata.getRun('TrainingFlow', run.runId);
    expect((record.graph as { flow: string }).flow).toBe('TrainingFlow');
    expect(datastoreFolders(h)).toEqual(['TrainingFlow']);
    expect(existsSync(join(h, 'datastore', 'TrainingFlow', 'data'))).toBe(true);

    const scored = await runFlow(named.Score, { home: h, maxWorkers: 1 });
    expect(scored.flow).toBe('ScoringFlow');
    expect(await runIds(h, 'ScoringFlow')).toEqual([scored.runId]);
  });

  test('issue 10 item 4: tributary run/runs/show find a flow by its explicit name, export name or class name', () => {
    const h = join(home, 'cli');
    const byName = runCli(h, ['run', NAMED, '--flow', 'TrainingFlow', '--quiet']);
    expect(byName.stderr).toBe('');
    expect(byName.stdout.trim()).toMatch(/^TrainingFlow\/\d+$/);
    const byExport = runCli(h, ['run', NAMED, '--flow', 'Train', '--quiet']);
    expect(byExport.stdout.trim()).toMatch(/^TrainingFlow\/\d+$/);
    const decorated = runCli(h, ['run', NAMED, '--flow', 'ScoringFlow', '--quiet']);
    expect(decorated.stdout.trim()).toMatch(/^ScoringFlow\/\d+$/);

    const runsOfFile = runCli(h, ['runs', NAMED, '--flow', 'Train']);
    expect(runsOfFile.code).toBe(0);
    expect(runsOfFile.stdout.trim().split('\n')).toHaveLength(2);
    for (const line of runsOfFile.stdout.trim().split('\n')) expect(line).toMatch(/^TrainingFlow\/\d+ /);
    expect(runCli(h, ['runs', 'TrainingFlow']).stdout).toBe(runsOfFile.stdout);
    expect(runCli(h, ['runs', 'Train']).stdout).toBe('No runs of Train.\n');
    // ScoringFlow stores no artifact; nothing is kept under a class or export name.
    expect(datastoreFolders(h)).toEqual(['TrainingFlow']);

    const shown = runCli(h, ['show', NAMED, '--flow', 'TrainingFlow', '--format', 'json']);
    expect(JSON.parse(shown.stdout).flow).toBe('TrainingFlow');

    // Score is exported twice (also as default): still one flow.
    const none = runCli(h, ['show', NAMED]);
    expect(none.stderr).toBe(
      `error [FLOW_LOAD]: ${NAMED} exports 2 flows (Score (flow ScoringFlow), Train (flow TrainingFlow)); choose one with --flow <Name>.\n`,
    );
  });

  test('issue 10 item 4: a renamed (minified) class with an explicit name keeps its identity: it resumes the runs of the original', async () => {
    const h = join(home, 'renamed');
    expect(minified.Train.name).toBe('t');
    const failed = runCli(h, ['run', NAMED, '--flow', 'Train', '--env-pass', 'TRIB_FAIL_FIT', '--quiet'], { TRIB_FAIL_FIT: '1' });
    expect(failed.code).toBe(1);
    const [origin] = await runIds(h, 'TrainingFlow');
    expect(origin).toBeDefined();

    // The bundled version (class `t`, exported as Train) resumes it: same flow, same namespace.
    const resumed = await resumeFlow(minified.Train, { home: h, maxWorkers: 1 });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.flow).toBe('TrainingFlow');
    expect(resumed.originRunId).toBe(origin);
    expect(resumed.clonedTasks).toBeGreaterThan(0);
    expect((await resumed.data()).x).toBe(2);

    // Run from code without flowExport: the worker finds the class exported under another name.
    const again = await runFlow(minified.Train, { home: h, maxWorkers: 1 });
    expect(again.status).toBe('succeeded');
    expect(again.flow).toBe('TrainingFlow');

    const cli = runCli(h, ['run', MINIFIED, '--flow', 'TrainingFlow', '--quiet']);
    expect(cli.stdout.trim()).toMatch(/^TrainingFlow\/\d+$/);
    expect(await runIds(h, 'TrainingFlow')).toHaveLength(4);
    expect(datastoreFolders(h)).toEqual(['TrainingFlow']);
  });

  test('issue 10 item 4: a minified class without an explicit name is refused before any run is recorded', async () => {
    const h = join(home, 'minified');
    const err = await runFlow(minified.Anonymous, { home: h }).catch((e: unknown) => e);
    expect(TributaryError.is(err, 'CONFIG')).toBe(true);
    expect((err as Error).message).toMatch(/^Flow class "e" has a 1–2 character name, which looks minified\./);
    expect((err as Error).message).toContain("static flowName = 'TrainFlow'");
    expect(await runIds(h, 'e')).toEqual([]);

    const cli = runCli(h, ['run', MINIFIED, '--flow', 'Anonymous']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(
      /^error \[CONFIG\]: Flow class "e" has a 1–2 character name, which looks minified\. .*static flowName = 'TrainFlow'/,
    );
  });

  test('issue 10 item 4: two different flows of one file with one name are refused', () => {
    const h = join(home, 'collision');
    for (const flow of ['TrainFlow', 'EvalFlow']) {
      const r = runCli(h, ['show', COLLISION, '--flow', flow]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `error [CONFIG]: ${COLLISION} exports two different flows named TrainFlow: EvalFlow and TrainFlow. ` +
          "A flow's name keys its runs and artifacts, so each flow needs its own: give one of them another name (static flowName = '...').\n",
      );
    }
    expect(existsSync(join(h, 'metadata.sqlite'))).toBe(false);
  });
});
