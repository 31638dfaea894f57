// The building blocks of role tasks (src/engine/ops.ts): their probe scripts run for real in a local
// shell against files in a temp dir (tests run as root, as the engine does with sudo), their parsers,
// plans and the commands apply sends, recorded by a fake connection. Found by `npm run test:mutation`;
// the same tasks are proven on real hosts in test/integration (engine, etcd).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchScript, directoryTask, lastWords, fileDiff, filesTask, parseStat, serviceTask, sha256, splitBatch, STAMP_MIN_BYTES, statScript, systemUserTask, waitFor, type FileSpec } from '../../src/engine/ops.js';
import { TaskFailure, type Task, type TaskContext } from '../../src/engine/task.js';
import type { HostConnection } from '../../src/ssh/types.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kc-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sh = (script: string, input = '', env: NodeJS.ProcessEnv = process.env) => {
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', input, env });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status ?? -1 };
};
const hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** A task context whose connection runs exec in a local shell and records run/upload. */
function fakeCtx(notified: string[] = []) {
  const signal = new AbortController().signal;
  const rec = { execs: [] as string[], runs: [] as Array<{ cmd: string; opts: unknown }>, uploads: [] as Array<{ file: Record<string, unknown>; opts: unknown }>, output: [] as string[], notes: [] as string[] };
  const conn = {
    exec: async (cmd: string) => {
      rec.execs.push(cmd);
      return { ...sh(cmd), durationMs: 0 };
    },
    run: async (cmd: string, opts: unknown) => {
      rec.runs.push({ cmd, opts });
      return { stdout: '', stderr: '', exitCode: 0, durationMs: 0 };
    },
    upload: async (file: Record<string, unknown>, opts: unknown) => {
      rec.uploads.push({ file, opts });
      return {};
    },
  } as unknown as HostConnection;
  const ctx = {
    conn,
    signal,
    output: (l: string) => void rec.output.push(l),
    notify: (h: string) => void rec.notes.push(h),
    notified: (h: string) => notified.includes(h),
  } as unknown as TaskContext;
  return { ctx, rec, signal };
}

async function gatherPlan<G>(t: Task<G>, ctx: TaskContext) {
  const g = await t.gather(ctx);
  return { g, plan: t.plan!(ctx, g) };
}

