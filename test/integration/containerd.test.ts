// Debian's real containerd and runc, inside systemd test machines, with the config.toml the
// kube-worker role writes: containerd starts with it, its CRI plugin loads with the runc runtime
// on the systemd cgroup driver, and a container from an image built here (a static busybox, a
// hand-made docker-archive imported with `ctr -n k8s.io images import`, no registry) runs.
// Two containerd lines run: Debian 12's (1.6, this machine's suite) and Debian 13's (1.7, the
// .deb downloaded from the trixie suite of the same archive by test/hosts/fetch-debs.sh, for that
// download only). Both read config format `version = 2`; containerd 2.x's `version = 3` cannot
// run here (no 2.x package offline) and is checked against upstream's documentation in
// test/unit/containerd-config.test.ts.
//
// A third machine plays Flatcar (its containerd 1.7 line, as on Flatcar LTS 4081, which ships 1.7.21):
// Flatcar's layout is laid out as Flatcar's build tree has it (test/support/flatcar-containerd.ts:
// its config at /usr/share/containerd/config.toml, its unit reading $CONTAINERD_CONFIG), the role's own
// code reads Flatcar's config there and writes our config and drop-in, and containerd must then run
// our file with Flatcar's SELinux and OOM settings and our CRI settings.
//
// Test-host limit: the machines' root is an overlay, and overlayfs cannot stack its upper layer on
// another overlay, so /var/lib/containerd is a tmpfs in the machines (a real node has a disk).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { specForHosts } from '../support/cluster.js';
import { FACTS_SCRIPT, parseFacts } from '../../src/engine/facts.js';
import type { TaskContext } from '../../src/engine/task.js';
import { CNI_BIN, CNI_CONF, cniConflist, containerdConfig, PAUSE_IMAGE } from '../../src/roles/kube-common/index.js';
import { containerdVersionOf, nodeConfigFiles, nodeUnits } from '../../src/roles/kube-worker/index.js';
import { hostsOf, type ClusterSpec } from '../../src/spec/index.js';
import { FLATCAR_CONFIG_TOML, flatcarContainerdUnit } from '../support/flatcar-containerd.js';

const exec = promisify(execFile);
const FETCH_DEBS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'hosts', 'fetch-debs.sh');
const IMAGE = 'kcore.test/busybox:1';

let hosts: TestHosts;
let work: string;
let bookworm: string;
let trixie: string;
let imageTar: string;

async function fetchDebs(suite: string, ...pkgs: string[]): Promise<string> {
  const { stdout } = await exec('bash', [FETCH_DEBS, suite, ...pkgs], { timeout: 600_000, maxBuffer: 1 << 24 });
  return stdout.trim().split('\n').pop()!;
}

async function debOf(dir: string, pkg: string): Promise<string> {
  const f = (await readdir(dir)).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  if (!f) throw new Error(`no ${pkg} .deb in ${dir}`);
  return path.join(dir, f);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A one-layer docker-archive (docker save's format): Debian's static busybox as /bin/busybox and /bin/sh. */
async function buildImage(): Promise<string> {
  const dir = path.join(work, 'image');
  const unpack = path.join(work, 'busybox-deb');
  await exec('dpkg-deb', ['-x', await debOf(bookworm, 'busybox-static'), unpack]);
  const layerRoot = path.join(dir, 'layer');
  await mkdir(path.join(layerRoot, 'bin'), { recursive: true });
  await copyFile(path.join(unpack, 'bin', 'busybox'), path.join(layerRoot, 'bin', 'busybox'));
  await symlink('busybox', path.join(layerRoot, 'bin', 'sh'));
  const out = path.join(dir, 'archive');
  await mkdir(out);
  await exec('tar', ['--numeric-owner', '--owner=0', '--group=0', '-cf', path.join(out, 'layer.tar'), '-C', layerRoot, 'bin']);
  const diffId = `sha256:${sha256(await readFile(path.join(out, 'layer.tar')))}`;
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] } });
  const configName = `${sha256(config)}.json`;
  await writeFile(path.join(out, configName), config);
  await writeFile(path.join(out, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [IMAGE], Layers: ['layer.tar'] }]));
  const tar = path.join(dir, 'busybox.tar');
  await exec('tar', ['-cf', tar, '-C', out, 'manifest.json', configName, 'layer.tar']);
  return tar;
}

