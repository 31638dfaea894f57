// The upload script, run by this machine's /bin/sh exactly as sshd would run it on a host: however it is
// stopped mid-transfer (TERM from a timeout or abort, the client going away: end of input then SIGPIPE on its
// closed output, HUP), it leaves no `.kcore-upload.*` temp file; and the first upload into a directory during
// a run deletes the temps an earlier run left there (ours only, older than the run). The same script on real
// systemd hosts, over SSH, with aborts and a killed client: test/integration/ssh-interrupts.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UPLOAD_TEMP_PREFIX, statScript, sweepTempsLine, uploadScript } from '../../src/ssh/scripts.js';

const root = mkdtempSync(join(tmpdir(), 'kcore-upload-script-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const content = randomBytes(4 * 1024 * 1024);
const sha = createHash('sha256').update(content).digest('hex');

function freshDir(): string {
  return mkdtempSync(join(root, 'd-'));
}

function temps(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(UPLOAD_TEMP_PREFIX));
}

/** The script in its own process group (as a session is), stdin/stdout/stderr piped. */
function start(script: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null }> } {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => undefined);
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, done };
}

/** Waits (bounded) until the temp file exists and holds some bytes: the transfer is under way. */
async function untilTransferring(dir: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const t = temps(dir);
    if (t.length === 1 && readFileSync(join(dir, t[0]!)).length > 0) return t[0]!;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no temp file with content appeared in ${dir}`);
}

function script(dir: string, extra: Partial<Parameters<typeof uploadScript>[0]> = {}): string {
  return uploadScript({ path: join(dir, 'kubelet'), mode: 0o755, sha256: sha, tempId: randomBytes(8).toString('hex'), ...extra });
}

describe('an upload stopped mid-transfer removes its temp file', () => {
  it('TERM to the session (what a timeout or an abort sends, to every process of the command)', async () => {
    const dir = freshDir();
    const { child, done } = start(script(dir));
    child.stdin!.write(content.subarray(0, 1024 * 1024));
    await untilTransferring(dir);
    process.kill(-child.pid!, 'SIGTERM');
    const r = await done;
    expect(r).toEqual({ code: 143, signal: null });
    expect(temps(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('the client went away: end of input, then SIGPIPE writing to the closed stderr', async () => {
    const dir = freshDir();
    const { child, done } = start(script(dir));
    child.stdin!.write(content.subarray(0, 1024 * 1024));
    await untilTransferring(dir);
    child.stderr!.destroy();
    child.stdout!.destroy();
    child.stdin!.end();
    const r = await done;
    expect(r.code).toBe(141);
    expect(temps(dir)).toEqual([]);
  });

  it('HUP (sshd hanging up the session) with the input closed', async () => {
    const dir = freshDir();
    const { child, done } = start(script(dir));
    child.stdin!.write(content.subarray(0, 512 * 1024));
    await untilTransferring(dir);
    process.kill(-child.pid!, 'SIGHUP');
    child.stdin!.end();
    const r = await done;
    expect(r.code).toBe(129);
    expect(temps(dir)).toEqual([]);
  });

  it('a complete upload still lands, with its mode, and no temp', async () => {
    const dir = freshDir();
    const { child, done } = start(script(dir));
    child.stdin!.end(content);
    expect((await done).code).toBe(0);
    expect(readdirSync(dir)).toEqual(['kubelet']);
    expect(createHash('sha256').update(readFileSync(join(dir, 'kubelet'))).digest('hex')).toBe(sha);
  });
});

describe('stale temps of earlier runs are swept from the directory written to', () => {
  function seed(dir: string): void {
    const hourAgo = Date.now() / 1000 - 3600;
    for (const f of ['.kcore-upload.0123456789abcdef', '.kcore-upload.deadbeefdeadbeef', '.kcore-upload.notours', 'keep-me']) {
      writeFileSync(join(dir, f), 'x');
      utimesSync(join(dir, f), hourAgo, hourAgo);
    }
    // Written during this run (another upload in flight): never touched.
    writeFileSync(join(dir, '.kcore-upload.feedfacefeedface'), 'in flight');
  }
  const left = ['.kcore-upload.feedfacefeedface', '.kcore-upload.notours', 'keep-me'];

  it('by the upload script (small files: before the unchanged check, so a no-op run sweeps too)', async () => {
    const dir = freshDir();
    seed(dir);
    writeFileSync(join(dir, 'kubelet'), content, { mode: 0o755 });
    const { child, done } = start(script(dir, { checkFirst: true, sweepOlderThanSec: 60 }));
    child.stdin!.end(content);
    expect((await done).code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([...left, 'kubelet'].sort());
  });

  it('by the stat that large uploads start with', async () => {
    const dir = freshDir();
    seed(dir);
    const { child, done } = start(statScript(join(dir, 'kubelet'), 60));
    child.stdin!.end();
    expect((await done).code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(left);
  });

  it('not when not asked (later uploads into the same directory in the same run)', async () => {
    const dir = freshDir();
    seed(dir);
    const { child, done } = start(statScript(join(dir, 'kubelet')));
    child.stdin!.end();
    expect((await done).code).toBe(0);
    expect(readdirSync(dir)).toHaveLength(5);
  });

  it('refuses a non-positive age', () => {
    expect(() => sweepTempsLine(0)).toThrow(/positive integer/);
  });
});
