import { devNull } from 'node:os';
import { describe, expect, test } from 'vitest';
import { TributaryError } from '@tributary/core';
import { pipSourceFlags } from '../src/pip-sources.ts';
import { lockRequirementsFile, specRequirements } from '../src/requirements.ts';
import { pipEnvironment, pipErrorText } from '../src/run-process.ts';

function configError(run: () => unknown): TributaryError {
  try {
    run();
  } catch (error) {
    if (TributaryError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a TributaryError');
}

describe('specRequirements', () => {
  test('a bare version is exact, a specifier list is kept (without blanks), * and empty are any version', () => {
    expect(
      specRequirements({
        a: '2.1.0',
        b: '>=2.1, <3',
        c: '*',
        d: '',
        e: '1.*',
        f: '~=1.4.2',
        g: '!=1.5.*,>1',
        h: '1!2.0rc1.post3.dev4+local.7',
        i: '=== 1.0-foo',
        j: '< 2',
      }),
    ).toEqual([
      'a==2.1.0',
      'b>=2.1,<3',
      'c',
      'd',
      'e==1.*',
      'f~=1.4.2',
      'g!=1.5.*,>1',
      'h==1!2.0rc1.post3.dev4+local.7',
      'i===1.0-foo',
      'j<2',
    ]);
  });

  test('names may have extras', () => {
    expect(specRequirements({ 'requests[socks]': '2.31.0', 'Foo.Bar_baz[x, y-z]': '*' })).toEqual([
      'Foo.Bar_baz[x,y-z]',
      'requests[socks]==2.31.0',
    ]);
  });

  test.each([
    ['rev', 'stats'],
    ['revstats', 'latest'],
    ['a', '2.1.0 ; python_version < "3.12"'],
    ['a', '>=1,'],
    ['a', '>= 1 <2'],
    ['a', '1.0,<2'],
    ['a', '~=1.*'],
    ['a', '@ https://example.com/a.whl'],
    ['a', '>=latest'],
  ])('%s: %s is not a version', (name, version) => {
    const error = configError(() => specRequirements({ [name]: version }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(`Invalid version ${JSON.stringify(version)} for @pypi package ${name}`);
    expect(error.message).toContain('">=2.1,<3"');
  });

  test.each(['rev stats', '-a', 'a-', 'a[', 'a[x', 'a[-x]', 'a==1', 'a @ b', '', 'ä'])('%j is not a package name', (name) => {
    const error = configError(() => specRequirements({ [name]: '1.0' }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(`Invalid @pypi package name ${JSON.stringify(name)}`);
    expect(error.message).toContain('"requests[socks]"');
  });

  test('a lock entry must be a plain name, a version and a sha256', () => {
    const sha256 = 'a'.repeat(64);
    expect(lockRequirementsFile([{ name: 'a', version: '1.0', url: 'file:///a', sha256 }])).toBe(`a==1.0 --hash=sha256:${sha256}\n`);
    expect(configError(() => lockRequirementsFile([{ name: 'a[x]', version: '1.0', url: 'file:///a', sha256 }])).code).toBe('CONFIG');
  });
});

describe('pip sources and environment', () => {
  test('folders are --find-links with --no-index; the first index is --index-url; no sources is PyPI, explicitly', () => {
    expect(pipSourceFlags([])).toEqual(['--index-url', 'https://pypi.org/simple']);
    expect(pipSourceFlags(['/w', 'file:///v'])).toEqual(['--no-index', '--find-links', '/w', '--find-links', 'file:///v']);
    expect(pipSourceFlags(['https://a/simple', '/w', 'http://b/simple'])).toEqual([
      '--index-url',
      'https://a/simple',
      '--extra-index-url',
      'http://b/simple',
      '--find-links',
      '/w',
    ]);
  });

  test("pip's configuration is left out: config files, and every PIP_ variable but how pip connects", () => {
    const env = pipEnvironment({
      PATH: '/bin',
      HTTPS_PROXY: 'http://proxy:3128',
      PIP_CONFIG_FILE: '/etc/pip.conf',
      PIP_CONSTRAINT: '/c.txt',
      PIP_FIND_LINKS: '/other',
      PIP_INDEX_URL: 'https://elsewhere/simple',
      pip_extra_index_url: 'https://more/simple',
      PIP_PRE: '1',
      PIP_NO_INDEX: '1',
      PIP_CERT: '/ca.pem',
      PIP_RETRIES: '1',
    });
    expect(env).toEqual({
      PATH: '/bin',
      HTTPS_PROXY: 'http://proxy:3128',
      PIP_CERT: '/ca.pem',
      PIP_RETRIES: '1',
      PIP_CONFIG_FILE: devNull,
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      PIP_NO_INPUT: '1',
      PYTHONNOUSERSITE: '1',
    });
  });

  test("pip's error text includes its connection warnings, once per distinct warning", () => {
    const retry = (total: number, address: string): string =>
      `WARNING: Retrying (Retry(total=${total}, connect=None, read=None, redirect=None, status=None)) after connection broken by ` +
      `'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at ${address}>: Failed to establish a new connection: ` +
      `[Errno 111] Connection refused')': /simple/revstats/`;
    const stderr = [
      retry(1, '0x7f01'),
      retry(0, '0x7f02'),
      'ERROR: Could not find a version that satisfies the requirement revstats (from versions: none)',
      'ERROR: No matching distribution found for revstats',
    ].join('\n');
    const stdout =
      'Looking in indexes: https://x/simple\nCould not fetch URL https://x/simple/revstats/: There was a problem confirming the ssl certificate\n';
    expect(pipErrorText(stderr, stdout)).toBe(
      [
        'ERROR: Could not find a version that satisfies the requirement revstats (from versions: none)',
        'ERROR: No matching distribution found for revstats',
        'pip could not reach a package index:',
        'Could not fetch URL https://x/simple/revstats/: There was a problem confirming the ssl certificate',
        retry(1, '0x7f01'),
      ].join('\n'),
    );
    expect(pipErrorText('ERROR: No matching distribution found for x\n')).toBe('ERROR: No matching distribution found for x');
    expect(pipErrorText('')).toBe('(pip printed nothing)');
  });
});
