import { describe, expect, test } from 'vitest';
import { TributaryError } from '@tributary/core';
import { MAX_SHEBANG_LENGTH, replaceLongShebang, replacePrefix } from '../src/install/prefix-replace.ts';

const PH = '/opt/placeholder_placeholder_placeholder';

describe('replacePrefix', () => {
  test('text: every occurrence, the file may change size', () => {
    const out = replacePrefix(Buffer.from(`#!${PH}/bin/python\nroot=${PH}\nlib=${PH}/lib\n`), PH, '/env', 'text', 'f');
    expect(out.toString()).toBe('#!/env/bin/python\nroot=/env\nlib=/env/lib\n');
  });

  test('text without the placeholder is returned as is', () => {
    const data = Buffer.from('nothing here');
    expect(replacePrefix(data, PH, '/env', 'text', 'f')).toBe(data);
  });

  test('binary: the C string is rewritten and padded with NULs, offsets kept', () => {
    const data = Buffer.concat([
      Buffer.from('\x01\x02'),
      Buffer.from(`${PH}/lib:${PH}/lib64\0`),
      Buffer.from('tail\0'),
      Buffer.from(`${PH}\0`),
    ]);
    const out = replacePrefix(data, PH, '/env', 'binary', 'f');
    expect(out.length).toBe(data.length);
    const pad = PH.length - '/env'.length;
    expect(out).toEqual(
      Buffer.concat([
        Buffer.from('\x01\x02'),
        Buffer.from('/env/lib:/env/lib64'),
        Buffer.alloc(2 * pad + 1),
        Buffer.from('tail\0'),
        Buffer.from('/env'),
        Buffer.alloc(pad + 1),
      ]),
    );
  });

  test('binary: a prefix longer than the placeholder is CONFIG', () => {
    let error: unknown;
    try {
      replacePrefix(Buffer.from(`x${PH}/lib\0`), PH, `/${'e'.repeat(PH.length)}`, 'binary', 'lib/libx.so');
    } catch (e) {
      error = e;
    }
    expect(TributaryError.is(error, 'CONFIG')).toBe(true);
    expect((error as Error).message).toContain('lib/libx.so');
  });

  test('text: a shebang too long for the kernel becomes /usr/bin/env', () => {
    const prefix = `/${'p'.repeat(MAX_SHEBANG_LENGTH)}`;
    const out = replacePrefix(Buffer.from(`#!${PH}/bin/python3 -E\nprint(1)\n`), PH, prefix, 'text', 'f');
    expect(out.toString()).toBe('#!/usr/bin/env python3 -E\nprint(1)\n');
  });

  test('text: a prefix with a space turns the shebang into /usr/bin/env, the rest replaced plainly', () => {
    const out = replacePrefix(Buffer.from(`#!${PH}/bin/perl\nmy $p = "${PH}";\n`), PH, '/my env', 'text', 'f');
    expect(out.toString()).toBe('#!/usr/bin/env perl\nmy $p = "/my env";\n');
  });

  test('short shebangs are left alone', () => {
    const data = Buffer.from('#!/bin/sh\necho\n');
    expect(replaceLongShebang(data)).toBe(data);
  });
});