describe('batchScript and splitBatch in a real shell', () => {
  it('frames each probe (stdout, stderr, exit status); an exit ends only its own probe', () => {
    const script = batchScript(['echo one; echo warn >&2; exit 3', 'printf two', 'true', 'printf late >&2'], 'n0nce');
    const r = sh(script);
    expect(r.exitCode).toBe(0);
    expect(splitBatch(r.stdout, r.stderr, 4, 'n0nce')).toEqual([
      { stdout: 'one\n', stderr: 'warn\n', exitCode: 3 },
      { stdout: 'two', stderr: '', exitCode: 0 },
      { stdout: '', stderr: '', exitCode: 0 },
      { stdout: '', stderr: 'late', exitCode: 0 },
    ]);
    // What sudo printed before the batch ran belongs to no probe.
    expect(splitBatch(r.stdout, `sudo: unable to resolve host h1\n${r.stderr}`, 4, 'n0nce')).toEqual(splitBatch(r.stdout, r.stderr, 4, 'n0nce'));
  });

  it('starts no process of its own: no temp file, no cat, no rm (a counting PATH)', () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'kcore-exec-count-'));
    try {
      const count = path.join(bin, 'count');
      for (const tool of ['cat', 'mktemp', 'rm']) writeFileSync(path.join(bin, tool), `#!/bin/sh\necho ${tool} >> ${count}\nexec /bin/${tool} "$@"\n`, { mode: 0o755 });
      const r = sh(batchScript(['echo one; echo warn >&2', 'true', 'echo two', 'echo late >&2; exit 1'], 'c4t'), '', { ...process.env, PATH: `${bin}:${process.env.PATH}` });
      expect(splitBatch(r.stdout, r.stderr, 4, 'c4t')).toEqual([
        { stdout: 'one\n', stderr: 'warn\n', exitCode: 0 },
        { stdout: '', stderr: '', exitCode: 0 },
        { stdout: 'two\n', stderr: '', exitCode: 0 },
        { stdout: '', stderr: 'late\n', exitCode: 1 },
      ]);
      expect(existsSync(count)).toBe(false);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('a probe reads no stdin (the exec channel\'s input is not for it)', () => {
    const r = sh(batchScript(['cat; echo end'], 'in'), 'leaked input\n');
    expect(splitBatch(r.stdout, r.stderr, 1, 'in')).toEqual([{ stdout: 'end\n', stderr: '', exitCode: 0 }]);
  });

  it('a cut-off batch (either stream), a wrong nonce or a missing end status gives null parts', () => {
    const { stdout: out, stderr: err } = sh(batchScript(['echo a', 'echo b'], 'x1'));
    const cut = out.slice(0, out.indexOf('@@kcore-probe-x1 end 1'));
    expect(splitBatch(cut, err, 2, 'x1')).toEqual([{ stdout: 'a\n', stderr: '', exitCode: 0 }, null]);
    const errCut = err.slice(0, err.indexOf('@@kcore-probe-x1 done 1'));
    expect(splitBatch(out, errCut, 2, 'x1')).toEqual([{ stdout: 'a\n', stderr: '', exitCode: 0 }, null]);
    expect(splitBatch(out, err, 2, 'other')).toEqual([null, null]);
    // Exit statuses of more than one digit.
    const big = sh(batchScript(['exit 42', 'exit 127'], 'x2'));
    expect(splitBatch(big.stdout, big.stderr, 2, 'x2').map((p) => p?.exitCode)).toEqual([42, 127]);
    expect(splitBatch(out.replace('@@kcore-probe-x1 end 0 0', '@@kcore-probe-x1 end 0 x'), err, 1, 'x1')).toEqual([null]);
    expect(splitBatch(out, err.replace('@@kcore-probe-x1 err 1', 'nothing'), 2, 'x1')[1]).toBeNull();
    expect(lastWords(`${errCut}sh: 1: killed\n`, 'x1')).toBe('sh: 1: killed');
  });
});

