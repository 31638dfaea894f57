/**
 * Boxes. For provider lxc there is no published box we can trust, so kcore-wizard builds one here:
 * a Debian 12 (bookworm) root filesystem made with debootstrap from the mirror apt already uses,
 * with systemd, OpenSSH, sudo and the `vagrant` user, packaged in vagrant-lxc's box format
 * (metadata.json, lxc-config, rootfs.tar.gz) and added as `kcore/debian-12`.
 *
 * The result is cached under /var/cache/kcore-wizard/boxes/<key>/ (key = hash of the recipe and the
 * mirror), built in a temporary folder and renamed into place, so a second build on the same machine
 * only re-adds the box when vagrant does not already hold this exact build.
 *
 * SSH: the box authorizes vagrant's well-known insecure public key, like every public vagrant box;
 * the Vagrantfile sets `config.ssh.insert_key = true`, so on the first `vagrant up` vagrant replaces
 * it with a key pair generated for that machine (kept in `<ws>/.vagrant/machines/<name>/lxc/`), and
 * the insecure key no longer opens anything. Host keys are not in the box: each container generates
 * its own at first boot.
 *
 * For Flatcar (virtualbox/libvirt) boxes, `addFlatcarBox` downloads the box, checks it against the
 * release's published `.DIGESTS` (SHA-512) and only then adds it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { EventSink } from '../engine/events.js';
import { downloadVerified } from './digests.js';
import { boxAdd, boxList } from './vagrant.js';
import { pathExists } from '../util/fs.js';

export const LXC_BOX_NAME = 'kcore/debian-12';
export const DEFAULT_BOX_CACHE = '/var/cache/kcore-wizard/boxes';
const SUITE = 'bookworm';
/** Bump when the recipe below changes: it is part of the cache key. */
const RECIPE_VERSION = 4;

export const BOX_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'libnss-myhostname',
  'openssh-server',
  'sudo',
  'iproute2',
  'iputils-ping',
  'ca-certificates',
  'tar',
  'gzip',
  'procps',
  'less',
  // What kubelet, containerd and kube-proxy need on a node and the Debian box does not carry by
  // itself (the kube-worker role's preflight names them): runc starts containerd's containers,
  // kube-proxy and flannel program iptables, kube-proxy clears stale UDP entries with conntrack.
  // All three are bookworm/main packages (runc 1.1.5, iptables 1.8.9, conntrack 1.4.7).
  'runc',
  'iptables',
  'conntrack',
] as const;

export interface BoxBuildOptions {
  cacheDir?: string;
  /** Debian mirror URL; default: the one apt uses on this machine (see aptMirror). */
  mirror?: string;
  /** Rebuild even if the cache holds this recipe. */
  rebuild?: boolean;
  /** Skip `vagrant box add` (build the .box file only). */
  noAdd?: boolean;
  emit?: EventSink;
  signal?: AbortSignal;
  /** Environment for vagrant (e.g. VAGRANT_HOME). */
  env?: NodeJS.ProcessEnv;
}

