/**
 * Preflight: can this machine create the cluster the spec describes? Each check says what it found,
 * and every failure says exactly what to install or change. The probes are injectable so that every
 * message is unit-tested without the real tools (missing vagrant, a missing provider, a spec larger
 * than the host, a network already in use).
 */
import { execa } from 'execa';
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lxcBridgeName } from '../render/workspace.js';
import { cgroupVerdict } from '../roles/bootstrap/cgroup.js';
import { plannedHosts, totals } from '../spec/hosts.js';
import { cidrContains, parseCidr } from '../spec/ip.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { BoxInfo } from './parse.js';
import { boxList, pluginList, status, vagrantVersion } from './vagrant.js';

export interface PreflightCheck {
  /** Short name: `vagrant`, `provider`, `box`, `memory`, `cpus`, `network`, … */
  check: string;
  ok: boolean;
  detail: string;
  /** What to do about a failure (or a warning). */
  fix?: string;
  /** Passed, but worth a word (e.g. CPUs overcommitted). */
  warning?: boolean;
}

export interface CgroupInfo {
  /** 2: unified only; 'hybrid': v1 controllers plus a cgroup2 mount; 1: v1 only; 0: none found. */
  layout: 2 | 'hybrid' | 1 | 0;
  /** The memory controller is usable (v2 controllers list, or a mounted v1 memory hierarchy). */
  memory: boolean;
}

/** Everything preflight asks the machine; `realProbes()` asks the real one. */
export interface PreflightProbes {
  vagrantVersion(): Promise<string | undefined>;
  vagrantPlugins(): Promise<Array<{ name: string; version: string }>>;
  /** Absolute path of a command on PATH, or undefined. */
  which(cmd: string): Promise<string | undefined>;
  /** First line a command prints for its version flag, or undefined when it fails. */
  commandVersion(cmd: string, args: string[]): Promise<string | undefined>;
  boxes(): Promise<BoxInfo[]>;
  memory(): Promise<{ totalMb: number; availableMb: number }>;
  cpus(): Promise<number>;
  /** Every IPv4 address of this machine, with its interface. */
  addresses(): Promise<Array<{ iface: string; address: string; cidr: string }>>;
  cgroup(): Promise<CgroupInfo>;
  isRoot(): boolean;
  /** `sudo -n true` works (root needs no sudo). */
  sudoWorks(): Promise<boolean>;
  /** Machines of this workspace that vagrant already runs (they already hold their memory). */
  runningMachines(): Promise<string[]>;
}

export interface PreflightOptions {
  workspace?: string;
  probes?: PreflightProbes;
  /** Environment for vagrant (VAGRANT_HOME …). */
  env?: NodeJS.ProcessEnv;
}

const VAGRANT_INSTALL = 'install Vagrant ≥ 2.2: `sudo apt-get install vagrant` on Debian/Ubuntu, or the package for your system from https://developer.hashicorp.com/vagrant/install';

function gb(mb: number): string {
  return mb >= 1024 ? `${mb} MB (${(mb / 1024).toFixed(1)} GB)` : `${mb} MB`;
}

/** The machine's interfaces that hold an address inside `<prefix>.0/24` and are not the provider's own network. */
export function networkClashes(spec: ClusterSpec, addrs: Array<{ iface: string; address: string; cidr: string }>): Array<{ iface: string; address: string; cidr: string }> {
  const net = parseCidr(`${spec.network.prefix}.0/24`);
  if (!net) return [];
  const own = (iface: string) => {
    switch (spec.provider) {
      case 'lxc':
        return iface === lxcBridgeName(spec);
      case 'virtualbox':
        return /^vboxnet\d+$/.test(iface); // VirtualBox reuses its host-only adapter for the same /24
      case 'libvirt':
        return /^virbr\d+$/.test(iface); // vagrant-libvirt's network for this /24
      default:
        return false;
    }
  };
  return addrs.filter((a) => cidrContains(net, a.address) && !own(a.iface));
}

