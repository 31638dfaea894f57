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
import { procStart, track, type RunState } from './cleanup.js';
import { abortRun, clientSide, finishRun, openRun, waitForSshd } from './common.js';
import {
  accountFiles,
  etcHosts,
  generateKey,
  knownHostsLine,
  mkdirMode,
  NSSWITCH_CONF,
  RESOLV_CONF,
  sshdConfig,
  sudoersFiles,
  writeFile,
  writeHome,
  type HostPlan,
} from './config.js';
import { execIn } from './handle.js';
import { createBridge, planIps } from './net.js';
import { debug, readTail, run, sleep } from './run.js';
import type { SystemdHostOptions, TestHost, TestHosts } from './types.js';

/** Machines boot in ~2 s each once the rootfs is cached; this bounds a sick one. */
const BOOT_TIMEOUT_MS = 90_000;
/** Full systemd machines are heavier than light hosts: keep a run within what 2 cores boot quickly. */
const MAX_MACHINES = 30;

const BUILD_ROOTFS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'build-rootfs.sh');

/** The cached rootfs (built once by build-rootfs.sh: 3-7 minutes from Debian's mirror, then instant). */
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
  if (opts.count > MAX_MACHINES) throw new Error(`at most ${MAX_MACHINES} systemd machines per run (2 cores), got ${opts.count}`);
  const { state, names, user } = await openRun(opts, { systemd: true });
  const { id, workdir } = state;
  try {
    const rootfs = await systemdRootfs();
    debug(`rootfs ${rootfs}`);
    const prefix = await createBridge(state, opts.prefix);
    const plan: HostPlan[] = planIps(prefix, opts.count, opts.ips).map((ip, i) => ({ name: names[i] ?? '', ip }));
    const client = await clientSide(state, user);
    const basePasswd = await fsp.readFile(path.join(rootfs, 'etc/passwd'), 'utf8');
    const baseGroup = await fsp.readFile(path.join(rootfs, 'etc/group'), 'utf8');
    const uid = freeUid(basePasswd);
    // Every account of the rootfs is the machine's own: keep them all.
    const accounts = accountFiles({ user, uid, passwordHash: client.passwordHash }, basePasswd, baseGroup, () => true);
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
          await mkdirMode(path.join(dir, 'work'), 0o700);
          await mkdirMode(path.join(dir, 'root'), 0o755);
          // Directories of the upper layer hide the metadata of the rootfs's: give them the same modes.
          for (const d of ['etc', 'etc/ssh', 'etc/sudoers.d', 'etc/systemd', 'etc/systemd/network', 'etc/systemd/system', 'home']) {
            await mkdirMode(path.join(upper, d), 0o755);
          }
          await writeFile(path.join(etc, 'hostname'), `${h.name}\n`, 0o644);
          await writeFile(path.join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, 0o444);
          await writeFile(path.join(etc, 'hosts'), hostsFile, 0o644);
          await writeFile(path.join(etc, 'resolv.conf'), RESOLV_CONF, 0o644);
          await writeFile(path.join(etc, 'nsswitch.conf'), NSSWITCH_CONF, 0o644);
          await writeFile(path.join(etc, 'passwd'), accounts.passwd, 0o644);
          await writeFile(path.join(etc, 'group'), accounts.group, 0o644);
          await writeFile(path.join(etc, 'shadow'), accounts.shadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'gshadow'), accounts.gshadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'sudoers'), sudoers.sudoers, 0o440);
          if (sudoers.dropIn) await writeFile(path.join(etc, 'sudoers.d', user), sudoers.dropIn, 0o440);
          await writeFile(path.join(etc, 'systemd', 'network', '10-host0.network'), networkFile(h.ip), 0o644);
          // Debian's sshd with PAM, as on a real machine (logind sessions, pam_limits, …).
          await writeFile(path.join(etc, 'ssh', 'sshd_config'), sshdConfig({ listen: h.ip, user, usePam: true }), 0o644);
          const hostKey = path.join(etc, 'ssh', 'ssh_host_ed25519_key');
          await generateKey(hostKey, `root@${h.name}`);
          await writeHome(path.join(upper, 'home', user), uid, client.publicKey);
          // sshd listens on the static address: it starts once networkd has set it.
          await writeFile(
            path.join(etc, 'systemd', 'system', 'ssh.service.d', 'kcore-wait-address.conf'),
            '[Unit]\nWants=systemd-networkd-wait-online.service\nAfter=systemd-networkd-wait-online.service\n',
            0o644,
          );
          // Recorded before mounting: a failure right after is still cleaned up.
          const merged = path.join(dir, 'root');
          state.mounts.push(merged);
          state.veths.push(`vb-${machineName(id, i)}`);
          track(state);
          await run('mount', ['-t', 'overlay', `kcore-${id}-${i}`, '-o', `lowerdir=${rootfs},upperdir=${upper},workdir=${path.join(dir, 'work')}`, merged]);
          return knownHostsLine(h.ip, hostKey);
        }),
      ),
    );
    debug('overlays mounted');

    const hosts: TestHost[] = [];
    for (const [i, h] of plan.entries()) hosts.push(await bootMachine(state, h, machineName(id, i)));
    debug('machines started');
    await waitForSshd(hosts, Date.now() + BOOT_TIMEOUT_MS, (h) => diagnose(h));
    // Boot finished (every unit started or failed): tests then look at their own units.
    await Promise.all(hosts.map((h) => execIn(h, 'systemctl is-system-running --wait >/dev/null 2>&1; true', { timeoutMs: BOOT_TIMEOUT_MS })));
    debug('sshd answering, boot finished');
    return await finishRun(state, { plan, hosts, user, client, knownHostsLines, prefix });
  } catch (err) {
    return abortRun(state, err);
  }
}

