// The real test hosts themselves: every other integration test stands on them, so this checks what
// they promise with the real OpenSSH client, from the outside, and that teardown leaves nothing.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, startSystemdHosts, systemdRootfs, type TestHosts } from '../hosts/index.js';

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

/**
 * After teardown nothing of the run may be left: no namespace or link carrying its id (every name
 * it creates does), not its bridge, none of its PIDs, not its workdir. Other runs on this machine
 * (other tests, other people's containers) may add or remove their own links meanwhile, so the
 * check is on this run's names rather than on a before/after diff of the whole machine.
 */
async function expectCleanTeardown(hosts: TestHosts): Promise<void> {
  const pids = hosts.hosts.map((h) => h.pid);
  const ours = (name: string): boolean => name.includes(hosts.id);
  expect((await linkNames()).filter(ours)).not.toEqual([]); // the check below can see our names
  await hosts.teardown();
  await hosts.teardown(); // idempotent
  expect((await netnsNames()).filter(ours)).toEqual([]);
  expect((await linkNames()).filter(ours)).toEqual([]);
  expect(await linkNames()).not.toContain(hosts.bridge);
  expect(pids.filter((pid) => !pidGone(pid))).toEqual([]);
  expect(fs.existsSync(hosts.workdir)).toBe(false);
  expect(fs.existsSync(`/run/kcore-wizard-test-hosts/${hosts.id}.json`)).toBe(false);
}

beforeAll(async () => {
  // Fail loudly, never skip: a machine that cannot run the hosts cannot run any integration test.
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`test hosts cannot run here: ${can.reason}`);
});

describe('light hosts (network namespace + sshd)', () => {
  const names = ['etcd1', 'master1', 'worker1', 'worker2'];
  let hosts: TestHosts;
  // A file in this machine's /root that no host may see.
  const canary = path.join('/root', `.kcore-hosts-canary-${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
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
    await expectCleanTeardown(hosts);
  });
});

describe('light hosts: sudo modes', () => {
  it("'password' makes sudo ask for the password, 'none' gives no sudo at all", async () => {
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
      await expectCleanTeardown(withPassword);
      await expectCleanTeardown(noSudo);
    }
  });
});

// Figures for the report; the bench uses the same count.
describe('light hosts at bench scale', () => {
  it('boots 30 hosts that all answer over ssh', async () => {
    const t0 = Date.now();
    const hosts = await startSshHosts({ count: 30 });
    const bootMs = Date.now() - t0;
    console.log(`30 light hosts up in ${bootMs} ms (${os.cpus().length} cores)`);
    try {
      const names = await Promise.all(hosts.hosts.map((h) => ssh(hosts, h.name, 'hostname').then((r) => r.stdout.trim())));
      expect(names).toEqual(hosts.hosts.map((h) => h.name));
    } finally {
      await expectCleanTeardown(hosts);
    }
  });
});

describe('systemd hosts (systemd-nspawn machines)', () => {
  const names = ['etcd1', 'etcd2', 'etcd3'];
  let hosts: TestHosts;

  beforeAll(async () => {
    const can = await canRunHosts({ systemd: true });
    if (!can.ok) throw new Error(`systemd test machines cannot run here: ${can.reason}`);
    // The rootfs is built once and cached; time it apart from the boot.
    const t0 = Date.now();
    await systemdRootfs();
    const t1 = Date.now();
    hosts = await startSystemdHosts({ count: 3, names, ips: [101, 102, 103] });
    console.log(`rootfs ready in ${t1 - t0} ms; 3 systemd machines up in ${Date.now() - t1} ms on ${hosts.prefix}.0/24`);
  });

  afterAll(async () => {
    await hosts?.teardown();
  });

  it('boots systemd to a running system, reached over ssh with the real host keys', async () => {
    for (const h of hosts.hosts) {
      const r = await ssh(hosts, h.name, 'hostname; id -un; systemctl is-system-running --wait; ip -4 -o addr show dev host0');
      const failed = (await hosts.exec(h, 'systemctl --failed --no-pager --plain; journalctl -b -p warning --no-pager | tail -40')).stdout;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}\n${failed}`).toBe(0);
      const [hostname, user, state, addr] = r.stdout.trim().split('\n');
      expect(hostname).toBe(h.name);
      expect(user).toBe(hosts.user);
      expect(state, failed).toBe('running');
      expect(addr).toContain(`inet ${h.ip}/24`);
    }
    expect(hosts.hosts.map((h) => h.ip)).toEqual([101, 102, 103].map((n) => `${hosts.prefix}.${n}`));
  });

  it('runs a real unit that the login user manages with sudo systemctl', async () => {
    const unit = '[Unit]\nDescription=kcore test unit\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n';
    const r = await ssh(
      hosts,
      'etcd2',
      'sudo -n tee /etc/systemd/system/kcore-probe.service >/dev/null && sudo -n systemctl daemon-reload && sudo -n systemctl enable --now kcore-probe && sudo -n systemctl restart kcore-probe && systemctl is-active kcore-probe',
      unit,
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('active');
    // exec() is inside the machine too (its PID namespace: its systemd is PID 1).
    expect((await hosts.exec('etcd2', 'systemctl stop kcore-probe; systemctl is-active kcore-probe; cat /proc/1/comm')).stdout).toBe('inactive\nsystemd\n');
  });

  it('has no default route, no resolver, and the test hosts in /etc/hosts', async () => {
    for (const h of hosts.hosts) {
      const r = await hosts.exec(h, 'ip -4 route show; echo ---; getent hosts etcd3; echo ---; grep -c nameserver /etc/resolv.conf || true');
      const [routes, resolved, nameservers] = r.stdout.split('---\n');
      expect(routes?.trim()).toBe(`${hosts.prefix}.0/24 dev host0 proto kernel scope link src ${h.ip}`);
      expect(resolved?.trim()).toMatch(/\.103\s+etcd3$/);
      expect(nameservers?.trim()).toBe('0');
    }
  });

  it('lets machines reach each other over the bridge (ping and TCP)', async () => {
    const target = hosts.host('etcd3');
    const r = await ssh(hosts, 'etcd1', `ping -c 1 -W 2 ${target.ip} >/dev/null && echo PING; timeout 5 bash -c 'exec 3<>/dev/tcp/${target.ip}/22 && head -c 7 <&3'`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('PING\nSSH-2.0');
  });

  it("shows the machine its own /root, not this machine's, and keeps its writes off this machine", async () => {
    const canary = path.join('/root', `.kcore-machines-canary-${randomBytes(4).toString('hex')}`);
    fs.writeFileSync(canary, 'this machine only\n');
    try {
      const r = await hosts.exec('etcd1', `test -e ${canary} || echo hidden; echo x > /etc/kcore-machine-write; cat /etc/kcore-test-rootfs`);
      expect(r.stdout).toMatch(/^hidden\nkcore-wizard test rootfs bookworm/);
    } finally {
      fs.rmSync(canary, { force: true });
    }
    expect(fs.existsSync('/etc/kcore-machine-write')).toBe(false);
    expect((await hosts.exec('etcd2', 'test -e /etc/kcore-machine-write')).exitCode).not.toBe(0);
  });

  it('tears down every machine, link, mount and file', async () => {
    const mounts = (): string => fs.readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts()).toContain(hosts.workdir);
    await expectCleanTeardown(hosts);
    expect(mounts()).not.toContain(hosts.workdir);
    // The machines' cgroups (one per machine, named after the run) are gone too.
    for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((d) => fs.existsSync(d))) {
      expect(fs.readdirSync(root).filter((n) => n.includes(hosts.id))).toEqual([]);
    }
  });
});
