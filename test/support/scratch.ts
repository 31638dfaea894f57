/**
 * Temporary folders made by the test helpers (workspaces, artifact mirrors), removed together: every
 * integration test file calls removeScratch() after its last test (its setup file), the benchmarks in their
 * `finally`; a unit test file's are inside its own temp folder (test/unit/setup.ts), removed with it. A test
 * that removes one itself is fine (force).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made = new Set<string>();

/** A new folder under the system temp dir, removed by removeScratch(). */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes every folder scratchDir() made (in this process, since the last call). */
export async function removeScratch(): Promise<void> {
  const dirs = [...made];
  made.clear();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
