import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from './cli-process.ts';
import { tempHome } from './helpers.ts';

/** Issue 13 on the command line: tag add|remove|replace|list, --namespace, runs filters, all through the client. */

const { home, cleanup } = tempHome();
afterAll(cleanup);
const FLOWS = 'cli/test/fixtures/issue9-cli.ts';
const as = (user: string, ...args: string[]) => runCli(home, args, { TRIBUTARY_USER: user });

let alice = '';
let bob = '';

beforeAll(() => {
  alice = as('alice', 'run', FLOWS, '--flow', 'FlagsFlow', '--quiet', '--tag', 'nightly').stdout.trim();
  bob = as('bob', 'run', FLOWS, '--flow', 'FlagsFlow', '--quiet').stdout.trim();
  expect(alice).toMatch(/^FlagsFlow\/\d+$/);
  expect(bob).toMatch(/^FlagsFlow\/\d+$/);
});

describe('issue 13: tributary tag, --namespace and runs filters', () => {
  test('runs shows every namespace by default, one user with --namespace user:<name>, and filters by tag, user and status', () => {
    const all = as('carol', 'runs', 'FlagsFlow');
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`${alice} `);
    expect(all.stdout).toContain(`${bob} `);
    expect(all.stdout).toMatch(/by alice {2}tags: nightly/);
    // Newest first.
    expect(all.stdout.indexOf(bob)).toBeLessThan(all.stdout.indexOf(alice));

    const mine = as('carol', 'runs', 'FlagsFlow', '--namespace', 'user:alice');
    expect(mine.stdout).toContain(alice);
    expect(mine.stdout).not.toContain(bob);
    expect(as('carol', 'runs', 'FlagsFlow', '--user', 'bob').stdout).not.toContain(alice);
    expect(as('carol', 'runs', 'FlagsFlow', '--tag', 'nightly').stdout.trim().split('\n')).toHaveLength(1);
    expect(as('carol', 'runs', 'FlagsFlow', '--status', 'failed').stdout).toMatch(/^No runs of FlagsFlow that match\./);
    // The environment sets the default namespace; a hidden run is pointed at.
    const env = runCli(home, ['runs', 'FlagsFlow'], { TRIBUTARY_NAMESPACE: 'user:nobody' });
    expect(env.stdout).toBe('No runs of FlagsFlow in namespace user:nobody. Other namespaces have some: --namespace global shows them.\n');
    expect(runCli(home, ['runs', 'FlagsFlow', '--namespace', 'global'], { TRIBUTARY_NAMESPACE: 'user:nobody' }).stdout).toContain(alice);

    const json = JSON.parse(as('carol', 'runs', 'FlagsFlow', '--json').stdout);
    expect(json.runs.map((r: { pathspec: string }) => r.pathspec)).toEqual([bob, alice]);
    expect(json.runs[1].systemTags).toContain('user:alice');

    const bad = as('carol', 'runs', 'FlagsFlow', '--status', 'done');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--status must be one of running, succeeded, failed, aborted/);
  });

  test('tag add, remove, replace and list change user tags; a system tag is refused and nothing changes', () => {
    let r = as('alice', 'tag', 'add', alice, 'candidate', 'v1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tags: {8}nightly, candidate, v1|tags: {8}(?=.*nightly)(?=.*candidate)(?=.*v1)/);
    r = as('alice', 'tag', 'replace', alice, 'candidate', 'production');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('candidate');
    expect(r.stdout).toContain('production');
    r = as('alice', 'tag', 'replace', alice, 'v1', 'nightly', '--to', 'v2');
    expect(JSON.parse(as('alice', 'tag', 'list', alice, '--json').stdout).tags.sort()).toEqual(['production', 'v2']);
    r = as('alice', 'tag', 'remove', alice, 'v2');
    expect(r.code).toBe(0);

    const refused = as('alice', 'tag', 'remove', alice, 'user:alice');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error \[CONFLICT\]: .*user:alice.*system tag/);
    const listed = JSON.parse(as('alice', 'tag', 'list', alice, '--json').stdout);
    expect(listed.tags).toEqual(['production']);
    expect(listed.systemTags).toContain('user:alice');

    // A tag is a namespace too.
    const tagged = as('carol', 'runs', 'FlagsFlow', '--namespace', 'production');
    expect(tagged.stdout).toContain(alice);
    expect(tagged.stdout).not.toContain(bob);

    // Every tag of the flow's runs, with counts.
    as('bob', 'tag', 'add', bob, 'production');
    expect(as('carol', 'tag', 'list', 'FlagsFlow').stdout).toBe('production  (2 runs)\n');

    // In a namespace the run is not in, the run is refused, not silently changed.
    const outside = as('carol', 'tag', 'add', bob, 'x', '--namespace', 'user:alice');
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/^error \[NAMESPACE_MISMATCH\]: Run FlagsFlow\/\d+ is not in namespace user:alice/);
  });

  test('tag usage errors exit 2 and say what to type', () => {
    expect(as('a', 'tag').code).toBe(2);
    expect(as('a', 'tag', 'frob', alice).stderr).toMatch(/Unknown tag action frob: add, remove, replace or list/);
    expect(as('a', 'tag', 'add', alice).stderr).toMatch(/tag add needs at least one tag/);
    expect(as('a', 'tag', 'replace', alice, 'only-one').stderr).toMatch(/tag replace takes <old> <new>/);
    expect(as('a', 'tag', 'add', 'FlagsFlow/abc', 'x').stderr).toMatch(/the run segment "abc" is not a run id/);
  });

  test('dump and logs read any namespace by default and honour --namespace', () => {
    expect(as('carol', 'dump', `${bob}/start`).code).toBe(0);
    const refused = as('carol', 'logs', `${bob}/start`, '--namespace', 'user:alice');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/NAMESPACE_MISMATCH/);
    expect(as('carol', 'logs', `${bob}/start`, '--namespace', 'user:bob').stdout).toContain('dry=false');
  });
});