describe('statScript and parseStat', () => {
  it('one quoted stat and one digest command over every path: openssl where present, else sha256sum', () => {
    expect(statScript(['/etc/a b', '/etc/c'])).toBe(
      `stat -c 'S %a %U %G %n' -- '/etc/a b' /etc/c 2>/dev/null; if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r -- '/etc/a b' /etc/c; else sha256sum -- '/etc/a b' /etc/c; fi 2>/dev/null; true`,
    );
  });

  // A PATH holding only stat and sha256sum: the fallback a host without openssl takes.
  const noOpenssl = path.join(dir, 'bin-no-openssl');
  mkdirSync(noOpenssl);
  for (const t of ['stat', 'sha256sum']) symlinkSync(`/usr/bin/${t}`, path.join(noOpenssl, t));

  for (const [tool, env] of [
    ['openssl', process.env],
    ['sha256sum', { ...process.env, PATH: noOpenssl }],
  ] as const) {
    it(`reads mode, owner, group and digest of real files with ${tool}; a missing file is absent`, () => {
      const a = path.join(dir, 'with space.conf');
      const b = path.join(dir, 'b.key');
      writeFileSync(a, 'hello\n');
      writeFileSync(b, 'secret');
      chmodSync(a, 0o644);
      chmodSync(b, 0o600);
      const missing = path.join(dir, 'missing');
      const paths = [a, missing, b];
      const r = sh(statScript(paths), '', env);
      expect(r.exitCode).toBe(0);
      // The digest lines come from the tool asked for (openssl's -r form marks binary mode with '*').
      expect(r.stdout).toContain(tool === 'openssl' ? ` *${a}` : `  ${a}`);
      expect(parseStat(r.stdout, paths)).toEqual([
        { exists: true, mode: 0o644, owner: 'root', group: 'root', sha256: hex('hello\n') },
        { exists: false },
        { exists: true, mode: 0o600, owner: 'root', group: 'root', sha256: hex('secret') },
      ]);
    });
  }

  // The stamp path also needs cut and mkdir: a PATH with those and no openssl.
  const noOpensslStamps = path.join(dir, 'bin-no-openssl-stamps');
  mkdirSync(noOpensslStamps);
  for (const t of ['stat', 'sha256sum', 'cut', 'mkdir']) symlinkSync(`/usr/bin/${t}`, path.join(noOpensslStamps, t));

  for (const [tool, env] of [
    ['openssl', process.env],
    ['sha256sum', { ...process.env, PATH: noOpensslStamps }],
  ] as const) {
    it(`a big file through its stamp (${tool}): hashed and stamped once, then read from the stamp until the file changes`, () => {
      const stamps = path.join(dir, `stamps-${tool}`);
      const big = path.join(dir, `big ${tool}`);
      const small = path.join(dir, `small-${tool}`);
      writeFileSync(big, 'v1');
      writeFileSync(small, 'tiny');
      const paths = [big, small];
      const script = statScript(paths, { stamped: [big], stampDir: stamps });
      const run = () => {
        const r = sh(script, '', env);
        expect(r.exitCode).toBe(0);
        return parseStat(r.stdout, paths).map((x) => x.sha256);
      };
      expect(run()).toEqual([hex('v1'), hex('tiny')]);
      const stampFile = path.join(stamps, big.replaceAll('/', '%'));
      const st = statSync(stamps);
      expect(st.mode & 0o777).toBe(0o700);
      const line = readFileSync(stampFile, 'utf8');
      expect(line).toMatch(new RegExp(`^\\d+ 2 \\d+\\.\\d{9} \\d+\\.\\d{9} ${hex('v1')}\\n$`));
      // The stamp answers while it describes the file: a planted digest is what comes back ...
      writeFileSync(stampFile, line.replace(hex('v1'), 'e'.repeat(64)));
      expect(run()[0]).toBe('e'.repeat(64));
      // ... until the file changes (ctime moves with any write or chmod) ...
      chmodSync(big, 0o600);
      expect(run()[0]).toBe(hex('v1'));
      appendFileSync(big, '!');
      expect(run()[0]).toBe(hex('v1!'));
      // ... or the stamp is cut short (a write that did not finish): hashed again.
      writeFileSync(stampFile, readFileSync(stampFile, 'utf8').slice(0, 30));
      expect(run()[0]).toBe(hex('v1!'));
      // A missing big file is absent, as any other.
      rmSync(big);
      expect(parseStat(sh(script, '', env).stdout, paths)[0]).toEqual({ exists: false });
      expect(existsSync(stampFile)).toBe(true);
    });
  }

  it('filesTask stamps the files of at least 1 MiB and hashes the rest', async () => {
    const t = filesTask('f', () => [
      { path: '/opt/bin/big', content: Buffer.alloc(STAMP_MIN_BYTES), mode: 0o755 },
      { path: '/etc/small', content: Buffer.alloc(STAMP_MIN_BYTES - 1), mode: 0o644 },
    ]);
    const p = await t.probe!({} as TaskContext);
    expect(p.script).toContain("stat -c '%i %s %.9Y %.9Z' -- /opt/bin/big");
    expect(p.script).not.toContain("-- /etc/small 2>/dev/null) &&");
    expect(p.script).toContain('openssl dgst -sha256 -r -- /etc/small;');
    expect(p.script).toContain('/var/lib/kcore-wizard/sha256/%opt%bin%big');
  });

  it('parses binary-mode sums, ignores lines that are not stat or sum lines', () => {
    const sum = hex('x');
    const out = [`S 4755 etcd etcd /a b`, `${sum} */a b`, `xS 600 root root /c`, `${sum.slice(1)}  /c`, `S 6x0 root root /d`, `${sum.toUpperCase()}  /d`, `S 640 root`, ''].join('\n');
    expect(parseStat(out, ['/a b', '/c', '/d'])).toEqual([{ exists: true, mode: 0o4755, owner: 'etcd', group: 'etcd', sha256: sum }, { exists: false }, { exists: false }]);
    // A sum line must start with the digest.
    expect(parseStat(`S 600 root root /c\ng${sum}  /c`, ['/c'])).toEqual([{ exists: true, mode: 0o600, owner: 'root', group: 'root', sha256: undefined }]);
    // A stat line without its sum (unreadable file): exists, digest unknown.
    expect(parseStat(`S 600 root root /e\n${sum}  /f`, ['/e'])).toEqual([{ exists: true, mode: 0o600, owner: 'root', group: 'root', sha256: undefined }]);
  });
});

