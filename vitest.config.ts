import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests, Ink UI tests, and integration tests against real hosts
// (network namespaces with sshd, systemd-nspawn machines, vagrant-lxc). Integration tests need root.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', globalSetup: ['test/unit/global-setup.ts'], setupFiles: ['test/unit/setup.ts'] } },
      { test: { name: 'ui', include: ['test/ui/**/*.test.{ts,tsx}'], environment: 'node', setupFiles: ['test/ui/setup.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.{ts,tsx}'],
          environment: 'node',
          setupFiles: ['test/integration/setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          // Real hosts share one bridge namespace budget and 2 cores: one file at a time.
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
