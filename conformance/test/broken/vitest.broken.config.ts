import { defineConfig } from 'vitest/config';

// Runs the conformance suites against deliberately broken adapters (see ../suite-catches-broken.test.ts).
export default defineConfig({
  test: { include: ['conformance/test/broken/*.broken.ts'], testTimeout: 60_000, pool: 'forks' },
});
