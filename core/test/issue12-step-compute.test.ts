// Issue 12, item 5: `--with kubernetes|batch[:key=value,...]` for every step; a step's own
// @kubernetes / @batch wins. parseWith reads a --with value; stepComputes decides each step's compute.
import { describe, expect, test } from 'vitest';
import { batch, buildGraph, FlowSpec, kubernetes, resources, step, TributaryError } from '../src/index.ts';
import { parseWith, stepComputes } from '../src/execution/step-compute.ts';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

function paramInvalid(f: () => unknown): TributaryError {
  const err = thrown(f);
  expect(TributaryError.is(err, 'PARAM_INVALID')).toBe(true);
  return err as TributaryError;
}

describe('parseWith', () => {
  test('issue 12 item 5: a bare kind has no settings', () => {
    expect(parseWith('kubernetes')).toEqual({ kind: 'kubernetes', settings: {} });
    expect(parseWith('batch')).toEqual({ kind: 'batch', settings: {} });
    expect(parseWith('batch:')).toEqual({ kind: 'batch', settings: {} });
  });

  test('issue 12 item 5: batch:queue=gpu,memory=16384 parses numbers and keeps strings', () => {
    expect(parseWith('batch:queue=gpu,memory=16384')).toEqual({ kind: 'batch', settings: { queue: 'gpu', memory: 16384 } });
  });

  test('issue 12 item 5: numbers (negative, fractional), booleans, JSON values and strings', () => {
    const { settings } = parseWith(
      'kubernetes:cpu=0.5,gpu=1,offset=-2,spot=true,debug=false,nodeSelector={"pool":"gpu"},secrets=["db"],image=reg.io/img:1.2,name=1.2.3',
    );
    expect(settings).toEqual({
      cpu: 0.5,
      gpu: 1,
      offset: -2,
      spot: true,
      debug: false,
      nodeSelector: { pool: 'gpu' },
      secrets: ['db'],
      image: 'reg.io/img:1.2',
      name: '1.2.3',
    });
    expect(typeof settings.cpu).toBe('number');
    expect(typeof settings.spot).toBe('boolean');
  });

  test('issue 12 item 5: a value that only looks like JSON stays a string; "=" inside a value is kept', () => {
    expect(parseWith('kubernetes:x={not json').settings).toEqual({ x: '{not json' });
    expect(parseWith('kubernetes:image=reg.io/a=b').settings).toEqual({ image: 'reg.io/a=b' });
    expect(parseWith('kubernetes:t=True').settings).toEqual({ t: 'True' });
  });

  test('issue 12 item 5: empty pairs between commas are skipped', () => {
    expect(parseWith('batch:queue=q,,memory=1,').settings).toEqual({ queue: 'q', memory: 1 });
  });

  // Regression (was a bug, fixed in the working tree): the pairs are split on every comma, so a JSON array or object with
  // more than one element (two secrets, a node selector with two labels, a toleration) cannot be given with --with.
  test('issue 12 item 5: JSON values containing commas are kept whole', () => {
    expect(parseWith('kubernetes:secrets=["db","api"],cpu=2').settings).toEqual({ secrets: ['db', 'api'], cpu: 2 });
    expect(parseWith('kubernetes:nodeSelector={"pool":"gpu","zone":"a"}').settings).toEqual({ nodeSelector: { pool: 'gpu', zone: 'a' } });
  });

  test('issue 12 item 5: a pair without "=" or without a key is refused with PARAM_INVALID saying what a pair is', () => {
    for (const bad of ['batch:queue', 'batch:queue=gpu,memory', 'batch:=gpu', 'kubernetes:cpu=2,=3']) {
      const err = paramInvalid(() => parseWith(bad));
      expect(err.message).toContain(bad);
      expect(err.message).toContain('key=value');
    }
  });

  test('issue 12 item 5: an unknown kind is refused with PARAM_INVALID naming the kinds there are', () => {
    for (const bad of ['local', 'Kubernetes', 'k8s:cpu=2', 'aws-batch', '', 'batch2']) {
      const err = paramInvalid(() => parseWith(bad));
      expect(err.message).toContain('kubernetes');
      expect(err.message).toContain('batch');
      expect(err.message).toContain('unknown');
    }
    expect(paramInvalid(() => parseWith('k8s:cpu=2')).message).toContain('k8s');
  });

  test('issue 12 item 5: a value that is not a string is refused with PARAM_INVALID', () => {
    paramInvalid(() => parseWith(3 as unknown as string));
    paramInvalid(() => parseWith(undefined as unknown as string));
  });
});

class Mixed extends FlowSpec {
  @step start() {
    this.next(this.train);
  }
  @kubernetes({ cpu: 4, image: 'own:1' })
  @step
  train() {
    this.next(this.score);
  }
  @batch({ queue: 'cpu-queue' })
  @step
  score() {
    this.next(this.end);
  }
  @step end() {}
}