export interface BoxBuildResult {
  name: string;
  boxFile: string;
  /** The debootstrap step ran (false: the cached build was reused). */
  built: boolean;
  /** `vagrant box add` ran (false: vagrant already had this exact build). */
  added: boolean;
  key: string;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------
// The Debian mirror apt uses

/**
 * The Debian archive URI from apt's sources (one-line `.list` or deb822 `.sources`): the first `deb`
 * source that carries `<suite>` (not -security/-updates) with component main. Falls back to
 * deb.debian.org.
 */
export function aptMirrorFrom(files: Array<{ name: string; text: string }>, suite = SUITE): string | undefined {
  for (const f of files) {
    if (f.name.endsWith('.sources')) {
      for (const stanza of f.text.split(/\n\s*\n/)) {
        const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
        const lines = stanza.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
        const get = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(lines)?.[1]?.trim() ?? field(k);
        const types = get('Types')?.split(/\s+/) ?? [];
        const suites = get('Suites')?.split(/\s+/) ?? [];
        const comps = get('Components')?.split(/\s+/) ?? [];
        const uri = get('URIs')?.split(/\s+/)[0];
        if (uri && types.includes('deb') && suites.includes(suite) && comps.includes('main')) return uri.replace(/\/+$/, '');
      }
    } else {
      for (const line of f.text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
        if (m && m[2] === suite && m[3]!.split(/\s+/).includes('main')) return m[1]!.replace(/\/+$/, '');
      }
    }
  }
  return undefined;
}

export async function aptMirror(): Promise<string> {
  const files: Array<{ name: string; text: string }> = [];
  const read = async (p: string) => {
    try {
      files.push({ name: p, text: await readFile(p, 'utf8') });
    } catch {
      // absent
    }
  };
  await read('/etc/apt/sources.list');
  try {
    for (const n of (await readdir('/etc/apt/sources.list.d')).sort()) if (/\.(list|sources)$/.test(n)) await read(path.join('/etc/apt/sources.list.d', n));
  } catch {
    // no sources.list.d
  }
  return aptMirrorFrom(files) ?? 'http://deb.debian.org/debian';
}

// ---------------------------------------------------------------------------------------------
// Files written into the box

/** Container settings shipped in the box; vagrant-lxc appends them to each container's config. */
export const LXC_BOX_CONFIG = [
  '# kcore-wizard Debian 12 box for vagrant-lxc',
  'lxc.include = /usr/share/lxc/config/common.conf',
  'lxc.arch = amd64',
  // Kubernetes nodes: kubelet writes kernel tunables under /proc/sys and /sys (proc:rw sys:rw, the
  // setting the published recipes for kubelet/k3s in LXC containers use); cgroups stay read-only above the
  // container's own tree, which kubelet and systemd may write (cgroup:mixed). The Vagrantfile sets
  // the same again, so boxes built before this line get it too.
  'lxc.mount.auto = proc:rw sys:rw cgroup:mixed',
  'lxc.autodev = 1',
  'lxc.pty.max = 1024',
  'lxc.tty.max = 4',
  '',
].join('\n');

const FSTAB = '# kcore-wizard lxc box: LXC sets up the container\'s mounts; nothing to mount here.\n';
const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
/** The containers have no route out; DNS is never used (every name the cluster needs is in /etc/hosts). */
const RESOLV = '# kcore-wizard lxc box: no DNS on the private test network (names are in /etc/hosts).\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n';
const SUDOERS = 'vagrant ALL=(ALL) NOPASSWD:ALL\nDefaults:vagrant !requiretty\n';
const SSHD_DROPIN = '# kcore-wizard lxc box\nUseDNS no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n';
/** Host keys are generated per container at first boot (the box carries none). */
const SSH_HOSTKEYS_DROPIN = '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n';

/** Vagrant's published insecure public key(s), read from the installed vagrant (2.4 also ships ed25519). */
export async function vagrantInsecurePublicKeys(): Promise<string> {
  const roots = ['/usr/share/rubygems-integration/all/gems', '/opt/vagrant/embedded/gems/gems', '/usr/lib/ruby/vendor_ruby', '/opt/vagrant/embedded/gems'];
  for (const root of roots) {
    let entries: string[];
    try {
      entries = (await readdir(root)).filter((e) => /^vagrant-\d/.test(e)).sort().reverse();
    } catch {
      continue;
    }
    for (const e of entries) {
      const dir = path.join(root, e, 'keys');
      try {
        const names = (await readdir(dir)).filter((n) => n.endsWith('.pub'));
        const keys = new Set<string>();
        for (const n of names) for (const l of (await readFile(path.join(dir, n), 'utf8')).split('\n')) if (/^ssh-/.test(l.trim())) keys.add(l.trim());
        if (keys.size) return [...keys].join('\n') + '\n';
      } catch {
        // not this one
      }
    }
  }
  throw new Error("vagrant's insecure public key was not found (looked for keys/vagrant.pub in vagrant's gem folder): is vagrant installed?");
}

// ---------------------------------------------------------------------------------------------
// Build

export function boxCacheKey(mirror: string, arch = 'amd64'): string {
  const h = createHash('sha256').update(JSON.stringify({ RECIPE_VERSION, SUITE, mirror, arch, packages: BOX_PACKAGES, LXC_BOX_CONFIG })).digest('hex');
  return `debian-12-lxc-${h.slice(0, 12)}`;
}


/** Mount points at or below `dir`, deepest first (debootstrap mounts proc/sys and may bind /dev). */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Remove a build folder safely: unmount anything inside first, never cross into another filesystem. */
export async function removeBuildDir(dir: string): Promise<void> {
  for (const m of await mountsUnder(dir)) await execa('umount', ['-l', m], { reject: false, timeout: 30_000 });
  if ((await mountsUnder(dir)).length) throw new Error(`refusing to remove ${dir}: something is still mounted inside it`);
  await execa('rm', ['-rf', '--one-file-system', '--', dir], { reject: false, timeout: 300_000 });
}

function log(emit: EventSink | undefined, message: string, level: 'info' | 'warn' | 'error' = 'info') {
  emit?.({ type: 'log', at: Date.now(), level, message });
}

async function runStep(emit: EventSink | undefined, signal: AbortSignal | undefined, file: string, args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; source?: string }) {
  const child = execa(file, args, {
    stdin: 'ignore',
    reject: false,
    timeout: opts.timeoutMs,
    cancelSignal: signal,
    env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', ...opts.env },
    extendEnv: false,
    all: true,
    buffer: true,
    maxBuffer: 64 * 1024 * 1024,
    lines: false,
  });
  const source = opts.source ?? path.basename(file);
  child.all?.on('data', (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) if (line.trim()) emit?.({ type: 'process-output', at: Date.now(), source, stream: 'stdout', line });
  });
  const r = await child;
  if (r.isCanceled) throw new Error(`${source} was cancelled`);
  if (r.timedOut) throw new Error(`${source} timed out after ${opts.timeoutMs / 1000} s`);
  if (r.exitCode !== 0) {
    const tail = String(r.all ?? '').trim().split('\n').slice(-12).join('\n  ');
    throw new Error(`${file} ${args.slice(0, 3).join(' ')}… exited ${r.exitCode ?? r.signal}:\n  ${tail}`);
  }
  return r;
}

