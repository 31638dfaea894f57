// Every temporary folder a unit test file makes goes with the file: os.tmpdir() (which mkdtemp callers, the
// helpers' scratchDir() and the children they spawn use) points into a folder of the file's own for its whole
// run, removed after its last test.
import { chmodSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const outer = process.env.TMPDIR;
// Inside the run's folder (test/unit/global-setup.ts), which goes at the end of the run even when this file's
// afterAll does not run (all of its tests filtered out).
const own = mkdtempSync(path.join(process.env.KCORE_UNIT_TMP_ROOT ?? tmpdir(), 'kcore-unit-'));
// As /tmp is: the tests that drop to an unprivileged user (cli-bad-input) make their folders here too.
chmodSync(own, 0o1777);
process.env.TMPDIR = own;
// The CLI's compile cache (Node ≥ 22.8, bin/kcore-wizard.js) goes there too, not into this user's ~/.cache.
const outerCache = process.env.XDG_CACHE_HOME;
process.env.XDG_CACHE_HOME = own;

afterAll(async () => {
  if (outer === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = outer;
  if (outerCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = outerCache;
  await rm(own, { recursive: true, force: true });
});
