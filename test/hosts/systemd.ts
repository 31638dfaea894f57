// Systemd machines: `systemd-nspawn -b` booting full systemd from the cached Debian rootfs
// (build-rootfs.sh), each over its own overlay, on the run's private bridge (--network-bridge).
//
// Per machine, before boot, the overlay's upper layer gets the machine's identity: hostname,
// machine-id, a static address on host0 (systemd-networkd, no gateway), /etc/hosts with the test
// machines only, the dummy resolv.conf, the login user with the test key and sudo, and sshd's
// config and host key. The machines' processes are recorded by PID (nspawn and the machine's
// PID 1); teardown kills them by PID and unmounts the recorded overlays.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { isAlive, ownerIdentity, procStart, reapStale, track, type RunState } from './cleanup.js';
import {
  accountFiles,
  checkNames,
  defaultNames,
  etcHosts,
  generateKey,
  knownHostsLine,
  makePassword,
  RESOLV_CONF,
  sshConfig,
  sshdConfig,
  sudoersFiles,
  writeFile,
  writeHome,
  type HostPlan,
} from './config.js';
import { execIn, makeHandle } from './handle.js';
import { createBridge, planIps, waitForTcp } from './net.js';
import { canRunHosts } from './preflight.js';
import { debug, readTail, run, sleep } from './run.js';
import type { SystemdHostOptions, TestHost, TestHosts } from './types.js';

const BUILD_ROOTFS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'build-rootfs.sh');

/** The cached rootfs (built once, ~1 minute, by build-rootfs.sh). */
export async function systemdRootfs(): Promise<string> {
  const out = await run('bash', [BUILD_ROOTFS], { timeoutMs: 1_800_000 });
  const dir = out.trim().split('\n').pop() ?? '';
  if (!fs.existsSync(path.join(dir, 'etc', 'kcore-test-rootfs'))) throw new Error(`build-rootfs.sh printed no rootfs (got "${dir}")`);
  return dir;
}

function freeUid(passwd: string): number {
  const used = new Set(passwd.split('\n').map((l) => Number(l.split(':')[2])));
  for (let uid = 1000; uid < 60_000; uid++) if (!used.has(uid)) return uid;
  throw new Error('no free UID for the test user');
}

function networkFile(ip: string): string {
  return [
    '# kcore-wizard test machine: a static address on the private bridge, no gateway, no DNS.',
    '[Match]',
    'Name=host0',
    '',
    '[Network]',
    `Address=${ip}/24`,
    'LinkLocalAddressing=no',
    'IPv6AcceptRA=no',
    '',
  ].join('\n');
}

