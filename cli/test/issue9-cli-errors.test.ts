import { afterEach, describe, expect, test, vi } from 'vitest';

// An error no code path expected (a bug, an untyped throw from a dependency) still gets one line
// with a code and a hint, not a raw stack; TRIBUTARY_DEBUG=1 shows the stack.
vi.mock('../src/cli/load-flow.ts', () => ({
  loadFlow: async () => {
    throw new RangeError('something nobody planned for');
  },
}));

const { main } = await import('../src/cli/main.ts');

function capture() {
  let text = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  return { text: () => text, restore: () => spy.mockRestore() };
}

afterEach(() => {
  delete process.env.TRIBUTARY_DEBUG;
});

describe('issue 9 item 20: unexpected errors', () => {
  test('issue 9 item 20: an unexpected error prints one line with a code and the TRIBUTARY_DEBUG hint, exit 1', async () => {
    const err = capture();
    const code = await main(['show', 'whatever.ts']);
    err.restore();
    expect(code).toBe(1);
    expect(err.text()).toBe(
      'error [UNEXPECTED]: RangeError: something nobody planned for\nThis is not an error Tributary expected; set TRIBUTARY_DEBUG=1 to see its stack trace.\n',
    );
  });

  test('issue 9 item 20: with TRIBUTARY_DEBUG=1 the stack is printed', async () => {
    process.env.TRIBUTARY_DEBUG = '1';
    const err = capture();
    const code = await main(['show', 'whatever.ts']);
    err.restore();
    expect(code).toBe(1);
    expect(err.text()).toMatch(
      /^error \[UNEXPECTED\]: RangeError: something nobody planned for\nRangeError: something nobody planned for\n\s+at /,
    );
  });
});
