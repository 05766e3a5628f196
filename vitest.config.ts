import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'core/test/**/*.test.ts',
      'cli/test/**/*.test.ts',
      'adapters/*/test/**/*.test.ts',
      'conformance/test/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    // Flow tests start worker processes: give them time on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
