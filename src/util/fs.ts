/** Local file writes that are never half-done: write a temp file beside the target, then rename. */
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write `content` to `file` atomically with `mode`. Returns false (and writes nothing) when the file
 * already holds exactly this content and mode.
 */
export async function writeFileAtomic(file: string, content: string | Buffer, mode = 0o644): Promise<boolean> {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  try {
    const old = await readFile(file);
    if (old.equals(buf)) {
      const { stat } = await import('node:fs/promises');
      const st = await stat(file);
      if ((st.mode & 0o777) === mode) return false;
      await chmod(file, mode);
      return true;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, buf, { mode });
    await chmod(tmp, mode); // the umask may have narrowed it
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return true;
}

/** Whether a path exists (any kind of file). */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
