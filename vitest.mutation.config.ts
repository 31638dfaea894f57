import { defineConfig } from 'vitest/config';

// The unit project alone, for mutation testing (stryker.config.mjs): Stryker runs each mutant against the
// unit tests that cover it; the ui and integration projects are too slow to run hundreds of times.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // Its EPIPE test starts the CLI under vite-node and never ends inside Stryker's sandbox; its other tests
    // drive the CLI, which the spec tests below it already cover more precisely.
    exclude: ['test/unit/cli-bad-input.test.ts'],
    environment: 'node',
    // Stryker runs them in one worker thread on a shared machine; tests that start the CLI as a child process
    // (vite-node) need more than the default 5 s there.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