/** Copy a file from this machine into a running systemd machine (through its root, /proc/PID/root). */
async function put(machine: string, from: string, to: string): Promise<void> {
  await copyFile(from, path.join('/proc', String(hosts.host(machine).pid), 'root', to));
}

async function sh(machine: string, command: string, timeoutMs = 120_000): Promise<string> {
  const r = await hosts.exec(machine, command, { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`${machine}: ${command}\nexit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Install containerd and runc from .debs without starting anything, then our config, then start it. */
async function installContainerd(machine: string, debs: string[]): Promise<void> {
  await sh(machine, 'mkdir -p /var/tmp/debs /etc/containerd');
  for (const d of debs) await put(machine, d, `/var/tmp/debs/${path.basename(d)}`);
  // policy-rc.d 101: the packages' maintainer scripts start no service.
  await sh(machine, "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d");
  await sh(machine, 'DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /var/tmp/debs/*.deb >/dev/null && rm -f /usr/sbin/policy-rc.d', 300_000);
  // The role's choice: the host's own containerd, its version picks the config format.
  const version = containerdVersionOf(await sh(machine, 'containerd --version'));
  if (!version) throw new Error(`${machine}: no version in containerd --version`);
  await writeFile(path.join(work, `${machine}.toml`), containerdConfig(spec, version));
  await put(machine, path.join(work, `${machine}.toml`), '/etc/containerd/config.toml');
  await sh(machine, 'mkdir -p /var/lib/containerd && mount -t tmpfs -o size=256m tmpfs /var/lib/containerd');
  await sh(machine, 'systemctl restart containerd && systemctl is-active containerd');
}

/**
 * A machine laid out as Flatcar: containerd and runc from .debs, Flatcar's config at
 * /usr/share/containerd/config.toml and Flatcar's unit (in /etc/systemd/system, over the package's),
 * started as Flatcar starts it, with nothing of ours yet.
 */
async function layOutFlatcar(machine: string, debs: string[]): Promise<void> {
  await sh(machine, 'mkdir -p /var/tmp/debs /usr/share/containerd /etc/containerd');
  for (const d of debs) await put(machine, d, `/var/tmp/debs/${path.basename(d)}`);
  await sh(machine, "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d");
  await sh(machine, 'DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /var/tmp/debs/*.deb >/dev/null && rm -f /usr/sbin/policy-rc.d', 300_000);
  await sh(machine, 'rm -f /etc/containerd/config.toml');
  await writeFile(path.join(work, 'flatcar-config.toml'), FLATCAR_CONFIG_TOML);
  await put(machine, path.join(work, 'flatcar-config.toml'), '/usr/share/containerd/config.toml');
  await writeFile(path.join(work, 'flatcar-containerd.service'), flatcarContainerdUnit());
  await put(machine, path.join(work, 'flatcar-containerd.service'), '/etc/systemd/system/containerd.service');
  await sh(machine, 'mkdir -p /var/lib/containerd && mount -t tmpfs -o size=256m tmpfs /var/lib/containerd');
  await sh(machine, 'systemctl daemon-reload && systemctl restart containerd && systemctl is-active containerd');
}

/** The containerd service's current run: its main PID's command line, its OOM score and its journal. */
async function containerdRun(machine: string): Promise<{ args: string; oom: string; journal: string; env: string }> {
  const pid = (await sh(machine, 'systemctl show -p MainPID --value containerd')).trim();
  const invocation = (await sh(machine, 'systemctl show -p InvocationID --value containerd')).trim();
  return {
    args: (await sh(machine, `tr '\\0' ' ' < /proc/${pid}/cmdline`)).trim(),
    oom: (await sh(machine, `cat /proc/${pid}/oom_score_adj`)).trim(),
    journal: await sh(machine, `journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=${invocation}`),
    env: (await sh(machine, 'systemctl show -p Environment --value containerd')).trim(),
  };
}

/**
 * containerd applied `oom_score = -999` to itself (cmd/containerd/server/server_linux.go: SetOOMScore
 * on its own PID), or tried to: inside the test machines the kernel refuses the lower score, and
 * containerd logs that it tried, with the value it read (a test-host limit; the log line is printed).
 */
function expectOomScore(r: { oom: string; journal: string }, score: number): void {
  if (r.oom === String(score)) return;
  expect(r.journal, `oom_score_adj is ${r.oom}`).toContain(`failed to change OOM score to ${score}`);
  const line = r.journal.split('\n').find((l) => l.includes('failed to change OOM score'));
  console.log(`test-host limit: containerd read oom_score = ${score} and could not lower its own OOM score here (oom_score_adj ${r.oom}): ${line}`);
}

/** The CRI plugin's own view of its configuration (it logs it at start). */
const criConfig = async (machine: string, journal: string) => {
  const line = journal.split('\n').find((l) => l.includes('Start cri plugin with config'));
  if (!line) throw new Error(`${machine}: no "Start cri plugin with config" in this run's journal:\n${journal}`);
  return line;
};

const MACHINES = { bookworm: 'ctrd-16', trixie: 'ctrd-17', flatcar: 'ctrd-fc' } as const;
let spec: ClusterSpec;

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  work = await mkdtemp(path.join(tmpdir(), 'kcore-ctrd-'));
  bookworm = await fetchDebs('bookworm', 'containerd', 'runc', 'containernetworking-plugins', 'busybox-static');
  trixie = await fetchDebs('trixie', 'containerd');
  imageTar = await buildImage();
  hosts = await startSystemdHosts({ count: 3, names: [MACHINES.bookworm, MACHINES.trixie, MACHINES.flatcar] });
  spec = specForHosts(hosts, { etcd: 0, 'kube-master': 1, 'kube-worker': 0 });
  const runc = await debOf(bookworm, 'runc');
  await Promise.all([
    installContainerd(MACHINES.bookworm, [runc, await debOf(bookworm, 'containerd')]),
    installContainerd(MACHINES.trixie, [runc, await debOf(trixie, 'containerd')]),
    layOutFlatcar(MACHINES.flatcar, [runc, await debOf(trixie, 'containerd')]),
  ]);
}, 900_000);

