// Light hosts: one network namespace + private mount and UTS namespaces + one `sshd -D` per host.
//
// Each host process is started as
//   ip netns exec <ns> unshare --mount --uts -- /bin/sh -c <HOST_SCRIPT>
// where HOST_SCRIPT sets the hostname, layers overlays over /etc, /var, /usr and /opt (so nothing a
// test or a role writes there reaches this machine), binds the host's own /etc/ssh and
// /etc/sudoers.d, hides this machine's homes, /tmp and the workdir behind tmpfs, and finally
// execs sshd. `ip netns exec`, `unshare` and `sh` all exec in place, so the PID we spawn is sshd's.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { ownerIdentity, procStart, isAlive, reapStale, track, type RunState } from './cleanup.js';
import {
  accountFiles,
  checkNames,
  etcHosts,
  generateKey,
  knownHostsLine,
  makePassword,
  NSSWITCH_CONF,
  RESOLV_CONF,
  sshConfig,
  sshdConfig,
  sudoersFiles,
  writeFile,
  writeHome,
  type HostPlan,
} from './config.js';
import { makeHandle } from './handle.js';
import { choosePrefix, claimBridgeAddress, planIps, waitForTcp } from './net.js';
import { canRunHosts } from './preflight.js';
import { debug, run } from './run.js';
import type { SshHostOptions, TestHost, TestHosts } from './types.js';

/** Top-level directories overlaid per host: writes there stay in the host's workdir. */
const OVERLAID = ['etc', 'var', 'usr', 'opt'];

const HOST_SCRIPT = String.raw`
set -eu
d="$KC_HOST_DIR"
hostname "$KC_HOSTNAME"
for top in ${OVERLAID.join(' ')}; do
  [ -d "/$top" ] || continue
  mount -t overlay "kcore-$top" -o "lowerdir=/$top,upperdir=$d/upper/$top,workdir=$d/work/$top" "/$top"
done
mount --bind "$d/ssh" /etc/ssh
mount --bind "$d/sudoers.d" /etc/sudoers.d
mount -t tmpfs -o mode=0700 kcore-root /root
mount -t tmpfs -o mode=0755 kcore-home /home
mkdir "/home/$KC_USER"
mount --bind "$d/home" "/home/$KC_USER"
mount -t tmpfs -o mode=0755 kcore-run /run
mkdir -m 0755 /run/sshd /run/lock
mount -t tmpfs -o mode=1777 kcore-tmp /tmp
mount -t tmpfs -o mode=1777 kcore-vartmp /var/tmp
# The workdir holds every host's keys: hide it even if it is not under /tmp.
if [ -d "$KC_WORKDIR" ]; then mount -t tmpfs -o mode=0700 kcore-hidden "$KC_WORKDIR"; fi
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
`;

/** The base accounts of a fresh Debian (static UIDs/GIDs below 100, nobody/nogroup) plus sshd's privsep user. */
const keepBaseAccount = (name: string, id: number): boolean => id < 100 || id === 65534 || name === 'sshd';

/** A UID/GID free on this machine, so the test user owns nothing of this machine's files. */
function freeUid(passwd: string, group: string): number {
  const used = new Set([...passwd.split('\n'), ...group.split('\n')].map((l) => Number(l.split(':')[2])));
  for (let uid = 1000; uid < 60_000; uid++) if (!used.has(uid)) return uid;
  throw new Error('no free UID for the test user');
}

export function defaultNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `host${i + 1}`);
}