describe('sha256 and fileDiff', () => {
  it('hashes strings and Buffers alike, a Buffer again gives the same digest', () => {
    const buf = Buffer.from('abc');
    expect(sha256('abc')).toBe(hex('abc'));
    expect(sha256(buf)).toBe(hex('abc'));
    expect(sha256(buf)).toBe(hex('abc'));
    expect(sha256(Buffer.from('abd'))).toBe(hex('abd'));
  });

  const want: FileSpec = { path: '/etc/x', content: 'c', mode: 0o640, owner: 'etcd' };
  const same = { exists: true, mode: 0o640, owner: 'etcd', group: 'etcd', sha256: hex('c') };

  it('create names mode (4 octal digits) and owner:group (group defaults to owner, owner to root)', () => {
    expect(fileDiff(want, { exists: false })).toBe('create /etc/x (mode 0640, etcd:etcd)');
    expect(fileDiff({ path: '/y', content: '', mode: 0o55 }, { exists: false })).toBe('create /y (mode 0055, root:root)');
    expect(fileDiff({ ...want, group: 'adm' }, { exists: false })).toBe('create /etc/x (mode 0640, etcd:adm)');
  });

  it('update lists each difference; nothing differs: null', () => {
    expect(fileDiff(want, same)).toBeNull();
    expect(fileDiff(want, { ...same, sha256: hex('d') })).toBe('update /etc/x (content differs)');
    expect(fileDiff(want, { ...same, mode: 0o644 })).toBe('update /etc/x (mode 644 → 640)');
    expect(fileDiff(want, { ...same, owner: 'root' })).toBe('update /etc/x (owner root:etcd → etcd:etcd)');
    expect(fileDiff(want, { ...same, group: 'root' })).toBe('update /etc/x (owner etcd:root → etcd:etcd)');
    expect(fileDiff({ path: '/z', content: 'c', mode: 0o600 }, { exists: true, mode: 0o600, owner: 'root', group: 'root', sha256: hex('c') })).toBeNull();
    // A remote file whose mode is unknown is updated, not an internal error.
    expect(fileDiff(want, { exists: true, owner: 'etcd', group: 'etcd', sha256: hex('c') })).toBe('update /etc/x (mode undefined → 640)');
    expect(fileDiff(want, { exists: true, mode: 0o600, owner: 'a', group: 'b', sha256: hex('e') })).toBe('update /etc/x (content differs, mode 600 → 640, owner a:b → etcd:etcd)');
  });
});

