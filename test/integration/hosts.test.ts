// The real test hosts themselves: every other integration test stands on them, so this checks what
// they promise with the real OpenSSH client, from the outside, and that teardown leaves nothing.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';

/** Runs `command` on `name` with the real ssh client, checking the host key against the hosts' own keys. */
async function ssh(hosts: TestHosts, name: string, command: string, input = ''): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await execa(
    'ssh',
    ['-F', hosts.sshConfigPath, '-o', `UserKnownHostsFile=${hosts.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', name, command],
    { reject: false, timeout: 60_000, input },
  );
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

function netnsNames(): Promise<string[]> {
  return execa('ip', ['netns', 'list']).then((r) => r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0] ?? ''));
}

function linkNames(): Promise<string[]> {
  return execa('ip', ['-o', 'link', 'show']).then((r) => r.stdout.split('\n').map((l) => (l.split(': ')[1] ?? '').replace(/@.*/, '')));
}

function pidGone(pid: number): boolean {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** What must be back to how it was once hosts are torn down. */
interface Baseline {
  netns: string[];
  links: string[];
}

async function expectCleanTeardown(hosts: TestHosts, before: Baseline): Promise<void> {
  const pids = hosts.hosts.map((h) => h.pid);
  await hosts.teardown();
  await hosts.teardown(); // idempotent
  expect(await netnsNames()).toEqual(before.netns);
  expect(await linkNames()).toEqual(before.links);
  expect(pids.filter((pid) => !pidGone(pid))).toEqual([]);
  expect(fs.existsSync(hosts.workdir)).toBe(false);
}

beforeAll(async () => {
  // Fail loudly, never skip: a machine that cannot run the hosts cannot run any integration test.
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`test hosts cannot run here: ${can.reason}`);
});

describe('light hosts (network namespace + sshd)', () => {
  const names = ['etcd1', 'master1', 'worker1', 'worker2'];
  let hosts: TestHosts;
  let before: Baseline;
  // A file in this machine's /root that no host may see.
  const canary = path.join('/root', `.kcore-hosts-canary-${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    before = { netns: await netnsNames(), links: await linkNames() };
    fs.writeFileSync(canary, 'this machine only\n');
    const t0 = Date.now();
    // The cluster spec's address plan: etcd at .101…, masters at .111…, workers at .121….
    hosts = await startSshHosts({ count: 4, names, ips: [101, 111, 121, 122], sudo: 'nopasswd' });
    console.log(`4 light hosts up in ${Date.now() - t0} ms on ${hosts.prefix}.0/24`);
  });

  afterAll(async () => {
    fs.rmSync(canary, { force: true });
    await hosts?.teardown();
  });

  it('describes every host in an ssh config shaped like vagrant ssh-config', () => {
    const config = fs.readFileSync(hosts.sshConfigPath, 'utf8');
    for (const h of hosts.hosts) {
      expect(config).toContain(`Host ${h.name}\n  HostName ${h.ip}\n  User ${hosts.user}\n  Port 22\n`);
    }
    expect(config).toContain(`IdentityFile ${hosts.identityFile}`);
    expect(fs.statSync(hosts.identityFile).mode & 0o777).toBe(0o600);
    expect(hosts.user).not.toBe('root');
    expect(hosts.hosts.map((h) => h.ip)).toEqual([101, 111, 121, 122].map((n) => `${hosts.prefix}.${n}`));
    expect(hosts.knownHostsLines).toHaveLength(4);
    hosts.knownHostsLines.forEach((l, i) => expect(l).toMatch(new RegExp(`^${hosts.hosts[i]?.ip.replace(/\./g, '\\.')} ssh-ed25519 AAAA\\S+$`)));
  });

  it('logs in with the real ssh client, strict host key checking against the real host keys', async () => {
    for (const h of hosts.hosts) {
      const r = await ssh(hosts, h.name, 'hostname; id -un; ip -4 -o addr show dev eth0');
      expect(r.exitCode, r.stderr).toBe(0);
      const [hostname, user, addr] = r.stdout.trim().split('\n');
      expect(hostname).toBe(h.name);
      expect(user).toBe(hosts.user);
      expect(addr).toContain(`inet ${h.ip}/24`);
    }
  });

  it('refuses a host key that does not match', async () => {
    const wrong = path.join(hosts.workdir, 'wrong_known_hosts');
    const [first, second] = hosts.knownHostsLines;
    // The second host's key, claimed for the first host's address.
    fs.writeFileSync(wrong, `${first?.split(' ')[0]} ${second?.split(' ').slice(1).join(' ')}\n`);
    const r = await execa('ssh', ['-F', hosts.sshConfigPath, '-o', `UserKnownHostsFile=${wrong}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', hosts.hosts[0]?.name ?? '', 'true'], { reject: false, timeout: 30_000 });
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('gives the login user passwordless sudo', async () => {
    const r = await ssh(hosts, 'master1', 'sudo -n true && sudo -n id -u');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('0');
  });

  it("hides this machine's /root, /home and the hosts' workdir", async () => {
    const r = await ssh(hosts, 'worker1', `sudo -n ls -A /root /home; sudo -n test -e ${canary} && echo CANARY; sudo -n test -e ${hosts.identityFile} && echo KEY; true`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('CANARY');
    expect(r.stdout).not.toContain('KEY');
    expect(r.stdout).toBe(`/home:\n${hosts.user}\n\n/root:`); // (execa strips the final newline)
    // exec() sees the same private view, as root.
    expect((await hosts.exec('worker1', `ls -A /root; test -e ${canary} || echo hidden`)).stdout).toBe('hidden\n');
  });

  it('keeps host writes to /etc and /usr off this machine', async () => {
    const marker = `kcore-hosts-${randomBytes(4).toString('hex')}`;
    const r = await ssh(hosts, 'etcd1', `echo x | sudo -n tee /etc/${marker} /usr/local/bin/${marker} >/dev/null && cat /etc/${marker}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.existsSync(`/etc/${marker}`)).toBe(false);
    expect(fs.existsSync(`/usr/local/bin/${marker}`)).toBe(false);
    expect((await hosts.exec('etcd1', `cat /etc/${marker}`)).stdout).toBe('x\n');
    expect((await hosts.exec('master1', `test -e /etc/${marker}`)).exitCode).not.toBe(0);
  });

  it('has no default route, only its /24; names resolve from /etc/hosts only', async () => {
    for (const h of hosts.hosts) {
      const r = await hosts.exec(h, 'ip -4 route show; echo ---; getent hosts worker2; echo ---; grep -c nameserver /etc/resolv.conf || true');
      expect(r.exitCode, r.stderr).toBe(0);
      const [routes, resolved, nameservers] = r.stdout.split('---\n');
      expect(routes?.trim()).toBe(`${hosts.prefix}.0/24 dev eth0 proto kernel scope link src ${h.ip}`);
      expect(resolved?.trim()).toMatch(new RegExp(`^${hosts.prefix.replace(/\./g, '\\.')}\\.122\\s+worker2$`));
      expect(nameservers?.trim()).toBe('0');
    }
  });

  it('lets hosts reach each other over the bridge', async () => {
    const target = hosts.host('worker2');
    const r = await ssh(hosts, 'etcd1', `timeout 5 bash -c 'exec 3<>/dev/tcp/${target.ip}/22 && head -c 7 <&3'`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('SSH-2.0');
  });

  it('exec() runs as root inside the host and reports exit codes and stdin', async () => {
    const r = await hosts.exec(hosts.hosts[1] ?? 'master1', 'hostname; id -u; cat; exit 3', { input: 'in\n' });
    expect(r).toEqual({ stdout: 'master1\n0\nin\n', stderr: '', exitCode: 3 });
  });

  it('tears down every process, namespace, link and file', async () => {
    await expectCleanTeardown(hosts, before);
  });
});

describe('light hosts: sudo modes', () => {
  it("'password' makes sudo ask for the password, 'none' gives no sudo at all", async () => {
    const before = { netns: await netnsNames(), links: await linkNames() };
    const withPassword = await startSshHosts({ count: 1, names: ['pw1'], sudo: 'password' });
    const noSudo = await startSshHosts({ count: 1, names: ['nosudo1'], sudo: 'none' });
    try {
      // Two runs at once get two distinct /24s and bridges.
      expect(withPassword.prefix).not.toBe(noSudo.prefix);
      expect(withPassword.bridge).not.toBe(noSudo.bridge);

      const n = await ssh(withPassword, 'pw1', 'sudo -n true');
      expect(n.exitCode).not.toBe(0);
      expect(n.stderr).toMatch(/password is required/);
      const s = await ssh(withPassword, 'pw1', "sudo -S -p '' id -u", `${withPassword.password}\n`);
      expect(s.exitCode, s.stderr).toBe(0);
      expect(s.stdout.trim()).toBe('0');

      const none = await ssh(noSudo, 'nosudo1', "sudo -S -p '' true", `${noSudo.password}\n`);
      expect(none.exitCode).not.toBe(0);
      expect(none.stderr).toMatch(/not in the sudoers file/);
    } finally {
      await withPassword.teardown();
      await noSudo.teardown();
    }
    expect(await netnsNames()).toEqual(before.netns);
    expect(await linkNames()).toEqual(before.links);
  });
});

// Figures for the report; the bench uses the same count.
describe('light hosts at bench scale', () => {
  it('boots 30 hosts that all answer over ssh', async () => {
    const before = { netns: await netnsNames(), links: await linkNames() };
    const t0 = Date.now();
    const hosts = await startSshHosts({ count: 30 });
    const bootMs = Date.now() - t0;
    console.log(`30 light hosts up in ${bootMs} ms (${os.cpus().length} cores)`);
    try {
      const names = await Promise.all(hosts.hosts.map((h) => ssh(hosts, h.name, 'hostname').then((r) => r.stdout.trim())));
      expect(names).toEqual(hosts.hosts.map((h) => h.name));
    } finally {
      await expectCleanTeardown(hosts, before);
    }
  });
});