export async function startSshHosts(opts: SshHostOptions): Promise<TestHosts> {
  const pre = await canRunHosts();
  if (!pre.ok) throw new Error(`cannot run test hosts: ${pre.reason}`);
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 250) throw new Error(`count must be 1..250, got ${opts.count}`);
  const names = opts.names ?? defaultNames(opts.count);
  if (names.length !== opts.count) throw new Error(`names has ${names.length} entries for count ${opts.count}`);
  checkNames(names);
  const user = opts.user ?? 'kcore';
  const sudo = opts.sudo ?? 'nopasswd';
  reapStale();

  const id = randomBytes(3).toString('hex');
  const workdir = await fsp.mkdtemp('/tmp/kcore-hosts-');
  const state: RunState = { id, owner: ownerIdentity(), workdir, netns: [], veths: [], procs: [], mounts: [] };
  track(state);
  const handleFields = { user, workdir } as const;
  try {
    const prefix = await createBridge(state, opts.prefix);
    debug(`bridge ${state.bridge} ${prefix}.1/24`);
    const plan: HostPlan[] = planIps(prefix, opts.count, opts.ips).map((ip, i) => ({ name: names[i] ?? '', ip }));

    // Client side: the key every host accepts.
    const identityFile = path.join(workdir, 'id_ed25519');
    const publicKey = await generateKey(identityFile, `${user}@kcore-test-hosts`);
    const { password, hash } = await makePassword();
    const basePasswd = fs.readFileSync('/etc/passwd', 'utf8');
    const baseGroup = fs.readFileSync('/etc/group', 'utf8');
    const uid = freeUid(basePasswd, baseGroup);
    const accounts = accountFiles({ user, uid, passwordHash: hash }, basePasswd, baseGroup, keepBaseAccount);
    const shadowGid = Number(/^shadow:x:(\d+):/m.exec(accounts.group)?.[1] ?? 0);
    const sudoers = sudoersFiles(user, sudo);
    const hostsFile = etcHosts(plan);
    const moduli = path.join(workdir, 'moduli');
    if (fs.existsSync('/etc/ssh/moduli')) await fsp.copyFile('/etc/ssh/moduli', moduli);

    // Per-host files. ssh-keygen dominates; a few at a time keeps the 2 cores busy without thrashing.
    const limit = pLimit(4);
    const knownHostsLines = await Promise.all(
      plan.map((h) =>
        limit(async () => {
          const dir = path.join(workdir, 'hosts', h.name);
          for (const top of OVERLAID) {
            await fsp.mkdir(path.join(dir, 'upper', top), { recursive: true, mode: 0o755 });
            await fsp.mkdir(path.join(dir, 'work', top), { recursive: true, mode: 0o755 });
          }
          const etc = path.join(dir, 'upper', 'etc');
          await fsp.chmod(etc, 0o755);
          await writeFile(path.join(etc, 'passwd'), accounts.passwd, 0o644);
          await writeFile(path.join(etc, 'group'), accounts.group, 0o644);
          await writeFile(path.join(etc, 'shadow'), accounts.shadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'gshadow'), accounts.gshadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'sudoers'), sudoers.sudoers, 0o440);
          await writeFile(path.join(etc, 'hosts'), hostsFile, 0o644);
          await writeFile(path.join(etc, 'hostname'), `${h.name}\n`, 0o644);
          await writeFile(path.join(etc, 'resolv.conf'), RESOLV_CONF, 0o644);
          await writeFile(path.join(etc, 'nsswitch.conf'), NSSWITCH_CONF, 0o644);
          await fsp.mkdir(path.join(dir, 'sudoers.d'), { mode: 0o755 });
          if (sudoers.dropIn) await writeFile(path.join(dir, 'sudoers.d', user), sudoers.dropIn, 0o440);
          const ssh = path.join(dir, 'ssh');
          await fsp.mkdir(ssh, { mode: 0o755 });
          await writeFile(path.join(ssh, 'sshd_config'), sshdConfig(h.ip, user, { usePam: false }), 0o644);
          await writeFile(path.join(ssh, 'ssh_config'), 'Host *\n  SendEnv LANG LC_*\n  HashKnownHosts no\n', 0o644);
          if (fs.existsSync(moduli)) await fsp.link(moduli, path.join(ssh, 'moduli'));
          const hostKey = path.join(ssh, 'ssh_host_ed25519_key');
          await generateKey(hostKey, `root@${h.name}`);
          await writeHome(path.join(dir, 'home'), uid, publicKey);
          return knownHostsLine(h.ip, hostKey);
        }),
      ),
    );

    debug(`host files and keys written`);
    await createNamespaces(state, plan);
    debug(`namespaces and links up`);
    const hosts = plan.map((h) => spawnHost(state, h, user));
    await waitReady(hosts, Date.now() + 10_000 + 500 * hosts.length);
    debug(`${hosts.length} sshd answering`);

    const sshConfigPath = path.join(workdir, 'ssh_config');
    await writeFile(sshConfigPath, sshConfig(plan, user, identityFile), 0o644);
    const knownHostsPath = path.join(workdir, 'known_hosts');
    await writeFile(knownHostsPath, `${knownHostsLines.join('\n')}\n`, 0o644);
    return makeHandle(state, {
      ...handleFields,
      hosts,
      password,
      identityFile,
      knownHostsLines,
      knownHostsPath,
      prefix,
      bridge: state.bridge ?? '',
      sshConfigPath,
    });
  } catch (err) {
    // Leave nothing behind on a failed start; keep the original error.
    await makeHandle(state, { ...handleFields, hosts: [], password: '', identityFile: '', knownHostsLines: [], knownHostsPath: '', prefix: '', bridge: '', sshConfigPath: '' })
      .teardown()
      .catch(() => undefined);
    throw err;
  }
}