class Local extends FlowSpec {
  @resources({ cpu: 2 })
  @step
  start() {
    this.next(this.end);
  }
  @step end() {}
}

describe('stepComputes', () => {
  test('issue 12 item 5: --with applies to every step without its own decorator', () => {
    const out = stepComputes(buildGraph(Local), ['kubernetes:cpu=2,namespace=ml']);
    expect(out).toEqual({
      start: { kind: 'kubernetes', settings: { cpu: 2, namespace: 'ml' } },
      end: { kind: 'kubernetes', settings: { cpu: 2, namespace: 'ml' } },
    });
    // Each step has its own copy of the settings.
    expect(out.start!.settings).not.toBe(out.end!.settings);
  });

  test('issue 12 item 5: a step’s own @kubernetes wins and keeps the --with settings it did not set', () => {
    const out = stepComputes(buildGraph(Mixed), ['kubernetes:cpu=1,namespace=ml,image=run:1']);
    expect(out.train).toEqual({ kind: 'kubernetes', settings: { cpu: 4, image: 'own:1', namespace: 'ml' } });
    expect(out.start).toEqual({ kind: 'kubernetes', settings: { cpu: 1, namespace: 'ml', image: 'run:1' } });
    expect(out.end).toEqual({ kind: 'kubernetes', settings: { cpu: 1, namespace: 'ml', image: 'run:1' } });
  });

  test('issue 12 item 5: @batch on a step stays batch under --with kubernetes, with its own settings only', () => {
    const out = stepComputes(buildGraph(Mixed), ['kubernetes:cpu=1,namespace=ml']);
    expect(out.score).toEqual({ kind: 'batch', settings: { queue: 'cpu-queue' } });
  });

  test('issue 12 item 5: under --with batch, @batch steps merge the --with settings and @kubernetes steps stay kubernetes', () => {
    const out = stepComputes(buildGraph(Mixed), ['batch:queue=gpu,memory=16384']);
    expect(out.score).toEqual({ kind: 'batch', settings: { queue: 'cpu-queue', memory: 16384 } });
    expect(out.train).toEqual({ kind: 'kubernetes', settings: { cpu: 4, image: 'own:1' } });
    expect(out.start).toEqual({ kind: 'batch', settings: { queue: 'gpu', memory: 16384 } });
  });

  test('issue 12 item 5: without --with, only decorated steps are remote; the others are local (undefined)', () => {
    const out = stepComputes(buildGraph(Mixed), []);
    expect(out.train).toEqual({ kind: 'kubernetes', settings: { cpu: 4, image: 'own:1' } });
    expect(out.score).toEqual({ kind: 'batch', settings: { queue: 'cpu-queue' } });
    expect(out.start).toBeUndefined();
    expect(out.end).toBeUndefined();

    const local = stepComputes(buildGraph(Local), []);
    expect(local.start).toBeUndefined();
    expect(local.end).toBeUndefined();
  });

  test('issue 12 item 5: two different --with kinds are refused with PARAM_INVALID', () => {
    const err = paramInvalid(() => stepComputes(buildGraph(Local), ['kubernetes', 'batch:queue=q']));
    expect(err.message).toContain('kubernetes');
    expect(err.message).toContain('batch');
  });

  test('issue 12 item 5: a bad --with is refused by stepComputes too', () => {
    paramInvalid(() => stepComputes(buildGraph(Local), ['slurm']));
    paramInvalid(() => stepComputes(buildGraph(Local), ['batch:queue']));
  });

  test('issue 12 item 5: @kubernetes and @batch on one method throw a TypeError (in either order)', () => {
    const a = thrown(() => {
      class Both extends FlowSpec {
        @kubernetes()
        @batch()
        @step
        start() {
          this.next(this.end);
        }
        @step end() {}
      }
      return Both;
    });
    expect(a).toBeInstanceOf(TypeError);
    expect((a as Error).message).toContain('@kubernetes');
    expect((a as Error).message).toContain('@batch');
    const b = thrown(() => {
      class Both extends FlowSpec {
        @batch({ queue: 'q' })
        @kubernetes({ cpu: 1 })
        @step
        start() {
          this.next(this.end);
        }
        @step end() {}
      }
      return Both;
    });
    expect(b).toBeInstanceOf(TypeError);
  });

  test('issue 12 item 5: @kubernetes and @batch settings must be an object', () => {
    expect(() => kubernetes([] as never)).toThrow(TypeError);
    expect(() => batch(null as never)).toThrow(TypeError);
  });
});

test('issue 12 item 5: two --with of the same kind add up their settings (later ones win a key)', () => {
  class TwoWith extends FlowSpec {
    @step start() {
      this.next(this.end);
    }
    @step end() {}
  }
  const out = stepComputes(buildGraph(TwoWith), ['kubernetes:cpu=2,memory=100', 'kubernetes:memory=8192']);
  expect(out.start).toEqual({ kind: 'kubernetes', settings: { cpu: 2, memory: 8192 } });
});