/** debootstrap + the box's own files, into `rootfs` (a fresh folder). */
async function buildRootfs(rootfs: string, mirror: string, opts: BoxBuildOptions): Promise<void> {
  log(opts.emit, `debootstrap ${SUITE} from ${mirror} (a few minutes on the first build; cached afterwards)`);
  await runStep(opts.emit, opts.signal, 'debootstrap', ['--variant=minbase', `--include=${BOX_PACKAGES.join(',')}`, '--arch=amd64', SUITE, rootfs, mirror], {
    timeoutMs: 30 * 60_000,
  });
  // Whatever debootstrap mounted is released before we go on (and before any rm).
  for (const m of await mountsUnder(rootfs)) await execa('umount', ['-l', m], { reject: false, timeout: 30_000 });

  const w = async (rel: string, content: string, mode = 0o644) => {
    const f = path.join(rootfs, rel);
    await mkdir(path.dirname(f), { recursive: true });
    await rm(f, { force: true }); // never write through a symlink left in the image
    await writeFile(f, content, { mode });
    await chmod(f, mode);
  };
  await w('etc/fstab', FSTAB);
  await w('etc/hosts', HOSTS);
  await w('etc/resolv.conf', RESOLV);
  // No /etc/hostname: systemd then keeps the name LXC gives the container (the machine name).
  await rm(path.join(rootfs, 'etc/hostname'), { force: true });
  // Empty machine-id: every container gets its own at boot.
  await w('etc/machine-id', '', 0o444);
  await rm(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true });
  await w('etc/sudoers.d/vagrant', SUDOERS, 0o440);
  await w('etc/ssh/sshd_config.d/kcore.conf', SSHD_DROPIN);
  await w('etc/systemd/system/ssh.service.d/hostkeys.conf', SSH_HOSTKEYS_DROPIN);
  for (const n of await readdir(path.join(rootfs, 'etc/ssh'))) if (n.startsWith('ssh_host_')) await rm(path.join(rootfs, 'etc/ssh', n), { force: true });

  const chroot = (args: string[]) => runStep(opts.emit, opts.signal, 'chroot', [rootfs, ...args], { timeoutMs: 120_000, source: 'box' });
  await chroot(['useradd', '--create-home', '--shell', '/bin/bash', '--user-group', 'vagrant']);
  const home = path.join(rootfs, 'home/vagrant');
  await mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(home, '.ssh/authorized_keys'), await vagrantInsecurePublicKeys(), { mode: 0o600 });
  await chroot(['chown', '-R', 'vagrant:vagrant', '/home/vagrant/.ssh']);
  await chmod(path.join(home, '.ssh'), 0o700);
  // Units that have nothing to do in a container.
  for (const unit of ['systemd-timesyncd.service', 'apt-daily.timer', 'apt-daily-upgrade.timer', 'e2scrub_all.timer', 'fstrim.timer'])
    await execa('ln', ['-sfn', '/dev/null', path.join(rootfs, 'etc/systemd/system', unit)], { reject: false });
  await chroot(['apt-get', 'clean']);
  await execa('sh', ['-c', 'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log "$1"/tmp/* 2>/dev/null; true', 'sh', rootfs], { reject: false });
}

/**
 * Build (or reuse) the Debian 12 vagrant-lxc box and add it to vagrant as `kcore/debian-12`.
 * Needs root (debootstrap, chroot).
 */
