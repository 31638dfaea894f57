// The SSH engine against real OpenSSH sshd hosts (light hosts: network namespaces on a private bridge).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { sshKeyPair } from '../support/ssh-keys.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';
import {
  SshPool,
  fingerprint,
  targetsFromSshConfig,
  type CommandLogEntry,
  type HostKeyEvent,
  type HostTarget,
  type PoolOptions,
} from '../../src/ssh/index.js';

let hosts: TestHosts;
let targets: HostTarget[];
let work: string;
const events: HostKeyEvent[] = [];
const logs: Array<CommandLogEntry & { host: string }> = [];
const pools: SshPool[] = [];

function pool(extra: Partial<PoolOptions> = {}): SshPool {
  const p = new SshPool({
    knownHostsPath: join(work, 'known_hosts'),
    retries: 0,
    connectTimeoutMs: 10_000,
    onHostKey: (e) => events.push(e),
    onCommand: (host, e) => logs.push({ host, ...e }),
    ...extra,
  });
  pools.push(p);
  return p;
}

const t = (name: string): HostTarget => targets.find((x) => x.name === name)!;

/** The real host key's fingerprint, from the hosts' own known_hosts lines. */
function realFingerprint(ip: string): string {
  const line = hosts.knownHostsLines.find((l) => l.startsWith(`${ip} `))!;
  return fingerprint(Buffer.from(line.split(' ')[2]!, 'base64'));
}

/** Processes on the host whose command line contains `tag` (the hosts share this machine's PID namespace). */
async function remoteProcs(host: string, tag: string): Promise<string> {
  const r = await hosts.exec(host, `ps -eo pid,user,args | grep -F -- ${JSON.stringify(tag)} | grep -v grep || true`);
  return r.stdout.trim();
}

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`test hosts cannot run here: ${can.reason}`);
  work = mkdtempSync(join(tmpdir(), 'kcore-ssh-it-'));
  hosts = await startSshHosts({ count: 3, names: ['cp1', 'worker1', 'worker2'], sudo: 'nopasswd' });
  targets = targetsFromSshConfig(readFileSync(hosts.sshConfigPath, 'utf8'));
});