describe('filesTask', () => {
  it('probes every file in one script, plans only what differs, uploads only that and notifies', async () => {
    const a = path.join(dir, 'ft-a');
    const b = path.join(dir, 'ft-b');
    writeFileSync(a, 'keep');
    chmodSync(a, 0o644);
    rmSync(b, { force: true });
    const files: FileSpec[] = [
      { path: a, content: 'keep', mode: 0o644 },
      { path: b, content: Buffer.from('new'), mode: 0o600, owner: 'etcd', secret: true, notify: ['restart etcd', 'daemon-reload'] },
    ];
    const t = filesTask('files', () => files, ['config']);
    expect(t.name).toBe('files');
    expect(t.tags).toEqual(['config']);
    const { ctx, rec, signal } = fakeCtx();
    const probe = await t.probe!(ctx);
    expect(probe.script).toBe(statScript([a, b]));
    const { g, plan } = await gatherPlan(t, ctx);
    expect(rec.execs).toEqual([statScript([a, b])]);
    expect(plan).toEqual([`create ${b} (mode 0600, etcd:etcd)`]);
    await t.apply!(ctx, g, plan);
    expect(rec.uploads).toEqual([{ file: { path: b, content: files[1]!.content, mode: 0o600, owner: 'etcd', group: 'etcd', sudo: true, secret: true }, opts: { signal } }]);
    expect(rec.output).toEqual([`wrote ${b}`]);
    expect(rec.notes).toEqual(['restart etcd', 'daemon-reload']);
  });

  it('default tags, owner root, explicit group, a single notify', async () => {
    const c = path.join(dir, 'ft-c');
    writeFileSync(c, 'old');
    const t = filesTask('one', async () => [{ path: c, content: 'new', mode: 0o640, group: 'adm', notify: 'restart x' }]);
    expect(t.tags).toEqual([]);
    const { ctx, rec } = fakeCtx();
    const { g, plan } = await gatherPlan(t, ctx);
    expect(plan).toEqual([expect.stringMatching(new RegExp(`^update ${c} \\(content differs, mode \\d+ → 640, owner root:root → root:adm\\)$`))]);
    await t.apply!(ctx, g, plan);
    expect(rec.uploads.map((u) => [u.file.owner, u.file.group])).toEqual([['root', 'adm']]);
    expect(rec.notes).toEqual(['restart x']);
    // No notify: nothing notified.
    const t2 = filesTask('two', () => [{ path: path.join(dir, 'ft-none'), content: 'x', mode: 0o600, owner: 'kube' }]);
    const f2 = fakeCtx();
    const r2 = await gatherPlan(t2, f2.ctx);
    await t2.apply!(f2.ctx, r2.g, r2.plan);
    expect(f2.rec.notes).toEqual([]);
    expect(f2.rec.uploads.map((u) => [u.file.owner, u.file.group])).toEqual([['kube', 'kube']]);
    // Neither owner nor group: root:root.
    const t3 = filesTask('three', () => [{ path: path.join(dir, 'ft-root'), content: 'x', mode: 0o600 }]);
    const f3 = fakeCtx();
    const r3 = await gatherPlan(t3, f3.ctx);
    await t3.apply!(f3.ctx, r3.g, r3.plan);
    expect(f3.rec.uploads.map((u) => [u.file.owner, u.file.group])).toEqual([['root', 'root']]);
  });
});

describe('directoryTask', () => {
  it('probes real directories, plans create/fix, and installs them in one command', async () => {
    const ok = path.join(dir, 'd-ok');
    const wrongMode = path.join(dir, 'd-mode');
    const missing = path.join(dir, 'd missing');
    mkdirSync(ok, { recursive: true });
    mkdirSync(wrongMode, { recursive: true });
    chmodSync(ok, 0o750);
    chmodSync(wrongMode, 0o777);
    const dirs = [
      { path: ok, mode: 0o750 },
      { path: wrongMode, mode: 0o700, owner: 'root', group: 'root' },
      { path: missing, mode: 0o700, owner: 'etcd' },
    ];
    const t = directoryTask('dirs', dirs, ['etc']);
    expect(t.tags).toEqual(['etc']);
    expect(directoryTask('d', []).tags).toEqual([]);
    const { ctx, rec, signal } = fakeCtx();
    const { g, plan } = await gatherPlan(t, ctx);
    expect(rec.execs[0]).toBe(
      [ok, wrongMode, missing].map((p) => `if [ -d ${p.includes(' ') ? `'${p}'` : p} ]; then stat -c '%a %U %G' ${p.includes(' ') ? `'${p}'` : p}; else echo missing; fi`).join('\n'),
    );
    expect(g).toEqual(['750 root root', '777 root root', 'missing']);
    expect(plan).toEqual([`fix directory ${wrongMode} (777 root root → 700 root root)`, `create directory ${missing} (mode 0700, etcd:etcd)`]);
    await t.apply!(ctx, g, plan);
    expect(rec.runs).toEqual([
      { cmd: `install -d -m 750 -o root -g root ${ok} && install -d -m 700 -o root -g root ${wrongMode} && install -d -m 700 -o etcd -g etcd '${missing}'`, opts: { sudo: true, signal } },
    ]);
  });

  it('owner or group differs, a short probe output counts as missing', () => {
    const t = directoryTask('d', [
      { path: '/a', mode: 0o755, owner: 'etcd', group: 'adm' },
      { path: '/b', mode: 0o755, owner: 'etcd' },
      { path: '/c', mode: 0o755 },
    ]);
    const { ctx } = fakeCtx();
    expect(t.plan!(ctx, ['755 etcd adm', '755 root etcd', ' 755 root root '] as never)).toEqual(['fix directory /b (755 root etcd → 755 etcd etcd)']);
    expect(t.plan!(ctx, ['755 etcd root', '755 etcd etcd'] as never)).toEqual(['fix directory /a (755 etcd root → 755 etcd adm)', 'create directory /c (mode 0755, root:root)']);
  });
});