export async function runPreflight(spec: ClusterSpec, opts: PreflightOptions = {}): Promise<PreflightCheck[]> {
  const probes = opts.probes ?? realProbes({ workspace: opts.workspace, env: opts.env, spec });
  const checks: PreflightCheck[] = [];
  const add = (c: PreflightCheck) => checks.push(c);

  if (spec.provider === 'existing') {
    add({
      check: 'machines',
      ok: spec.machines.length > 0,
      detail: spec.machines.length
        ? `${spec.machines.length} existing machines listed in kcore.yaml; vagrant is not used`
        : 'provider "existing" lists no machines',
      fix: spec.machines.length ? undefined : 'list the machines under `machines:` in kcore.yaml (name, address, group for each)',
    });
    return checks;
  }

  // vagrant itself; then everything else at once (each vagrant call costs seconds).
  const version = await probes.vagrantVersion();
  const [pluginsP, boxesP, runningP] = [
    version ? probes.vagrantPlugins().catch(() => []) : Promise.resolve([]),
    version ? probes.boxes().catch(() => [] as BoxInfo[]) : Promise.resolve([] as BoxInfo[]),
    probes.runningMachines().catch(() => [] as string[]),
  ];
  add(
    version
      ? { check: 'vagrant', ok: true, detail: `Vagrant ${version}` }
      : { check: 'vagrant', ok: false, detail: 'vagrant is not installed (or `vagrant --version` fails)', fix: VAGRANT_INSTALL },
  );

  // the provider
  const plugins = await pluginsP;
  const hasPlugin = (name: string) => plugins.find((p) => p.name === name);
  switch (spec.provider) {
    case 'virtualbox': {
      const v = await probes.commandVersion('VBoxManage', ['--version']);
      add(
        v
          ? { check: 'provider', ok: true, detail: `VirtualBox ${v}` }
          : {
              check: 'provider',
              ok: false,
              detail: 'VirtualBox is not installed (no VBoxManage on PATH)',
              fix: 'install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads (with its kernel modules), or choose another provider: `provider: libvirt` (KVM) or `provider: lxc` (containers, Linux only) in kcore.yaml',
            },
      );
      break;
    }
    case 'libvirt': {
      const plugin = hasPlugin('vagrant-libvirt');
      const virsh = await probes.commandVersion('virsh', ['--version']);
      const missing = [!plugin && 'the vagrant-libvirt plugin', !virsh && 'libvirt (virsh)'].filter(Boolean);
      add(
        missing.length === 0
          ? { check: 'provider', ok: true, detail: `vagrant-libvirt ${plugin!.version}, libvirt ${virsh}` }
          : {
              check: 'provider',
              ok: false,
              detail: `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing`,
              fix: 'install them: `sudo apt-get install vagrant-libvirt libvirt-daemon-system qemu-system-x86` (or `vagrant plugin install vagrant-libvirt`), then add yourself to the libvirt group',
            },
      );
      break;
    }
    case 'lxc': {
      const plugin = hasPlugin('vagrant-lxc');
      const lxcCreate = await probes.which('lxc-create');
      const cg = await probes.cgroup();
      const root = probes.isRoot() || (await probes.sudoWorks());
      const problems: Array<[string, string]> = [];
      if (!plugin) problems.push(['the vagrant-lxc plugin is not installed', '`sudo apt-get install vagrant-lxc` (or `vagrant plugin install vagrant-lxc`)']);
      if (!lxcCreate) problems.push(['LXC is not installed (no lxc-create)', '`sudo apt-get install lxc`']);
      if (cg.layout === 0) problems.push(['no cgroup filesystem is mounted', 'mount cgroup2 on /sys/fs/cgroup (systemd does this at boot)']);
      else if (!cg.memory) problems.push(['the cgroup memory controller is not available, so container memory cannot be limited', 'enable it (kernel command line `cgroup_enable=memory`) or use a host with cgroup2 memory control']);
      if (!root) problems.push(['vagrant-lxc needs root: this user is not root and `sudo -n` does not work', 'run as root, or set up vagrant-lxc\'s sudoers rule: `vagrant lxc sudoers`']);
      const cgText = cg.layout === 2 ? 'cgroup2' : cg.layout === 'hybrid' ? 'cgroup v1 + cgroup2 (hybrid)' : cg.layout === 1 ? 'cgroup v1' : 'no cgroups';
      add(
        problems.length === 0
          ? { check: 'provider', ok: true, detail: `vagrant-lxc ${plugin!.version}, LXC (${lxcCreate}), ${cgText} with memory control, ${probes.isRoot() ? 'root' : 'sudo'}` }
          : { check: 'provider', ok: false, detail: problems.map((p) => p[0]).join('; '), fix: problems.map((p) => p[1]).join('; ') },
      );
      // lxc machines see this host's cgroups: the kubelet's cgroup v1 refusal (1.35+) is decided here.
      if (cg.layout !== 0) {
        const v = cgroupVerdict(cg.layout, spec.versions.kubernetes, 'this host (the lxc machines share its cgroups)', 'lxc', spec.kubelet.allowCgroupV1);
        add({ check: 'cgroup', ok: v.ok, warning: v.warning, detail: v.detail, fix: v.fix });
      }
      break;
    }
  }

  // the box
  if (version) {
    const boxes = await boxesP;
    const have = boxes.find((b) => b.name === spec.box.name && b.provider === spec.provider);
    if (have) add({ check: 'box', ok: true, detail: `${spec.box.name} (${spec.provider}, ${have.version}) is installed` });
    else if (spec.provider === 'lxc')
      add({
        check: 'box',
        ok: false,
        detail: `the box ${spec.box.name} for lxc is not installed (lxc boxes are built on this machine)`,
        fix: 'build it: `sudo kcore-wizard box build --provider lxc` (a few minutes the first time, then cached)',
      });
    else if (spec.provider === 'libvirt' && !spec.box.url)
      add({
        check: 'box',
        ok: false,
        detail: `the box ${spec.box.name} for libvirt is not installed (Flatcar publishes no libvirt box; it is made here from Flatcar's QEMU image)`,
        fix: `build it: \`kcore-wizard box build --provider libvirt --channel ${spec.box.channel}\` (downloads and verifies the image, then adds the box)`,
      });
    else if (spec.box.url)
      add({ check: 'box', ok: true, detail: `${spec.box.name} will be downloaded from ${spec.box.url} and checked against its published digests` });
    else
      add({
        check: 'box',
        ok: false,
        detail: `the box ${spec.box.name} (${spec.provider}) is not installed and kcore.yaml gives no box.url to download it from`,
        fix: `add it with \`vagrant box add --name ${spec.box.name} <file or URL>\`, or set box.url in kcore.yaml`,
      });
  }

  // memory and CPUs (machines vagrant already runs hold their memory already)
  const running = new Set(await runningP);
  const hosts = plannedHosts(spec);
  const toStart = hosts.filter((h) => !running.has(h.name));
  const need = toStart.reduce((s, h) => s + h.memory, 0);
  const mem = await probes.memory();
  const t = totals(spec);
  if (need > mem.availableMb)
    add({
      check: 'memory',
      ok: false,
      detail: `the cluster needs ${need} MB${toStart.length < hosts.length ? ` for the ${toStart.length} machines not yet running` : ''}, this machine has ${mem.availableMb} MB free (of ${gb(mem.totalMb)})`,
      fix: `lower memory per group or the worker count in kcore.yaml (e.g. \`kcore-wizard init --force --workers ${Math.max(1, spec.groups['kube-worker'].count - 1)} …\`), or free ${need - mem.availableMb} MB`,
    });
  else
    add({
      check: 'memory',
      ok: true,
      detail: `the cluster needs ${gb(t.memory)}${running.size ? ` (${gb(need)} still to start)` : ''}; ${gb(mem.availableMb)} free`,
    });

  const cpus = await probes.cpus();
  const biggest = hosts.reduce((m, h) => Math.max(m, h.cpus), 0);
  if (biggest > cpus)
    add({
      check: 'cpus',
      ok: false,
      detail: `a machine is given ${biggest} CPUs, this machine has ${cpus}`,
      fix: `set every group's cpus to at most ${cpus} in kcore.yaml`,
    });
  else if (t.cpus > cpus)
    add({ check: 'cpus', ok: true, warning: true, detail: `${t.cpus} virtual CPUs on ${cpus} real ones (shared: slower, but it works)` });
  else add({ check: 'cpus', ok: true, detail: `${t.cpus} virtual CPUs on ${cpus}` });

  // the private network
  const clashes = networkClashes(spec, await probes.addresses());
  if (clashes.length)
    add({
      check: 'network',
      ok: false,
      detail: `${spec.network.prefix}.0/24 is already in use on this machine: ${clashes.map((c) => `${c.iface} has ${c.cidr}`).join(', ')}`,
      fix: `choose another private network: set network.prefix in kcore.yaml (e.g. \`kcore-wizard init --force --prefix 10.${Number(spec.network.prefix.split('.')[1] ?? 0) + 1}.0 …\`), or remove that address`,
    });
  else add({ check: 'network', ok: true, detail: `${spec.network.prefix}.0/24 is free${spec.provider === 'lxc' ? ` (bridge ${lxcBridgeName(spec)})` : ''}` });

  return checks;
}