afterAll(async () => {
  for (const p of pools) await p.closeAll();
  await hosts?.teardown();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('host keys', () => {
  it('targets come from the hosts’ ssh config', () => {
    expect(targets.map((x) => x.name)).toEqual(['cp1', 'worker1', 'worker2']);
    expect(targets[0]).toMatchObject({ host: hosts.host('cp1').ip, port: 22, user: hosts.user, identityFile: hosts.identityFile });
  });

  it('first contact records the real key; later connections verify it', async () => {
    const c = await pool().connection(t('cp1'));
    expect(events.filter((e) => e.host === 'cp1')).toEqual([
      { host: 'cp1', kind: 'recorded', fingerprint: realFingerprint(hosts.host('cp1').ip), keyType: 'ssh-ed25519' },
    ]);
    expect(readFileSync(join(work, 'known_hosts'), 'utf8')).toContain(`${hosts.host('cp1').ip} ssh-ed25519 `);
    expect((await c.exec('hostname')).stdout.trim()).toBe('cp1');
    await pool().connection(t('cp1'));
    expect(events.filter((e) => e.host === 'cp1').map((e) => e.kind)).toEqual(['recorded', 'verified']);
  });

  it('a changed key is refused with both fingerprints and what to do; only an explicit accept replaces it', async () => {
    const ip = hosts.host('worker2').ip;
    const fake = sshKeyPair().public.split(' ');
    const kh = join(work, 'known_hosts_changed');
    writeFileSync(kh, `# kcore workspace\n${ip} ${fake[0]} ${fake[1]}\n`);
    const fakeFp = fingerprint(Buffer.from(fake[1]!, 'base64'));
    const err = (await pool({ knownHostsPath: kh }).connection(t('worker2')).catch((e: unknown) => e)) as Error & { kind: string; hint: string };
    expect(err.kind).toBe('host-key');
    expect(err.message).toContain(fakeFp);
    expect(err.message).toContain(realFingerprint(ip));
    expect(err.message).toContain(`${kh}:2`);
    expect(err.hint).toContain('--accept-changed-host-keys worker2');
    expect(err.hint).toContain(`remove line 2 from ${kh}`);
    expect(readFileSync(kh, 'utf8')).toContain(fake[1]!); // untouched

    const c = await pool({ knownHostsPath: kh, acceptChangedHostKeys: ['worker2'] }).connection(t('worker2'));
    expect((await c.exec('echo ok')).stdout).toBe('ok\n');
    expect(events.at(-1)).toMatchObject({ host: 'worker2', kind: 'changed-accepted', fingerprint: realFingerprint(ip) });
    const body = readFileSync(kh, 'utf8');
    expect(body).not.toContain(fake[1]!);
    expect(body).toContain('# kcore workspace');
  });
});

describe('errors that say what to check', () => {
  it('an unused address in the hosts’ prefix: unreachable', async () => {
    const ghost: HostTarget = { ...t('cp1'), name: 'ghost', host: `${hosts.prefix}.250` };
    const err = (await pool({ connectTimeoutMs: 8000 }).connection(ghost).catch((e: unknown) => e)) as Error & { kind: string; hint: string };
    expect(['unreachable', 'timeout']).toContain(err.kind);
    expect(err.message).toContain(`${hosts.prefix}.250`);
    expect(err.hint).toContain('vagrant status');
    expect(err.hint).toContain(`${hosts.prefix}.250:22`);
  });

  it('a key the host does not know: auth error naming user, host and key file', async () => {
    const keyFile = join(work, 'wrong_key');
    writeFileSync(keyFile, sshKeyPair().private, { mode: 0o600 });
    const err = (await pool({ retries: 3 })
      .connection({ ...t('worker1'), identityFile: keyFile, agent: '' })
      .catch((e: unknown) => e)) as Error & { kind: string; retryable: boolean; hint: string };
    expect(err.kind).toBe('auth');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`${hosts.user}@${hosts.host('worker1').ip}:22`);
    expect(err.message).toContain(keyFile);
    expect(err.hint).toContain('authorized_keys');
  });
});

describe('exec on a real sshd', () => {
  it('exit codes, stderr, and the signal that killed the command', async () => {
    const c = await pool().connection(t('worker1'));
    expect(await c.exec('echo out; echo err >&2; exit 42')).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 42 });
    const k = await c.exec('kill -TERM $$');
    expect(k.exitCode).toBeNull();
    expect(k.signal).toBe('SIGTERM');
    const k9 = await c.exec('kill -KILL $$', { sudo: true });
    expect(k9.signal).toBe('SIGKILL');
  });

  it('streams stdout and stderr line by line, in order per stream, while the command runs', async () => {
    const c = await pool().connection(t('worker1'));
    const seen: Array<[string, number]> = [];
    const t0 = Date.now();
    const out: string[] = [];
    const err: string[] = [];
    await c.exec('for i in 1 2 3; do echo "line $i"; echo "warn $i" >&2; sleep 0.3; done; seq 1 5000', {
      onStdout: (l) => {
        out.push(l);
        if (l.startsWith('line')) seen.push([l, Date.now() - t0]);
      },
      onStderr: (l) => err.push(l),
    });
    expect(out.slice(0, 3)).toEqual(['line 1', 'line 2', 'line 3']);
    expect(out.slice(3)).toEqual(Array.from({ length: 5000 }, (_, i) => String(i + 1)));
    expect(err).toEqual(['warn 1', 'warn 2', 'warn 3']);
    expect(seen[2]![1] - seen[0]![1]).toBeGreaterThan(400); // delivered as it happened, not at the end
  });

  it('passes stdin (text and a 5 MiB binary buffer)', async () => {
    const c = await pool().connection(t('worker1'));
    expect((await c.exec('tr a-z A-Z', { stdin: 'hello\n' })).stdout).toBe('HELLO\n');
    const bin = randomBytes(5 * 1024 * 1024);
    const r = await c.exec('sha256sum', { stdin: bin });
    expect(r.stdout.split(' ')[0]).toBe(createHash('sha256').update(bin).digest('hex'));
  });

  it('sudo: probed once, runs as root; root targets skip sudo', async () => {
    const before = logs.length;
    const c = await pool().connection(t('worker2'));
    expect(await c.sudoOk()).toBe(true);
    expect(await c.sudoOk()).toBe(true);
    expect((await c.exec('id -u', { sudo: true })).stdout).toBe('0\n');
    expect((await c.exec('id -un')).stdout).toBe(`${hosts.user}\n`);
    const probes = logs.slice(before).filter((l) => l.command === 'sudo -n true');
    expect(probes).toHaveLength(1);
    expect(logs.slice(before).find((l) => l.command === 'id -u')).toMatchObject({ sudo: true, exitCode: 0 });
  });

  it('sudo: the first sudo command carries the check itself (no round trip of its own), later ones do not', async () => {
    const before = logs.length;
    const c = await pool().connection(t('worker1'));
    const first = await Promise.all([c.exec('id -u; echo err >&2', { sudo: true }), c.exec('id -u', { sudo: true })]);
    expect(first.map((r) => [r.stdout, r.exitCode])).toEqual([['0\n', 0], ['0\n', 0]]);
    expect(first[0]!.stderr).toBe('err\n');
    // A command's own exit 97 is its own, not a refusal.
    expect((await c.exec('exit 97', { sudo: true })).exitCode).toBe(97);
    expect(await c.sudoOk()).toBe(true);
    const mine = logs.slice(before).filter((l) => l.host === 'worker1');
    expect(mine.map((l) => l.command).sort()).toEqual(['exit 97', 'id -u', 'id -u; echo err >&2']);
  });

  it('timeout kills the command and everything it started (sudo or not)', async () => {
    const c = await pool().connection(t('cp1'));
    for (const sudo of [false, true]) {
      const tag = `kcore-it-timeout-${sudo}-${Date.now()}`;
      const t0 = Date.now();
      const err = (await c.exec(`sh -c 'sleep 120; : ${tag}' & sleep 121; : ${tag}`, { timeoutMs: 800, sudo }).catch((e: unknown) => e)) as Error & {
        kind: string;
      };
      expect(err.kind).toBe('timeout');
      expect(Date.now() - t0).toBeLessThan(6000);
      expect(await remoteProcs('cp1', tag)).toBe('');
    }
  });

  it('abort cancels a running command, and the remote process is gone', async () => {
    const c = await pool().connection(t('cp1'));
    const tag = `kcore-it-abort-${Date.now()}`;
    const ctl = new AbortController();
    const p = c.exec(`sleep 120; : ${tag}`, { signal: ctl.signal, sudo: true });
    await new Promise((r) => setTimeout(r, 700));
    expect(await remoteProcs('cp1', tag)).not.toBe('');
    ctl.abort();
    await expect(p).rejects.toMatchObject({ kind: 'aborted' });
    expect(await remoteProcs('cp1', tag)).toBe('');
  });

  it('12 concurrent commands on one host all succeed, never more than 8 channels at once', async () => {
    // The test hosts allow 64 sessions; put this host back to OpenSSH's default of 10 to make the cap matter.
    await hosts.exec('worker2', "sed -i 's/^MaxSessions .*/MaxSessions 10/' /etc/ssh/sshd_config");
    await hosts.exec('worker2', `kill -HUP ${hosts.host('worker2').pid}`);
    await new Promise((r) => setTimeout(r, 1000));
    // Without a cap, the 11th session on one connection is refused by sshd:
    const raw = new Client();
    await new Promise<void>((resolve, reject) => {
      raw.on('ready', resolve).on('error', reject);
      raw.connect({ host: hosts.host('worker2').ip, username: hosts.user, privateKey: readFileSync(hosts.identityFile), hostVerifier: () => true });
    });
    const opened = await Promise.all(
      Array.from(
        { length: 12 },
        () =>
          new Promise<boolean>((resolve) => {
            raw.exec('sleep 1', (e, ch) => {
              if (e) return resolve(false);
              ch.on('close', () => undefined).resume();
              ch.stderr.resume();
              resolve(true);
            });
          }),
      ),
    );
    raw.end();
    expect(opened.filter((x) => !x).length).toBeGreaterThan(0);

    const c = await pool().connection(t('worker2'));
    await c.exec('rm -rf /tmp/kcore-cap; mkdir /tmp/kcore-cap');
    const rs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => c.exec(`touch /tmp/kcore-cap/${i}; sleep 0.5; n=$(ls /tmp/kcore-cap | wc -l); rm /tmp/kcore-cap/${i}; echo $n`)),
    );
    expect(rs.every((r) => r.exitCode === 0)).toBe(true);
    const peak = Math.max(...rs.map((r) => Number(r.stdout.trim())));
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThanOrEqual(2);
  });

  it('reconnects transparently after the server dropped the connection', async () => {
    const c = await pool().connection(t('worker1'));
    expect((await c.exec('echo before')).stdout).toBe('before\n');
    const connects = c.connects;
    // Kill this host's sshd session processes for our user (not the listener).
    await hosts.exec(
      'worker1',
      `me=$(readlink /proc/self/ns/net); for p in $(pgrep -f '^sshd: ${hosts.user}'); do [ "$(readlink /proc/$p/ns/net)" = "$me" ] && kill -TERM $p; done; true`,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect((await c.exec('echo after')).stdout).toBe('after\n');
    expect(c.connects).toBe(connects + 1);
  });
});