describe('systemUserTask', () => {
  it('probes with id -u, plans and runs useradd for a system user without login', async () => {
    const t = systemUserTask('etcd user', 'etcd', '/var/lib/etcd data');
    expect(t.name).toBe('etcd user');
    const { ctx, rec, signal } = fakeCtx();
    const probe = await t.probe!(ctx);
    expect(probe.script).toBe('id -u etcd');
    expect(probe.parse({ stdout: '0\n', stderr: '', exitCode: 0 })).toBe(true);
    expect(probe.parse({ stdout: '', stderr: 'no such user', exitCode: 1 })).toBe(false);
    // root exists on this machine: nothing to do; a name that cannot exist: create it.
    expect((await gatherPlan(systemUserTask('u', 'root', '/root'), ctx)).plan).toEqual([]);
    expect((await gatherPlan(systemUserTask('u', 'kc-no-such-user', '/x'), ctx)).plan).toEqual(['create system user kc-no-such-user']);
    await t.apply!(ctx, false as never, []);
    expect(rec.runs).toEqual([{ cmd: `useradd --system --no-create-home --home-dir '/var/lib/etcd data' --shell "$(command -v nologin || echo /bin/false)" --user-group etcd`, opts: { sudo: true, signal } }]);
  });
});

describe('serviceTask', () => {
  it('probe script and parser; empty answers are unknown', async () => {
    const t = serviceTask('etcd');
    expect(t.name).toBe('etcd service enabled and running');
    const { ctx } = fakeCtx();
    const probe = await t.probe!(ctx);
    expect(probe.script).toBe('systemctl is-enabled etcd 2>/dev/null; echo "|"; systemctl is-active etcd 2>/dev/null; true');
    expect(probe.parse({ stdout: 'enabled\n|\nactive\n', stderr: '', exitCode: 0 })).toEqual({ enabled: 'enabled', active: 'active' });
    expect(probe.parse({ stdout: '|\n', stderr: '', exitCode: 0 })).toEqual({ enabled: 'unknown', active: 'unknown' });
    expect(probe.parse({ stdout: '', stderr: '', exitCode: 0 })).toEqual({ enabled: 'unknown', active: 'unknown' });
    // In a shell without this unit: both answers empty, the script still succeeds.
    const r = sh(probe.script.replaceAll('etcd', 'kc-no-such-unit'));
    expect(r.exitCode).toBe(0);
  });

  it('plans and applies enable/start, restart only when notified, daemon-reload first', async () => {
    const t = serviceTask('etcd');
    const off = { enabled: 'disabled', active: 'inactive' };
    const on = { enabled: 'enabled', active: 'active' };
    const quiet = fakeCtx();
    expect(t.plan!(quiet.ctx, off as never)).toEqual(['enable etcd (is disabled)', 'start etcd (is inactive)']);
    expect(t.plan!(quiet.ctx, on as never)).toEqual([]);
    await t.apply!(quiet.ctx, off as never, []);
    expect(quiet.rec.runs).toEqual([{ cmd: 'systemctl enable etcd && systemctl start --no-block etcd', opts: { sudo: true, signal: quiet.signal } }]);

    const changed = fakeCtx(['restart etcd', 'daemon-reload']);
    expect(t.plan!(changed.ctx, on as never)).toEqual(['reload systemd (unit files changed)', 'restart etcd (its configuration changed)']);
    // Not running: started, not restarted.
    expect(t.plan!(changed.ctx, { enabled: 'enabled', active: 'failed' } as never)).toEqual(['reload systemd (unit files changed)', 'start etcd (is failed)']);
    await t.apply!(changed.ctx, on as never, []);
    await t.apply!(changed.ctx, { enabled: 'enabled', active: 'failed' } as never, []);
    expect(changed.rec.runs.map((r) => r.cmd)).toEqual(['systemctl daemon-reload && systemctl restart --no-block etcd', 'systemctl daemon-reload && systemctl start --no-block etcd']);

    // Running but disabled, nothing notified: enabled only, not restarted.
    const half = fakeCtx();
    await t.apply!(half.ctx, { enabled: 'disabled', active: 'active' } as never, []);
    expect(half.rec.runs.map((r) => r.cmd)).toEqual(['systemctl enable etcd']);
    // Another unit's restart handler does not restart this one.
    const other = fakeCtx(['restart kubelet']);
    expect(t.plan!(other.ctx, on as never)).toEqual([]);
  });

  it('a custom restart handler and the readiness wait as verify', async () => {
    const wait = async () => undefined;
    const t = serviceTask('kube-apiserver', { restartHandler: 'restart control plane', wait });
    expect(t.verify).toBe(wait);
    expect(serviceTask('x').verify).toBeUndefined();
    const own = fakeCtx(['restart kube-apiserver']);
    const on = { enabled: 'enabled', active: 'active' };
    expect(t.plan!(own.ctx, on as never)).toEqual([]);
    const custom = fakeCtx(['restart control plane']);
    expect(t.plan!(custom.ctx, on as never)).toEqual(['restart kube-apiserver (its configuration changed)']);
    await t.apply!(custom.ctx, { enabled: 'static', active: 'active' } as never, []);
    expect(custom.rec.runs.map((r) => r.cmd)).toEqual(['systemctl enable kube-apiserver && systemctl restart --no-block kube-apiserver']);
  });
});

