// One folder for the whole unit run, made before any test file starts and removed when the run ends: every
// file's own temporary folder (test/unit/setup.ts) is made inside it. A file whose tests are all filtered
// out (`vitest run -t …`) runs none of its hooks, so its own afterAll never removes its folder: this does.
import { chmodSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'kcore-unit-run-'));
  // Passable (not listable) by the unprivileged user some tests drop to: their folders are in the files' own.
  chmodSync(root, 0o711);
  // Read by test/unit/setup.ts in the test workers, which inherit this process's environment.
  process.env.KCORE_UNIT_TMP_ROOT = root;
  return async () => {
    delete process.env.KCORE_UNIT_TMP_ROOT;
    await rm(root, { recursive: true, force: true });
  };
}