describe('sudo that needs a password', () => {
  let pw: TestHosts;
  beforeAll(async () => {
    pw = await startSshHosts({ count: 1, names: ['pw1'], sudo: 'password' });
  });
  afterAll(async () => {
    await pw?.teardown();
  });

  it('is a clear sudo error with the NOPASSWD hint; plain commands still work', async () => {
    const [target] = targetsFromSshConfig(readFileSync(pw.sshConfigPath, 'utf8'));
    const c = await pool({ knownHostsPath: join(work, 'kh_pw') }).connection(target!);
    expect(await c.sudoOk()).toBe(false);
    const err = (await c.exec('id -u', { sudo: true }).catch((e: unknown) => e)) as Error & { kind: string; hint: string };
    expect(err.kind).toBe('sudo');
    expect(err.message).toContain(`User ${pw.user} on pw1 cannot use sudo without a password`);
    expect(err.message).toMatch(/password is required/);
    expect(err.hint).toContain('NOPASSWD');
    await expect(c.upload({ path: '/etc/x', content: 'x', mode: 0o644, sudo: true })).rejects.toMatchObject({ kind: 'sudo' });
    expect((await c.exec('echo fine')).stdout).toBe('fine\n');
  });

  it('the check folded into the first sudo command refuses it with the same error, and the command does not run', async () => {
    const [target] = targetsFromSshConfig(readFileSync(pw.sshConfigPath, 'utf8'));
    const before = logs.length;
    const c = await pool({ knownHostsPath: join(work, 'kh_pw2') }).connection(target!);
    const stderr: string[] = [];
    const tag = `/tmp/kcore-pw-ran-${Date.now()}`;
    const err = (await c.exec(`touch ${tag}`, { sudo: true, onStderr: (l) => stderr.push(l) }).catch((e: unknown) => e)) as Error & { kind: string; hint: string };
    expect(err.kind).toBe('sudo');
    expect(err.message).toMatch(new RegExp(`^User ${pw.user} on pw1 cannot use sudo without a password \\(sudo said: .*password is required\\)\\.$`));
    expect(err.hint).toContain('NOPASSWD');
    expect(stderr).toEqual([]); // the refusal is the error, not a line of the command's output
    expect((await c.exec(`test -e ${tag} && echo ran || echo not-run`)).stdout).toBe('not-run\n');
    // Known from then on: no second check, and sudoOk() costs nothing.
    expect(await c.sudoOk()).toBe(false);
    await expect(c.exec('id -u', { sudo: true })).rejects.toMatchObject({ kind: 'sudo' });
    expect(logs.slice(before).map((l) => l.command)).toEqual(['sudo -n true', `test -e ${tag} && echo ran || echo not-run`]);
  });
});