/** PID of the machine's init (the child nspawn forks into the new PID namespace). */
async function leaderOf(nspawnPid: number, deadline: number): Promise<number | undefined> {
  while (Date.now() < deadline) {
    try {
      for (const task of fs.readdirSync(`/proc/${nspawnPid}/task`)) {
        const children = fs.readFileSync(`/proc/${nspawnPid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        for (const c of children) {
          // The leader is in a PID namespace of its own, where it is PID 1.
          const status = fs.readFileSync(`/proc/${c}/status`, 'utf8');
          const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
          if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === '1') return c;
        }
      }
    } catch {
      // nspawn still setting up, or gone (checked by the caller)
    }
    await sleep(50);
  }
  return undefined;
}

export async function startSystemdHosts(opts: SystemdHostOptions): Promise<TestHosts> {
  const pre = await canRunHosts({ systemd: true });
  if (!pre.ok) throw new Error(`cannot run systemd test machines: ${pre.reason}`);
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 30) throw new Error(`count must be 1..30, got ${opts.count}`);
  const names = opts.names ?? defaultNames(opts.count);
  if (names.length !== opts.count) throw new Error(`names has ${names.length} entries for count ${opts.count}`);
  checkNames(names);
  const user = opts.user ?? 'kcore';
  reapStale();
  const rootfs = await systemdRootfs();
  debug(`rootfs ${rootfs}`);

  const id = randomBytes(3).toString('hex');
  const workdir = await fsp.mkdtemp('/tmp/kcore-machines-');
  const state: RunState = { id, owner: ownerIdentity(), workdir, netns: [], veths: [], procs: [], mounts: [] };
  track(state);
  const handleFields = { user, workdir } as const;
  try {
    const prefix = await createBridge(state, opts.prefix);
    const plan: HostPlan[] = planIps(prefix, opts.count, opts.ips).map((ip, i) => ({ name: names[i] ?? '', ip }));
    const identityFile = path.join(workdir, 'id_ed25519');
    const publicKey = await generateKey(identityFile, `${user}@kcore-test-machines`);
    const { password, hash } = await makePassword();
    const basePasswd = await fsp.readFile(path.join(rootfs, 'etc/passwd'), 'utf8');
    const baseGroup = await fsp.readFile(path.join(rootfs, 'etc/group'), 'utf8');
    const uid = freeUid(basePasswd);
    // Every account of the rootfs is the machine's own: keep them all.
    const accounts = accountFiles({ user, uid, passwordHash: hash }, basePasswd, baseGroup, () => true);
    const shadowGid = Number(/^shadow:x:(\d+):/m.exec(accounts.group)?.[1] ?? 0);
    const sudoers = sudoersFiles(user, 'nopasswd');
    const hostsFile = etcHosts(plan);

    const limit = pLimit(4);
    const knownHostsLines = await Promise.all(
      plan.map((h, i) =>
        limit(async () => {
          const dir = path.join(workdir, 'machines', h.name);
          const upper = path.join(dir, 'upper');
          const etc = path.join(upper, 'etc');
          await fsp.mkdir(path.join(dir, 'work'), { recursive: true });
          await fsp.mkdir(path.join(dir, 'root'), { recursive: true });
          await fsp.mkdir(etc, { recursive: true, mode: 0o755 });
          await writeFile(path.join(etc, 'hostname'), `${h.name}\n`, 0o644);
          await writeFile(path.join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, 0o444);
          await writeFile(path.join(etc, 'hosts'), hostsFile, 0o644);
          await writeFile(path.join(etc, 'resolv.conf'), RESOLV_CONF, 0o644);
          await writeFile(path.join(etc, 'passwd'), accounts.passwd, 0o644);
          await writeFile(path.join(etc, 'group'), accounts.group, 0o644);
          await writeFile(path.join(etc, 'shadow'), accounts.shadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'gshadow'), accounts.gshadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'sudoers'), sudoers.sudoers, 0o440);
          if (sudoers.dropIn) await writeFile(path.join(etc, 'sudoers.d', user), sudoers.dropIn, 0o440);
          await writeFile(path.join(etc, 'systemd', 'network', '10-host0.network'), networkFile(h.ip), 0o644);
          await writeFile(path.join(etc, 'ssh', 'sshd_config'), sshdConfig(h.ip, user, { usePam: false }), 0o644);
          const hostKey = path.join(etc, 'ssh', 'ssh_host_ed25519_key');
          await generateKey(hostKey, `root@${h.name}`);
          await writeHome(path.join(upper, 'home', user), uid, publicKey);
          // sshd listens on the static address: it may start once networkd has set it.
          await writeFile(
            path.join(etc, 'systemd', 'system', 'ssh.service.d', 'kcore-wait-address.conf'),
            '[Unit]\nWants=systemd-networkd-wait-online.service\nAfter=systemd-networkd-wait-online.service\n',
            0o644,
          );
          // Recorded before mounting: a failure right after is still cleaned up.
          const merged = path.join(dir, 'root');
          state.mounts.push(merged);
          state.veths.push(`vb-kc${id}${i}`);
          track(state);
          await run('mount', ['-t', 'overlay', `kcore-${id}-${i}`, '-o', `lowerdir=${rootfs},upperdir=${upper},workdir=${path.join(dir, 'work')}`, merged]);
          return knownHostsLine(h.ip, hostKey);
        }),
      ),
    );
    debug('overlays mounted');

    const hosts: TestHost[] = [];
    const deadline = Date.now() + 90_000;
    for (const [i, h] of plan.entries()) {
      const dir = path.join(workdir, 'machines', h.name);
      const logFile = path.join(dir, 'console.log');
      const log = fs.openSync(logFile, 'a', 0o600);
      const child = spawn(
        'systemd-nspawn',
        ['--boot', `--directory=${path.join(dir, 'root')}`, `--machine=kc${id}${i}`, `--hostname=${h.name}`, `--network-bridge=${state.bridge}`, '--register=no', '--keep-unit', '--console=pipe', '--quiet'],
        { stdio: ['ignore', log, log], detached: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', SYSTEMD_NSPAWN_TMPFS_TMP: '1' } },
      );
      fs.closeSync(log);
      child.unref();
      const pid = child.pid;
      const start = pid === undefined ? undefined : procStart(pid);
      if (pid === undefined || start === undefined) throw new Error(`systemd-nspawn for ${h.name} did not start: ${readTail(logFile)}`);
      state.procs.push({ pid, start, role: 'nspawn' });
      track(state);
      const leader = await leaderOf(pid, Date.now() + 20_000);
      const leaderStart = leader === undefined ? undefined : procStart(leader);
      if (leader === undefined || leaderStart === undefined) throw new Error(`machine ${h.name} did not boot: ${readTail(logFile)}`);
      state.procs.push({ pid: leader, start: leaderStart, role: 'leader' });
      track(state);
      hosts.push({ name: h.name, ip: h.ip, port: 22, pid: leader, kind: 'systemd', logFile });
    }
    debug('machines started');

    await Promise.all(
      hosts.map(async (h) => {
        const nspawn = state.procs.find((p) => p.role === 'leader' && p.pid === h.pid)!;
        if (!(await waitForTcp(h.ip, 22, deadline, () => isAlive(nspawn))))
          throw new Error(`machine ${h.name} (${h.ip}) did not answer on port 22 within 90 s. Console:\n${readTail(h.logFile)}`);
        // Boot finished (units started), whatever its verdict: tests look at their own units.
        await execIn(h, 'systemctl is-system-running --wait >/dev/null 2>&1; true', { timeoutMs: 90_000 });
      }),
    );
    debug('sshd answering, boot finished');

    const sshConfigPath = path.join(workdir, 'ssh_config');
    await writeFile(sshConfigPath, sshConfig(plan, user, identityFile), 0o644);
    const knownHostsPath = path.join(workdir, 'known_hosts');
    await writeFile(knownHostsPath, `${knownHostsLines.join('\n')}\n`, 0o644);
    return makeHandle(state, { ...handleFields, hosts, password, identityFile, knownHostsLines, knownHostsPath, prefix, bridge: state.bridge ?? '', sshConfigPath });
  } catch (err) {
    await makeHandle(state, { ...handleFields, hosts: [], password: '', identityFile: '', knownHostsLines: [], knownHostsPath: '', prefix: '', bridge: '', sshConfigPath: '' })
      .teardown()
      .catch(() => undefined);
    throw err;
  }
}
