import { promises as fs } from 'node:fs';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;
export const DIR_MODE = 0o700;

/** Reads a PEM file; null when it does not exist. Other errors propagate. */
export async function readPem(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Creates the directory (and parents) and makes sure it is 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
  const st = await fs.stat(dir);
  if ((st.mode & 0o777) !== DIR_MODE) await fs.chmod(dir, DIR_MODE);
}