describe('uploads over exec', () => {
  it('changed, unchanged, mode-only and owner-only changes', async () => {
    const c = await pool().connection(t('cp1'));
    const f = { path: '/etc/kcore/app/config.yaml', content: 'a: 1\n', mode: 0o644, sudo: true };
    expect(await c.upload(f)).toMatchObject({ changed: true, sha256: createHash('sha256').update('a: 1\n').digest('hex') });
    expect((await c.upload(f)).changed).toBe(false);
    expect((await c.exec(`stat -c '%a %U:%G' /etc/kcore/app/config.yaml`)).stdout).toBe('644 root:root\n');

    expect((await c.upload({ ...f, mode: 0o640 })).changed).toBe(true);
    expect((await c.exec(`stat -c '%a' /etc/kcore/app/config.yaml`)).stdout).toBe('640\n');
    expect((await c.upload({ ...f, mode: 0o640 })).changed).toBe(false);

    expect((await c.upload({ ...f, mode: 0o640, group: hosts.user })).changed).toBe(true);
    expect((await c.exec(`stat -c '%a %U:%G' /etc/kcore/app/config.yaml`)).stdout).toBe(`640 root:${hosts.user}\n`);
    expect((await c.upload({ ...f, mode: 0o640, group: hosts.user })).changed).toBe(false);

    expect((await c.upload({ ...f, content: 'a: 2\n', mode: 0o640, owner: hosts.user, group: hosts.user })).changed).toBe(true);
    expect((await c.readFile('/etc/kcore/app/config.yaml'))?.toString()).toBe('a: 2\n');
    expect(await c.sha256('/etc/kcore/app/config.yaml')).toBe(createHash('sha256').update('a: 2\n').digest('hex'));
    expect(await c.readFile('/etc/kcore/app/nope')).toBeNull();
    expect(await c.sha256('/etc/kcore/app/nope', { sudo: true })).toBeNull();
    // no temp files left behind
    expect((await c.exec('ls -A /etc/kcore/app')).stdout).toBe('config.yaml\n');
    // without sudo into a root-owned directory: a command-failed error, nothing written
    await expect(c.upload({ path: '/etc/kcore/denied.conf', content: 'x', mode: 0o644 })).rejects.toMatchObject({ kind: 'command-failed' });
  });

  it('binary content arrives byte for byte', async () => {
    const c = await pool().connection(t('cp1'));
    const bin = randomBytes(256 * 1024);
    await c.upload({ path: '/opt/kcore/bin.dat', content: bin, mode: 0o755, sudo: true });
    expect((await c.readFile('/opt/kcore/bin.dat', { sudo: true }))!.equals(bin)).toBe(true);
  });

  it('a concurrent reader never sees a partial file during a large upload', async () => {
    const c = await pool().connection(t('worker1'));
    const path = '/var/lib/kcore/big.bin';
    const a = randomBytes(24 * 1024 * 1024);
    const b = randomBytes(24 * 1024 * 1024);
    const ha = createHash('sha256').update(a).digest('hex');
    const hb = createHash('sha256').update(b).digest('hex');
    await c.upload({ path, content: a, mode: 0o644, sudo: true });
    // The reader runs as root inside the host until told to stop, hashing whatever is at the path.
    const reader = hosts.exec('worker1', `rm -f /tmp/stop; while [ ! -e /tmp/stop ]; do sha256sum ${path} | cut -c1-64; done`, { timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 300));
    const up = await c.upload({ path, content: b, mode: 0o644, sudo: true });
    await new Promise((r) => setTimeout(r, 300));
    await hosts.exec('worker1', 'touch /tmp/stop');
    const seen = (await reader).stdout.trim().split('\n');
    expect(up.changed).toBe(true);
    expect(seen.length).toBeGreaterThan(3);
    expect(new Set(seen)).toEqual(new Set([ha, hb]));
  });

  it('secret content: never world-readable, never in logs or errors', async () => {
    const c = await pool().connection(t('worker2'));
    const secret = `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`;
    const line = secret.split('\n')[1]!;
    const before = logs.length;
    // Watch the directory while uploading: every file that appears must be 0600 (the temp) or the final file.
    await c.exec('mkdir -p /tmp/kcore-secret', { sudo: true });
    const watcher = hosts.exec(
      'worker2',
      `rm -f /tmp/stopw; while [ ! -e /tmp/stopw ]; do stat -c '%a %n' /tmp/kcore-secret/.kcore-upload.* 2>/dev/null; done | sort -u`,
    );
    for (let i = 0; i < 12; i++) await c.upload({ path: '/tmp/kcore-secret/key.pem', content: secret + String(i), mode: 0o600, sudo: true, secret: true });
    await hosts.exec('worker2', 'touch /tmp/stopw');
    const modes = (await watcher).stdout.trim().split('\n').filter(Boolean);
    expect(modes.length).toBeGreaterThan(0); // the watcher did catch temp files in flight
    expect(modes.every((m) => m.startsWith('600 '))).toBe(true);
    expect((await c.exec(`stat -c '%a %U' /tmp/kcore-secret/key.pem`)).stdout).toBe('600 root\n');
    // A command that echoes the secret back gets it redacted when told
    const r = await c.exec(`sudo cat /tmp/kcore-secret/key.pem`, { secrets: [line] });
    expect(r.stdout).not.toContain(line);
    expect(JSON.stringify(logs.slice(before))).not.toContain(line);
  });
});

