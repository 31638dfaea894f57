/**
 * `<workspace>/pki/archive/<UTC time>/`: where certificates the cluster no longer uses go (a removed
 * node's, the old CA after a rotation). Moved, never deleted: a key keeps its 0600 mode, the folders
 * are 0700 like the rest of the store. Only rename(2) within the store, so a move is atomic per file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, KEY_MODE } from './store.js';

export const ARCHIVE_DIR = 'archive';

/** `2026-12-02T04-39-14Z`: sortable, and a valid file name everywhere (no colons). */
export function utcStamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** A folder under pki/archive/ named after `now` that does not exist yet (`-2`, `-3` … within one second). */
export async function newArchiveDir(root: string, now: Date): Promise<string> {
  const base = path.join(root, ARCHIVE_DIR, utcStamp(now));
  await ensurePrivateDir(path.dirname(base));
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    try {
      await fs.mkdir(dir, { mode: 0o700 });
      await fs.chmod(dir, 0o700);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Moves `<root>/<rel>` to `<dir>/<rel>` (creating sub-folders 0700). A file that does not exist is
 * skipped; returns whether it moved. A `.key` is made 0600 whatever it was before.
 */
export async function moveIntoArchive(root: string, dir: string, rel: string): Promise<boolean> {
  const from = path.join(root, rel);
  const to = path.join(dir, rel);
  try {
    await fs.access(from);
  } catch {
    return false;
  }
  await ensurePrivateDir(path.dirname(to));
  if (rel.endsWith('.key')) await fs.chmod(from, KEY_MODE);
  await fs.rename(from, to);
  return true;
}
