// Light hosts: one network namespace + private mount and UTS namespaces + one `sshd -D` per host.
//
// Each host process is started as
//   ip netns exec <ns> unshare --mount --uts -- /bin/sh -c <HOST_SCRIPT>
// where HOST_SCRIPT sets the hostname, layers overlays over /etc, /var, /usr and /opt (so nothing a
// test or a role writes there reaches this machine), binds the host's own /etc/ssh and
// /etc/sudoers.d, hides this machine's homes, /tmp and the workdir behind tmpfs, and finally
// execs sshd. `ip netns exec`, `unshare` and `sh` all exec in place, so the PID we spawn is sshd's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
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
import { createBridge, planIps } from './net.js';
import { debug, readTail, run } from './run.js';
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

export async function startSshHosts(opts: SshHostOptions): Promise<TestHosts> {
  const { state, names, user } = await openRun(opts, { systemd: false });
  const sudo = opts.sudo ?? 'nopasswd';
  try {
    const prefix = await createBridge(state, opts.prefix);
    debug(`bridge ${state.bridge} ${prefix}.1/24`);
    const plan: HostPlan[] = planIps(prefix, opts.count, opts.ips).map((ip, i) => ({ name: names[i] ?? '', ip }));
    const client = await clientSide(state, user);
    const basePasswd = fs.readFileSync('/etc/passwd', 'utf8');
    const baseGroup = fs.readFileSync('/etc/group', 'utf8');
    const uid = freeUid(basePasswd, baseGroup);
    const accounts = accountFiles({ user, uid, passwordHash: client.passwordHash }, basePasswd, baseGroup, keepBaseAccount);
    const shadowGid = Number(/^shadow:x:(\d+):/m.exec(accounts.group)?.[1] ?? 0);
    const sudoers = sudoersFiles(user, sudo);
    const hostsFile = etcHosts(plan);
    // One copy of the DH moduli, hard-linked into every host's /etc/ssh.
    const moduli = path.join(state.workdir, 'moduli');
    if (fs.existsSync('/etc/ssh/moduli')) await fsp.copyFile('/etc/ssh/moduli', moduli);

    // Per-host files. ssh-keygen dominates; a few at a time keeps the 2 cores busy without thrashing.
    const limit = pLimit(4);
    const knownHostsLines = await Promise.all(
      plan.map((h) =>
        limit(async () => {
          const dir = path.join(state.workdir, 'hosts', h.name);
          for (const top of OVERLAID) {
            await mkdirMode(path.join(dir, 'upper', top), 0o755);
            await mkdirMode(path.join(dir, 'work', top), 0o755);
          }
          // Files in the /etc overlay's upper layer replace this machine's for the host only.
          const etc = path.join(dir, 'upper', 'etc');
          await writeFile(path.join(etc, 'passwd'), accounts.passwd, 0o644);
          await writeFile(path.join(etc, 'group'), accounts.group, 0o644);
          await writeFile(path.join(etc, 'shadow'), accounts.shadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'gshadow'), accounts.gshadow, 0o640, 0, shadowGid);
          await writeFile(path.join(etc, 'sudoers'), sudoers.sudoers, 0o440);
          await writeFile(path.join(etc, 'hosts'), hostsFile, 0o644);
          await writeFile(path.join(etc, 'hostname'), `${h.name}\n`, 0o644);
          await writeFile(path.join(etc, 'resolv.conf'), RESOLV_CONF, 0o644);
          await writeFile(path.join(etc, 'nsswitch.conf'), NSSWITCH_CONF, 0o644);
          // Whole directories bind-mounted over /etc/sudoers.d and /etc/ssh (nothing of this machine's shows through).
          await mkdirMode(path.join(dir, 'sudoers.d'), 0o755);
          if (sudoers.dropIn) await writeFile(path.join(dir, 'sudoers.d', user), sudoers.dropIn, 0o440);
          const ssh = path.join(dir, 'ssh');
          await mkdirMode(ssh, 0o755);
          await writeFile(path.join(ssh, 'sshd_config'), sshdConfig({ listen: h.ip, user, usePam: false }), 0o644);
          await writeFile(path.join(ssh, 'ssh_config'), 'Host *\n  SendEnv LANG LC_*\n  HashKnownHosts no\n', 0o644);
          if (fs.existsSync(moduli)) await fsp.link(moduli, path.join(ssh, 'moduli'));
          const hostKey = path.join(ssh, 'ssh_host_ed25519_key');
          await generateKey(hostKey, `root@${h.name}`);
          await writeHome(path.join(dir, 'home'), uid, client.publicKey);
          return knownHostsLine(h.ip, hostKey);
        }),
      ),
    );
    debug('host files and keys written');
    await createNamespaces(state, plan);
    debug('namespaces and links up');
    const hosts = plan.map((h) => spawnHost(state, h, user));
    await waitForSshd(hosts, Date.now() + 10_000 + 500 * hosts.length, (h) => Promise.resolve(`sshd log:\n${readTail(h.logFile)}`));
    debug(`${hosts.length} sshd answering`);
    return await finishRun(state, { plan, hosts, user, client, knownHostsLines, prefix });
  } catch (err) {
    return abortRun(state, err);
  }
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