afterAll(async () => {
  await hosts?.teardown();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.each([
  ['Debian 12 containerd 1.6', MACHINES.bookworm, /^containerd .* 1\.6\./],
  ['Debian 13 containerd 1.7', MACHINES.trixie, /^containerd .* 1\.7\./],
])('%s with our config.toml', (_label, machine, version) => {
  it('runs the expected containerd; its CRI plugin loads our config: runc v2 on the systemd cgroup driver', async () => {
    expect(await sh(machine, 'containerd --version')).toMatch(version);
    expect(await sh(machine, 'grep -x "version = 2" /etc/containerd/config.toml')).toBe('version = 2\n');
    expect(await sh(machine, 'ctr plugins ls')).toMatch(/^io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok\s*$/m);
    // The CRI plugin logs the configuration it runs with (its own view, not our file).
    const cri = await sh(machine, 'journalctl -u containerd --no-pager -o cat | grep -m1 "Start cri plugin with config"');
    expect(cri).toContain('DefaultRuntimeName:runc');
    expect(cri).toMatch(/Runtimes:map\[runc:\{Type:io\.containerd\.runc\.v2 .*Options:map\[SystemdCgroup:true\]/);
    expect(cri).toContain(`SandboxImage:${PAUSE_IMAGE}`);
    expect(cri).toContain(`NetworkPluginBinDir:${CNI_BIN} NetworkPluginConfDir:${CNI_CONF}`);
    const journal = await sh(machine, 'journalctl -u containerd --no-pager -o cat');
    expect(journal.split('\n').filter((l) => /unknown key|level=fatal/i.test(l) || (/failed to load plugin/.test(l) && !l.includes('devmapper not configured')))).toEqual([]);
  });

  it('imports a locally built image and starts it: on cgroup v2 it runs in a systemd scope; on a cgroup v1 machine it stops, as expected, at runc\'s cgroup setup', async () => {
    await put(machine, imageTar, '/var/tmp/busybox.tar');
    expect(await sh(machine, 'ctr -n k8s.io images import /var/tmp/busybox.tar')).toContain(`unpacking ${IMAGE}`);
    const r = await hosts.exec(machine, `ctr -n k8s.io run --rm --runc-systemd-cgroup --cgroup system.slice:kcore:smoke ${IMAGE} smoke /bin/sh -c 'echo hello from busybox; cat /proc/self/cgroup'`);
    const v2 = (await sh(machine, 'stat -fc %T /sys/fs/cgroup')).trim() === 'cgroup2fs';
    if (v2) {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^hello from busybox$/m);
      // runc's systemd driver asked the machine's systemd for a transient scope.
      expect(r.stdout).toContain('/system.slice/kcore-smoke.scope');
    } else {
      // Test-host limit: on a hybrid-cgroup machine (this one's: no systemd as PID 1) nspawn gives the
      // machine read-only cgroup v1 controller hierarchies, so runc gets as far as applying the cgroup
      // (image unpacked, snapshot mounted, shim started) and stops there. A node with systemd, or a
      // cgroup v2 host, runs it; kubelet 1.35+ refuses cgroup v1 anyway.
      console.log(`${machine}: cgroup v1 machine, the container stops at runc's cgroup setup: ${r.stderr.trim()}`);
      expect(r.stderr).toMatch(/runc create failed: unable to start container process: unable to apply cgroup configuration: mkdir \/sys\/fs\/cgroup\/\w+\/system\.slice: read-only file system/);
    }
  });
});

describe("a machine laid out as Flatcar: Flatcar's own containerd with the config the role writes for it", () => {
  it("before: Flatcar's unit runs Flatcar's config (SELinux labelling on, OOM score -999, no sandbox image or CNI dirs of ours)", async () => {
    const r = await containerdRun(MACHINES.flatcar);
    expect(r.args).toBe('/usr/bin/containerd --config /usr/share/containerd/config.toml');
    const cri = await criConfig(MACHINES.flatcar, r.journal);
    expect(cri).toContain('EnableSelinux:true');
    expect(cri).not.toContain(`SandboxImage:${PAUSE_IMAGE}`);
    expectOomScore(r, -999);
  });

  it("after: the role reads Flatcar's config on the machine, writes ours and the drop-in; containerd runs ours with Flatcar's settings and the CRI on runc v2 with SystemdCgroup", async () => {
    const m = MACHINES.flatcar;
    // The role's own code: the facts as the facts script finds them on the machine (os-release says
    // Debian: the family is set to Flatcar's), Flatcar's file read from the machine.
    const real = parseFacts(await sh(m, FACTS_SCRIPT), hosts.host(m).ip, m);
    const facts = { ...real, os: { ...real.os, family: 'flatcar' as const } };
    const out: string[] = [];
    const conn = {
      exec: (cmd: string) => hosts.exec(m, cmd),
      readFile: async (p: string) => {
        const r = await hosts.exec(m, `cat ${p}`);
        return r.exitCode === 0 ? Buffer.from(r.stdout) : null;
      },
    };
    const node = hostsOf(spec, 'kube-master')[0]!;
    const ctx = { run: { spec, dryRun: false }, host: node, conn, facts: () => facts, output: (l: string) => out.push(l), signal: new AbortController().signal } as unknown as TaskContext;
    const files = [...(await nodeConfigFiles(ctx)), ...nodeUnits(ctx)];
    const config = files.find((f) => f.path === '/etc/containerd/config.toml')!;
    const dropIn = files.find((f) => f.path === '/etc/systemd/system/containerd.service.d/10-kcore.conf')!;
    expect(files.some((f) => f.path === '/etc/systemd/system/containerd.service')).toBe(false);
    const version = containerdVersionOf(await sh(m, 'containerd --version'))!;
    expect(out).toContain(`containerd: Flatcar's own ${version}; versions.containerd ${spec.versions.containerd} applies only where kcore-wizard installs containerd`);
    expect(out).toContain("containerd config: Flatcar's enable_selinux = true, oom_score = -999 carried from /usr/share/containerd/config.toml");
    await writeFile(path.join(work, 'fc-config.toml'), config.content as string);
    await writeFile(path.join(work, 'fc-10-kcore.conf'), dropIn.content as string);
    await sh(m, 'mkdir -p /etc/systemd/system/containerd.service.d');
    await put(m, path.join(work, 'fc-config.toml'), '/etc/containerd/config.toml');
    await put(m, path.join(work, 'fc-10-kcore.conf'), '/etc/systemd/system/containerd.service.d/10-kcore.conf');
    await sh(m, 'systemctl daemon-reload && systemctl restart containerd && systemctl is-active containerd');

    const r = await containerdRun(m);
    expect(r.env).toContain('CONTAINERD_CONFIG=/etc/containerd/config.toml');
    expect(r.args).toBe('/usr/bin/containerd --config /etc/containerd/config.toml');
    expect(await sh(m, 'ctr plugins ls')).toMatch(/^io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok\s*$/m);
    const cri = await criConfig(m, r.journal);
    expect(cri).toContain('EnableSelinux:true');
    expect(cri).toContain('DefaultRuntimeName:runc');
    expect(cri).toMatch(/Runtimes:map\[runc:\{Type:io\.containerd\.runc\.v2 .*Options:map\[SystemdCgroup:true\]/);
    expect(cri).toContain(`SandboxImage:${PAUSE_IMAGE}`);
    expect(cri).toContain(`NetworkPluginBinDir:${CNI_BIN} NetworkPluginConfDir:${CNI_CONF}`);
    expectOomScore(r, -999);
    expect(r.journal.split('\n').filter((l) => /unknown key|level=fatal/i.test(l) || (/failed to load plugin/.test(l) && !l.includes('devmapper not configured')))).toEqual([]);
  });
});

// The CNI conflist against Debian's real plugins (containernetworking-plugins, CNI spec
// https://github.com/containernetworking/cni/blob/main/SPEC.md: `VERSION` prints the spec versions a
// plugin supports). flannel's own plugin is not packaged in Debian: it is listed, not run.
describe("the CNI conflist with Debian's CNI plugins", () => {
  it('every plugin it names (and flannel delegates to) supports its cniVersion; flannel is not in Debian', async () => {
    const dir = path.join(work, 'cni-deb');
    await exec('dpkg-deb', ['-x', await debOf(bookworm, 'containernetworking-plugins'), dir]);
    const bin = path.join(dir, 'usr', 'lib', 'cni');
    const conf = JSON.parse(cniConflist()) as { cniVersion: string; plugins: Array<{ type: string }> };
    const types = conf.plugins.map((p) => p.type);
    expect(types).toEqual(['flannel', 'portmap']);
    const available = new Set(await readdir(bin));
    expect(available.has('flannel')).toBe(false);
    // flannel's plugin hands the pod to bridge with host-local IPAM; containerd adds loopback.
    for (const t of [...types.filter((x) => x !== 'flannel'), 'bridge', 'host-local', 'loopback']) {
      expect(available.has(t), t).toBe(true);
      const { stdout } = await exec(path.join(bin, t), [], { env: { CNI_COMMAND: 'VERSION' } });
      const v = JSON.parse(stdout) as { supportedVersions: string[] };
      expect(v.supportedVersions, t).toContain(conf.cniVersion);
    }
  });
});