export async function buildLxcBox(opts: BoxBuildOptions = {}): Promise<BoxBuildResult> {
  const started = Date.now();
  const cacheDir = opts.cacheDir ?? DEFAULT_BOX_CACHE;
  const mirror = opts.mirror ?? (await aptMirror());
  const key = boxCacheKey(mirror);
  const final = path.join(cacheDir, key);
  const boxFile = path.join(final, 'kcore-debian-12-lxc.box');
  let built = false;

  if (opts.rebuild || !(await pathExists(boxFile))) {
    if (process.getuid?.() !== 0) throw new Error('building the lxc box needs root (debootstrap and chroot): run it with sudo');
    await mkdir(cacheDir, { recursive: true, mode: 0o755 });
    const work = path.join(cacheDir, `.${key}.build-${randomBytes(4).toString('hex')}`);
    await mkdir(work, { mode: 0o700 });
    try {
      const rootfs = path.join(work, 'rootfs');
      await buildRootfs(rootfs, mirror, opts);
      log(opts.emit, 'packaging rootfs.tar.gz');
      await runStep(opts.emit, opts.signal, 'tar', ['--numeric-owner', '--one-file-system', '-czf', path.join(work, 'rootfs.tar.gz'), '-C', work, './rootfs'], { timeoutMs: 20 * 60_000 });
      const metadata = { provider: 'lxc', version: '1.0.0', 'built-on': new Date().toISOString(), 'kcore-box-key': key, mirror, suite: SUITE };
      await writeFile(path.join(work, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
      await writeFile(path.join(work, 'lxc-config'), LXC_BOX_CONFIG);
      await runStep(opts.emit, opts.signal, 'tar', ['-cf', path.join(work, 'kcore-debian-12-lxc.box'), '-C', work, 'metadata.json', 'lxc-config', 'rootfs.tar.gz'], { timeoutMs: 10 * 60_000 });
      // Keep the packaged files; the unpacked rootfs is not needed again.
      await removeBuildDir(rootfs);
      if (await pathExists(final)) await removeBuildDir(final);
      await rename(work, final);
      built = true;
    } catch (e) {
      await removeBuildDir(work);
      throw e;
    }
  } else {
    log(opts.emit, `reusing the cached box ${boxFile}`);
  }

  let added = false;
  if (!opts.noAdd) {
    const installed = await installedBoxKey(opts.env);
    if (opts.rebuild || built || installed !== key) {
      log(opts.emit, `vagrant box add ${LXC_BOX_NAME}`);
      await boxAdd(boxFile, { name: LXC_BOX_NAME, force: true, emit: opts.emit, signal: opts.signal, env: opts.env });
      added = true;
    } else {
      log(opts.emit, `vagrant already has ${LXC_BOX_NAME} from this build`);
    }
  }
  return { name: LXC_BOX_NAME, boxFile, built, added, key, durationMs: Date.now() - started };
}

/** The cache key of the `kcore/debian-12` lxc box vagrant holds, if it is one of ours. */
export async function installedBoxKey(env?: NodeJS.ProcessEnv): Promise<string | undefined> {
  const boxes = await boxList({ env });
  if (!boxes.some((b) => b.name === LXC_BOX_NAME && b.provider === 'lxc')) return undefined;
  const home = env?.VAGRANT_HOME ?? process.env.VAGRANT_HOME ?? path.join(process.env.HOME ?? '/root', '.vagrant.d');
  const dir = path.join(home, 'boxes', LXC_BOX_NAME.replace('/', '-VAGRANTSLASH-'));
  try {
    for (const version of await readdir(dir)) {
      const meta = path.join(dir, version, 'lxc', 'metadata.json');
      if (await pathExists(meta)) return (JSON.parse(await readFile(meta, 'utf8')) as { 'kcore-box-key'?: string })['kcore-box-key'];
    }
  } catch {
    // unreadable: treat as unknown
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Flatcar boxes (virtualbox, libvirt)

/**
 * Download a Flatcar box, verify it against `<url>.DIGESTS`, then `vagrant box add` it. The download
 * goes to a temporary file that is removed afterwards, whatever happens.
 */
export async function addFlatcarBox(opts: { name: string; url: string; provider: 'virtualbox' | 'libvirt'; emit?: EventSink; signal?: AbortSignal; env?: NodeJS.ProcessEnv; fetchImpl?: typeof fetch }): Promise<{ algo: string; hash: string }> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const dir = path.join(tmpdir(), `kcore-box-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  const publishedName = decodeURIComponent(new URL(opts.url).pathname.split('/').pop() ?? 'box');
  const file = path.join(dir, publishedName);
  try {
    log(opts.emit, `downloading ${opts.url}.DIGESTS, then ${opts.url}`);
    const v = await downloadVerified(opts.url, file, { fetchImpl, signal: opts.signal, use: 'the box is only added' });
    log(opts.emit, `${publishedName}: ${v.algo.toUpperCase()} matches the published DIGESTS`);
    await boxAdd(file, { name: opts.name, provider: opts.provider, force: true, emit: opts.emit, signal: opts.signal, env: opts.env, checksum: { type: v.algo, value: v.hash } });
    return v;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Size of a finished box file, for messages. */
export async function fileSizeMb(file: string): Promise<number> {
  return Math.round((await stat(file)).size / 1048576);
}