/**
 * Cgroup directories for one machine, below this process's own cgroup, in the hierarchies nspawn
 * uses for the machine's tree: the unified one (cgroup v2), and on hybrid/legacy hosts also the
 * named v1 "systemd" one.
 */
function machineCgroupDirs(name: string): string[] {
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const pathIn = (controllers: string): string | undefined => {
    const line = own.find((l) => l.split(':')[1] === controllers);
    return line?.split(':').slice(2).join(':');
  };
  const v2 = pathIn('');
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return v2 === undefined ? [] : [path.join('/sys/fs/cgroup', v2, name)];
  const dirs: string[] = [];
  const v1 = pathIn('name=systemd');
  if (v1 !== undefined && fs.existsSync('/sys/fs/cgroup/systemd/cgroup.procs')) dirs.push(path.join('/sys/fs/cgroup/systemd', v1, name));
  if (v2 !== undefined && fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs')) dirs.push(path.join('/sys/fs/cgroup/unified', v2, name));
  return dirs;
}

/** nspawn's machine name: unique per run, short enough for the host-side veth "vb-<name>" (15 chars). */
function machineName(id: string, i: number): string {
  return `kc${id}${i}`;
}

/** Starts one machine and records nspawn's PID and its leader's (the machine's PID 1). */
async function bootMachine(state: RunState, h: HostPlan, machine: string): Promise<TestHost> {
  const dir = path.join(state.workdir, 'machines', h.name);
  const logFile = path.join(dir, 'console.log');
  const log = fs.openSync(logFile, 'a', 0o600);
  // Each machine in a cgroup of its own: nspawn (which stays in its cgroup, --keep-unit) splits it
  // into supervisor/ and payload/, and machines sharing one would trample each other's units.
  const cgroups = machineCgroupDirs(`kcore-${machine}`);
  state.cgroups = [...(state.cgroups ?? []), ...cgroups];
  track(state);
  for (const dir of cgroups) fs.mkdirSync(dir);
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      // Join the machine's cgroups, then become nspawn (same PID).
      'for d in $KC_CGROUPS; do echo $$ > "$d/cgroup.procs"; done; exec systemd-nspawn "$@"',
      'kcore-machine',
      '--boot',
      `--directory=${path.join(dir, 'root')}`,
      `--machine=${machine}`,
      `--hostname=${h.name}`,
      `--network-bridge=${state.bridge}`,
      // No systemd as PID 1 on this machine: no machined to register with, no scope to create.
      '--register=no',
      '--keep-unit',
      // The console is a pipe into console.log (the journal is forwarded there, see build-rootfs.sh).
      '--console=pipe',
      // Leave the machine's own resolv.conf, timezone and journal alone.
      '--resolv-conf=off',
      '--timezone=off',
      '--link-journal=no',
    ],
    { stdio: ['ignore', log, log], detached: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', SYSTEMD_NSPAWN_TMPFS_TMP: '1', KC_CGROUPS: cgroups.join(' ') } },
  );
  fs.closeSync(log);
  child.unref(); // a forgotten teardown must not keep the test process alive; the exit backstop cleans up
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
  // The host side of the machine's veth is a port of our bridge: no IPv6 on it either.
  const veth = `/proc/sys/net/ipv6/conf/vb-${machine}/disable_ipv6`;
  if (fs.existsSync(veth)) fs.writeFileSync(veth, '1');
  return { name: h.name, ip: h.ip, port: 22, pid: leader, kind: 'systemd', logFile };
}

/** What a machine that did not come up has to say: its console and, if it still runs, its failed units. */
async function diagnose(h: TestHost): Promise<string> {
  let units = '';
  try {
    units = (await execIn(h, 'systemctl --failed --no-pager; systemctl status ssh --no-pager -n 20', { timeoutMs: 10_000 })).stdout;
  } catch {
    units = '(machine not reachable for diagnosis)';
  }
  return `console:\n${readTail(h.logFile)}\n${units}`;
}
