import { defineConfig } from 'vitest/config';

// The unit project alone, for mutation testing (stryker.config.mjs): Stryker runs each mutant against the
// unit tests that cover it; the ui and integration projects are too slow to run hundreds of times.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // Left out: cli-bad-input's EPIPE test starts the CLI under vite-node and never ends inside Stryker's
    // sandbox; the others generate real RSA keys (a whole PKI) in beforeAll, which would run again for every
    // mutant they cover. test/unit/pki-mutants.test.ts covers the PKI catalogue without keys.
    exclude: [
      'test/unit/cli-bad-input.test.ts',
      'test/unit/pki.test.ts',
      'test/unit/pki-dryrun.test.ts',
      'test/unit/kube-render.test.ts',
      'test/unit/kubeconfig-command.test.ts',
      'test/unit/api-access-contract.test.ts',
    ],
    // Stryker runs them in one worker thread on a shared machine; tests that start the CLI as a child process
    // (vite-node) need more than the default 5 s there.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