describe('redaction end to end', () => {
  it('a secret in the command, its output and its error never reaches results, lines, logs or errors', async () => {
    const c = await pool().connection(t('cp1'));
    const secret = `tok-${randomBytes(12).toString('hex')}`;
    const before = logs.length;
    const lines: string[] = [];
    const r = await c.exec(`echo "token=${secret}"; printf '%s' '${secret.slice(0, 7)}'; sleep 0.2; echo '${secret.slice(7)}'; echo "${secret}" >&2`, {
      secrets: [secret],
      onStdout: (l) => lines.push(l),
      onStderr: (l) => lines.push(l),
    });
    expect(r.stdout).toBe('token=***\n***\n');
    expect(r.stderr).toBe('***\n');
    const err = (await c.run(`echo "${secret}" >&2; exit 9`, { secrets: [secret] }).catch((e: unknown) => e)) as Error;
    const timeoutErr = (await c.exec(`sleep 5 # ${secret}`, { secrets: [secret], timeoutMs: 200 }).catch((e: unknown) => e)) as Error;
    const everything = JSON.stringify({ r, lines, logs: logs.slice(before), err: err.message, timeoutErr: timeoutErr.message });
    expect(everything).not.toContain(secret);
    expect(everything).toContain('***');
  });
});

describe('pool', () => {
  it('forEachHost runs every host in parallel and reports each one', async () => {
    const p = pool({ maxHosts: 2 });
    const ghost: HostTarget = { ...t('cp1'), name: 'ghost', host: `${hosts.prefix}.251` };
    const out = await p.forEachHost([...targets, ghost], async (c) => (await c.exec('hostname')).stdout.trim());
    expect(out.map((o) => o.result ?? o.error?.kind)).toEqual(['cp1', 'worker1', 'worker2', expect.stringMatching(/unreachable|timeout/)]);
  });

  it('ProxyJump: reaches a host through another one', async () => {
    const jumped: HostTarget = { ...t('worker2'), name: 'worker2-via-cp1', proxyJump: t('cp1') };
    const c = await pool({ knownHostsPath: join(work, 'kh_jump') }).connection(jumped);
    expect((await c.exec('hostname')).stdout.trim()).toBe('worker2');
  });
});
