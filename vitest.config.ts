import { defineConfig } from 'vitest/config';

// The workspace's own tests run our TypeScript sources: packages resolve to them through the
// `tributary-source` export condition (published packages resolve to their built dist/).
export default defineConfig({
  ssr: { resolve: { conditions: ['tributary-source', 'node'] } },
  test: {
    include: [
      'core/test/**/*.test.ts',
      'cli/test/**/*.test.ts',
      'adapters/*/test/**/*.test.ts',
      'conformance/test/**/*.test.ts',
      'service/test/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    // Flow tests start worker processes: give them time on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