describe('waitFor', () => {
  it('returns as soon as the check passes, polling at the interval', async () => {
    let n = 0;
    const t0 = Date.now();
    await waitFor('thing', async () => (++n < 3 ? `attempt ${n}` : null), { timeoutMs: 5000, intervalMs: 20 });
    expect(n).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('fails after the timeout naming what was last seen and the hint; the last wait is cut to the deadline', async () => {
    let n = 0;
    const t0 = Date.now();
    const err = await waitFor('etcd health', async () => `not yet ${++n}`, { timeoutMs: 1400, intervalMs: 60_000, hint: 'look at the journal' }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1350);
    expect(err).toBeInstanceOf(TaskFailure);
    expect((err as TaskFailure).hint).toBe('look at the journal');
    expect((err as Error).message).toBe(`etcd health did not become ready within 1 s: not yet ${n}\n  → look at the journal`);
    expect(n).toBe(2);
  });

  it('polls every second by default', async () => {
    let n = 0;
    const err = await waitFor('x', async () => `no ${++n}`, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`x did not become ready within 0 s: no ${n}`);
    // A check at 0 and one at the deadline; a timer may fire a millisecond before Date.now() reaches the deadline,
    // which gives one more check (seen under load). A shorter default interval gives many more.
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(3);
  });

  it('an aborted signal stops it before the next check', async () => {
    const ac = new AbortController();
    let n = 0;
    const p = waitFor('x', async () => (++n === 2 && ac.abort(), 'no'), { timeoutMs: 5000, intervalMs: 10, signal: ac.signal });
    await expect(p).rejects.toThrow(/abort/i);
    expect(n).toBe(2);
  });
});
