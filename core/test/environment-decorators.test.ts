import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildGraph, conda, FlowSpec, npm, pypi, pypiBase, step } from '../src/index.ts';

const envOf = (flow: new () => FlowSpec, s: string) => buildGraph(flow).nodes[s]!.decorators.environment;

describe('environment decorators', () => {
  test('a misspelt or foreign option is refused when the class is defined, naming the options there are', () => {
    expect(() => pypi({ pyhton: '3.11' } as never)).toThrow(
      '@pypi has no option "pyhton": its options are packages, python, sources, disabled.',
    );
    expect(() => npm({ python: '3.11' } as never)).toThrow(
      '@npm has no option "python": its options are packages, node, sources, disabled.',
    );
    expect(() => conda({ sources: ['x'] } as never)).toThrow('@conda has no option "sources"');
    expect(() => pypi({ packages: ['numpy'] } as never)).toThrow('packages is an object of name → version');
    expect(() => pypi({ sources: 'wheels' } as never)).toThrow('sources is a list of URLs or folders');
  });

  test('disabled: true runs a step without the flow default; it takes no other option and means nothing on a Base', () => {
    @pypiBase({ packages: { numpy: '2.1.0' } })
    class Opted extends FlowSpec {
      @step start() {
        this.next(this.plain);
      }
      @pypi({ disabled: true }) @step plain() {
        this.next(this.end);
      }
      @step end() {}
    }
    expect(envOf(Opted, 'start')).toMatchObject({ kind: 'pypi', packages: { numpy: '2.1.0' } });
    expect(envOf(Opted, 'plain')).toBeUndefined();
    expect(envOf(Opted, 'end')).toMatchObject({ kind: 'pypi' });
    expect(() => pypi({ disabled: true, packages: { a: '1' } })).toThrow('give no other option');
    expect(() => pypiBase({ disabled: true })).toThrow('means nothing');
  });

  test('two environments on a step: the same kind twice, or two kinds, each with its own advice', () => {
    expect(() => {
      class Twice extends FlowSpec {
        @pypi({ packages: { a: '1' } }) @pypi({ packages: { b: '1' } }) @step start() {}
      }
      return Twice;
    }).toThrow('Step start has @pypi twice: keep one, with all its packages.');
    expect(() => {
      class Two extends FlowSpec {
        @npm({ packages: { a: '1' } }) @pypi({ packages: { b: '1' } }) @step start() {}
      }
      return Two;
    }).toThrow('kinds are not combined');
  });

  test('relative folders become absolute from the working directory; URLs and channel names stay as given', () => {
    class Sources extends FlowSpec {
      @pypi({ packages: { a: '1' }, sources: ['fx/wheels', './w2', '/abs/w3', 'https://pypi.example/simple'] }) @step start() {
        this.next(this.end);
      }
      @conda({ packages: { b: '1' }, channels: ['conda-forge', '../channel', 'https://conda.example/c'] }) @step end() {}
    }
    expect(envOf(Sources, 'start')).toMatchObject({
      sources: [join(process.cwd(), 'fx/wheels'), join(process.cwd(), 'w2'), '/abs/w3', 'https://pypi.example/simple'],
    });
    expect(envOf(Sources, 'end')).toMatchObject({ sources: ['conda-forge', join(process.cwd(), '../channel'), 'https://conda.example/c'] });
  });
});
