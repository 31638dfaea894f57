// Mutation testing of the unit tests: `npm run test:mutation` (see the README, "Mutation testing").
// Not part of `npm test` or .ci/run: a full run takes tens of minutes on 2 cores; the incremental file makes
// later runs test only the mutants whose code or covering tests changed.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
  plugins: ['@stryker-mutator/vitest-runner'],
  // The PKI's pure parts only: key generation, signing and the files of ensurePki need real RSA keys in
  // every test, seconds per mutant. The engine's runner and ops are covered by test/unit/runner*.test.ts and
  // ops-mutants.test.ts.
  mutate: [
    'src/spec/**/*.ts',
    '!src/spec/index.ts',
    'src/pki/catalog.ts',
    'src/pki/net.ts',
    'src/pki/paths.ts',
    'src/pki/list.ts',
    'src/pki/ensure.ts:30-40',
    'src/pki/x509.ts:54-65',
    'src/render/**/*.ts',
    '!src/render/index.ts',
    'src/roles/kube-common/render.ts',
    'src/health/probe.ts',
    'src/engine/runner.ts',
    'src/engine/ops.ts',
  ],
  coverageAnalysis: 'perTest',
  // Code that runs only at import time or in beforeAll hooks (the PKI made once per test file) would need a
  // full reload and every test per mutant; those mutants are reported as ignored instead.
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 10_000,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  ignorePatterns: ['dist', '.work', 'coverage', '.vagrant', 'reports'],
  reporters: ['html', 'clear-text', 'json', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  thresholds: { high: 90, low: 80, break: 80 },
};
