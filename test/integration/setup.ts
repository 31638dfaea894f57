// ink-testing-library (the dashboard's real-host test): with CI=true in the environment Ink renders
// nothing to lastFrame(); CI runs with CI=true.
// Tests that must not skip silently under CI read it from KCORE_TEST_CI.
if (process.env.CI) process.env.KCORE_TEST_CI = process.env.CI;
delete process.env.CI;

// Workspaces and artifact mirrors the helpers made (test/support/scratch.ts) go with the file's last test.
import { afterAll } from 'vitest';
import { removeScratch } from '../support/scratch.js';

afterAll(removeScratch);