/**
 * Creates the run's bridge and gives it the .1 address of a free /24. Shared with systemd machines.
 * The bridge name is recorded before it exists so that a failure halfway is still cleaned up.
 */
export async function createBridge(state: RunState, requested: string | undefined): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const prefix = await choosePrefix(requested);
    const bridge = `kcbr${state.id}${attempt}`;
    state.bridge = bridge;
    track(state);
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    // No IPv6 (no link-local chatter), no STP delay: the bridge is a plain private switch.
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
    if (await claimBridgeAddress(bridge, prefix)) {
      await run('ip', ['link', 'set', bridge, 'up']);
      return prefix;
    }
    // A concurrent run took the same /24 at the same moment: give it up and pick again.
    await run('ip', ['link', 'delete', bridge]);
    if (requested !== undefined) throw new Error(`test prefix ${requested}.0/24 was taken concurrently`);
  }
  throw new Error('could not claim a free test prefix after 5 attempts');
}

/** One namespace per host, a veth pair whose inner end is the host's eth0, plugged into the bridge. */
async function createNamespaces(state: RunState, plan: readonly HostPlan[]): Promise<void> {
  const bridge = state.bridge ?? '';
  const rootBatch: string[] = [];
  plan.forEach((h, i) => {
    const ns = `kc-${state.id}-${h.name}`;
    const veth = `kv${state.id}${i}`;
    state.netns.push(ns);
    state.veths.push(veth);
    rootBatch.push(`netns add ${ns}`, `link add ${veth} type veth peer name eth0 netns ${ns}`);
  });
  track(state);
  await run('ip', ['-batch', '-'], { input: `${rootBatch.join('\n')}\n` });
  for (const veth of state.veths) fs.writeFileSync(`/proc/sys/net/ipv6/conf/${veth}/disable_ipv6`, '1');
  const upBatch = state.veths.map((veth) => `link set ${veth} master ${bridge} up`);
  await run('ip', ['-batch', '-'], { input: `${upBatch.join('\n')}\n` });
  const limit = pLimit(4);
  await Promise.all(
    plan.map((h, i) =>
      limit(() =>
        run('ip', ['-netns', state.netns[i] ?? '', '-batch', '-'], {
          input: ['link set lo up', `addr add ${h.ip}/24 dev eth0`, 'link set eth0 up', ''].join('\n'),
        }),
      ),
    ),
  );
}

function spawnHost(state: RunState, h: HostPlan, user: string): TestHost {
  const ns = `kc-${state.id}-${h.name}`;
  const dir = path.join(state.workdir, 'hosts', h.name);
  const logFile = path.join(dir, 'sshd.log');
  const log = fs.openSync(logFile, 'a', 0o600);
  const child = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--uts', '--propagation', 'private', '--', '/bin/sh', '-c', HOST_SCRIPT], {
    stdio: ['ignore', log, log],
    detached: true, // its own session: a Ctrl-C on the terminal reaches the test process, which cleans up
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      KC_HOST_DIR: dir,
      KC_HOSTNAME: h.name,
      KC_USER: user,
      KC_WORKDIR: state.workdir,
    },
  });
  fs.closeSync(log);
  child.unref(); // a forgotten teardown must not keep the test process alive; the exit backstop cleans up
  const pid = child.pid;
  const start = pid === undefined ? undefined : procStart(pid);
  if (pid === undefined || start === undefined) throw new Error(`could not start the host process of ${h.name}: ${fs.readFileSync(logFile, 'utf8')}`);
  state.procs.push({ pid, start, role: 'sshd' });
  track(state);
  return { name: h.name, ip: h.ip, port: 22, pid, kind: 'light', logFile };
}

async function waitReady(hosts: readonly TestHost[], deadline: number): Promise<void> {
  const results = await Promise.all(
    hosts.map(async (h) => {
      const start = procStart(h.pid) ?? '';
      const ok = await waitForTcp(h.ip, h.port, deadline, () => isAlive({ pid: h.pid, start }));
      return { h, ok };
    }),
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    const details = failed.map(({ h }) => `--- ${h.name} (${h.ip}) sshd log:\n${readTail(h.logFile)}`).join('\n');
    throw new Error(`${failed.length} of ${hosts.length} test hosts did not start sshd in time\n${details}`);
  }
}

export function readTail(file: string, bytes = 4_000): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '(no log)';
  }
}
