/**
 * Local file writes that are never half-done: the one atomic writer of the project. Every write goes to
 * a temp file beside the target (same folder, so the rename is atomic), created with its final mode (a key
 * is never readable by others, even for an instant), then renamed over the target. A temp file is
 * removed when its write fails, and every temp file still in flight is removed when the process exits,
 * however it exits (a second Ctrl+C calls process.exit): no temp file outlives its command.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, rmSync, type Stats } from 'node:fs';
import { access, chmod, mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../spec/errors.js';

/** Temp files being written right now, removed on exit if their command never finished them. */
const inFlight = new Set<string>();
let exitHooked = false;

function removeInFlight(): void {
  for (const f of inFlight) rmSync(f, { force: true });
  inFlight.clear();
}

/** The temp files still in flight (for tests). */
export function tempFilesInFlight(): string[] {
  return [...inFlight];
}

/** Temp files are named `.<name>.<random>.tmp` beside the target. */
export const TEMP_FILE_PATTERN = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Run `produce(tmp)` to write a temp file beside `file`, then rename it over `file`. The temp file is
 * removed when `produce` or the rename fails, and on process exit while it is in flight. For content
 * that is streamed or written by another program (downloads, `tar`); `writeFileAtomic` for bytes.
 */
export async function replaceFile<T>(file: string, produce: (tmp: string) => Promise<T>): Promise<T> {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', removeInFlight);
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  inFlight.add(tmp);
  try {
    const out = await produce(tmp);
    await rename(tmp, file);
    return out;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    inFlight.delete(tmp);
  }
}

export interface WriteOptions {
  /** fsync the temp file before the rename (certificates and keys: a crash leaves the old or the new file). */
  sync?: boolean;
}

/**
 * Write `content` to `file` atomically with `mode`. Returns false (and writes nothing) when the file
 * already holds exactly this content and mode. Errors the user can fix (permissions, read-only file
 * system, a file where a folder should be) are UsageErrors that name the file (exit 2).
 */
export async function writeFileAtomic(file: string, content: string | Buffer, mode = 0o644, opts: WriteOptions = {}): Promise<boolean> {
  try {
    return await writeFileAtomicRaw(file, content, mode, opts);
  } catch (e) {
    throw writeError(file, e);
  }
}

/** A write refused by the file system (permissions, read-only, a file where a folder should be) is the user's to fix: exit 2. */
export function writeError(file: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const dir = path.dirname(file);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`cannot write ${file}: permission denied; make ${dir} writable for you, or use another workspace folder`);
  if (code === 'EROFS') return new UsageError(`cannot write ${file}: the file system is read-only; use another workspace folder`);
  if (code === 'ENOTDIR') return new UsageError(`cannot write ${file}: a part of ${dir} is a file, not a folder; give a folder as the workspace`);
  if (code === 'EISDIR') return new UsageError(`cannot write ${file}: it is a folder; move it away`);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new UsageError(`cannot write ${file}: no space left on the device`);
  return e instanceof Error ? e : new Error(String(e));
}

async function writeFileAtomicRaw(file: string, content: string | Buffer, mode: number, opts: WriteOptions): Promise<boolean> {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  try {
    const old = await readFile(file);
    if (old.equals(buf)) {
      const st = await stat(file);
      if ((st.mode & 0o777) === mode) return false;
      await chmod(file, mode);
      return true;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(path.dirname(file), { recursive: true });
  await replaceFile(file, async (tmp) => {
    // 'wx': a new file, created with the final mode; never an existing one followed through a link.
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(buf);
      await fh.chmod(mode); // the umask may have narrowed it (0644 for certificates)
      if (opts.sync) await fh.sync();
    } finally {
      await fh.close();
    }
  });
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

/** A local input file that cannot be read as text: the message names the file and what to do (exit 2). */
export class InputFileError extends UsageError {
  constructor(
    readonly file: string,
    readonly code: 'ENOENT' | 'EISDIR' | 'ENOTREG' | 'ELOOP' | 'EACCES' | 'ENOTDIR' | 'TOOBIG' | 'BINARY' | 'EIO',
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'InputFileError';
  }
}

/** Size cap for the text files kcore-wizard reads (kcore.yaml, ssh.config …): far above any real one. */
export const MAX_INPUT_BYTES = 1024 * 1024;

/**
 * Read a small local text file that the user controls, refusing safely whatever sits at that path:
 * a folder, a FIFO (opened non-blocking, so it never hangs), a device such as /dev/zero, a symlink
 * loop, an unreadable file, a file over `maxBytes`, or binary content. Every refusal is an
 * InputFileError (exit 2) that names the file and says what to do; `what` names the file's role.
 */
export async function readInputFile(file: string, opts: { what?: string; maxBytes?: number } = {}): Promise<string> {
  const what = opts.what ?? 'this file';
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  const fail = (code: InputFileError['code'], msg: string) => new InputFileError(file, code, msg);
  const fromErrno = (e: unknown): Error => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('ENOENT', `does not exist`);
    if (code === 'EISDIR') return fail('EISDIR', `is a folder, not a file: ${what} must be a regular file`);
    if (code === 'ELOOP') return fail('ELOOP', `is a symbolic link that points back to itself (a loop): replace it with ${what}`);
    if (code === 'EACCES' || code === 'EPERM') return fail('EACCES', `cannot be read (permission denied): check the permissions of the file and its folders`);
    if (code === 'ENOTDIR') return fail('ENOTDIR', `a part of this path is a file, not a folder`);
    return e instanceof Error ? e : new Error(String(e));
  };
  let fh: FileHandle;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw fail('EISDIR', `is a folder, not a file: ${what} must be a regular file`);
    if (!st.isFile()) throw fail('ENOTREG', `is not a regular file (${kindOf(st)}): ${what} must be a regular file`);
    // O_NONBLOCK: should the path turn into a FIFO between stat and open, open still returns at once.
    fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    throw e instanceof InputFileError ? e : fromErrno(e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fail('ENOTREG', `is not a regular file (${kindOf(st)}): ${what} must be a regular file`);
    if (st.size > max) throw fail('TOOBIG', `is ${st.size} bytes, more than the ${max} bytes ${what} can be: is it the right file?`);
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n >= buf.length) throw fail('TOOBIG', `is more than ${max} bytes, more than ${what} can be: is it the right file?`);
    }
    const data = buf.subarray(0, n);
    if (data.includes(0)) throw fail('BINARY', `holds binary data (NUL bytes), not text: is it the right file?`);
    return data.toString('utf8');
  } catch (e) {
    throw e instanceof InputFileError ? e : fromErrno(e);
  } finally {
    await fh.close();
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
