/**
 * The project's one atomic writer (src/util/fs.ts): a temp file beside the target created with the final
 * mode, renamed over it; no temp file left behind when the write fails or the process exits mid-write.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFile, tempFilesInFlight, writeFileAtomic } from '../../src/util/fs.js';

const REPO = path.resolve(import.meta.dirname, '../..');
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kcore-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes the content with its mode, says whether it changed anything, and leaves no temp file', async () => {
    const f = path.join(dir, 'key.pem');
    expect(await writeFileAtomic(f, 'secret\n', 0o600)).toBe(true);
    expect(await readFile(f, 'utf8')).toBe('secret\n');
    expect((await stat(f)).mode & 0o777).toBe(0o600);
    expect(await writeFileAtomic(f, 'secret\n', 0o600)).toBe(false);
    expect(await writeFileAtomic(f, 'secret\n', 0o640)).toBe(true);
    expect((await stat(f)).mode & 0o777).toBe(0o640);
    expect(await writeFileAtomic(f, 'other\n', 0o600, { sync: true })).toBe(true);
    expect(await readFile(f, 'utf8')).toBe('other\n');
    expect(await readdir(dir)).toEqual(['key.pem']);
  });

  it('keeps the mode it was asked for whatever the umask (group-writable here, as the umask 022 would strip)', async () => {
    const f = path.join(dir, 'shared');
    const old = process.umask(0o022);
    try {
      await writeFileAtomic(f, 'x', 0o664);
    } finally {
      process.umask(old);
    }
    expect((await stat(f)).mode & 0o777).toBe(0o664);
  });

  it('replaces the target in one step: a reader sees the old or the new file, never a half-written one', async () => {
    const f = path.join(dir, 'big');
    const a = Buffer.alloc(4 << 20, 'a');
    const b = Buffer.alloc(4 << 20, 'b');
    await writeFileAtomic(f, a);
    const writing = writeFileAtomic(f, b);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const got = await readFile(f);
      seen.add(got.equals(a) ? 'old' : got.equals(b) ? 'new' : `torn (${got.length} bytes)`);
    }
    await writing;
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
    expect((await readFile(f)).equals(b)).toBe(true);
  });

  it('names the file when the folder refuses the write (exit 2 material), and leaves no temp file', async () => {
    const blocker = path.join(dir, 'file');
    await writeFile(blocker, 'x');
    await expect(writeFileAtomic(path.join(blocker, 'inside'), 'x')).rejects.toThrow(`cannot write ${path.join(blocker, 'inside')}`);
    expect(await readdir(dir)).toEqual(['file']);
  });
});

describe('replaceFile', () => {
  it('removes the temp file when producing it fails, and keeps the old target', async () => {
    const f = path.join(dir, 'box.tar.gz');
    await writeFile(f, 'old');
    await expect(
      replaceFile(f, async (tmp) => {
        await writeFile(tmp, 'partial');
        throw new Error('tar failed');
      }),
    ).rejects.toThrow('tar failed');
    expect(await readdir(dir)).toEqual(['box.tar.gz']);
    expect(await readFile(f, 'utf8')).toBe('old');
    expect(tempFilesInFlight()).toEqual([]);
  });

  it('removes a temp file still being written when the process exits (a second Ctrl+C calls process.exit)', async () => {
    const target = path.join(dir, 'download.img');
    const script = path.join(dir, 'child.ts');
    await writeFile(
      script,
      [
        `import { writeFile } from 'node:fs/promises';`,
        `import { replaceFile } from ${JSON.stringify(path.join(REPO, 'src/util/fs.ts'))};`,
        `void replaceFile(${JSON.stringify(target)}, async (tmp) => {`,
        `  await writeFile(tmp, 'partial');`,
        `  console.log('TMP ' + tmp);`,
        `  setTimeout(() => process.exit(130), 20);`,
        `  await new Promise(() => undefined);`,
        `});`,
      ].join('\n'),
    );
    const r = await promisify(execFile)(path.join(REPO, 'node_modules/.bin/vite-node'), [script], { cwd: REPO, timeout: 60_000 }).then(
      (ok) => ({ code: 0, stdout: ok.stdout }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(r.code).toBe(130);
    const tmp = /TMP (\S+)/.exec(r.stdout)?.[1];
    expect(tmp, `child output: ${r.stdout}`).toBeDefined();
    expect(path.dirname(tmp!)).toBe(dir);
    expect(existsSync(tmp!)).toBe(false);
    expect(existsSync(target)).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['child.ts']);
  });
});