// ---------------------------------------------------------------------------------------------
// The real machine

async function which(cmd: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const d of dirs) {
    const f = path.join(d, cmd);
    try {
      await access(f, 1);
      return f;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function readCgroupInfo(root = '/sys/fs/cgroup'): Promise<CgroupInfo> {
  const read = async (p: string) => {
    try {
      return await readFile(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const v2 = await read(path.join(root, 'cgroup.controllers'));
  if (v2 !== undefined) return { layout: 2, memory: /\bmemory\b/.test(v2) };
  const mounts = (await read('/proc/self/mounts')) ?? '';
  const v1Memory = mounts.split('\n').some((l) => {
    const f = l.split(' ');
    return f[2] === 'cgroup' && (f[3] ?? '').split(',').includes('memory');
  });
  const anyV1 = /\scgroup\s/.test(mounts);
  const anyV2 = /\scgroup2\s/.test(mounts);
  return { layout: anyV1 && anyV2 ? 'hybrid' : anyV1 ? 1 : anyV2 ? 2 : 0, memory: v1Memory };
}

export function realProbes(ctx: { workspace?: string; env?: NodeJS.ProcessEnv; spec?: ClusterSpec } = {}): PreflightProbes {
  const env = ctx.env;
  return {
    vagrantVersion: () => vagrantVersion({ env }),
    vagrantPlugins: () => pluginList({ env }),
    which,
    async commandVersion(cmd, args) {
      if (!(await which(cmd))) return undefined;
      const r = await execa(cmd, args, { reject: false, timeout: 30_000, stdin: 'ignore' });
      return r.exitCode === 0 ? String(r.stdout).trim().split('\n')[0] : undefined;
    },
    boxes: () => boxList({ env }),
    async memory() {
      const info = await readFile('/proc/meminfo', 'utf8').catch(() => '');
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
      const total = kb('MemTotal');
      const avail = kb('MemAvailable');
      return {
        totalMb: Math.floor((Number.isFinite(total) ? total : os.totalmem() / 1024) / 1024),
        availableMb: Math.floor((Number.isFinite(avail) ? avail : os.freemem() / 1024) / 1024),
      };
    },
    cpus: async () => os.availableParallelism(),
    async addresses() {
      const out: Array<{ iface: string; address: string; cidr: string }> = [];
      for (const [iface, list] of Object.entries(os.networkInterfaces()))
        for (const a of list ?? []) if (a.family === 'IPv4' && a.cidr) out.push({ iface, address: a.address, cidr: a.cidr });
      return out;
    },
    cgroup: () => readCgroupInfo(),
    isRoot: () => process.getuid?.() === 0,
    async sudoWorks() {
      const r = await execa('sudo', ['-n', 'true'], { reject: false, timeout: 15_000, stdin: 'ignore' }).catch(() => undefined);
      return r?.exitCode === 0;
    },
    async runningMachines() {
      if (!ctx.workspace) return [];
      try {
        await access(path.join(ctx.workspace, '.vagrant'));
      } catch {
        return []; // nothing was ever created here: skip the (slow) vagrant status
      }
      return (await status(ctx.workspace, { env })).filter((m) => m.state === 'running').map((m) => m.name);
    },
  };
}

/** Lines for a person: `✓ vagrant: Vagrant 2.3.4` / `✗ box: … → fix: …`. */
export function formatPreflight(checks: PreflightCheck[]): string {
  return checks
    .map((c) => `${c.ok ? (c.warning ? '!' : '✓') : '✗'} ${c.check}: ${c.detail}${!c.ok && c.fix ? `\n    fix: ${c.fix}` : ''}`)
    .join('\n');
}
