/**
 * lxc machines as Kubernetes nodes: what the Vagrantfile gives each container, what the box carries,
 * the kube-proxy and CoreDNS settings that differ on lxc, and the cgroup check (kubelet 1.35+
 * refuses cgroup v1). The Vagrantfile is evaluated by real Ruby (test/support/vagrantfile-probe.rb);
 * the box's package names are looked up in the apt cache the box build's mirror feeds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { renderVagrantfile } from '../../src/render/workspace.js';
import { CGROUP_PROBE, cgroupVerdict, parseCgroupProbe } from '../../src/roles/bootstrap/cgroup.js';
import { corednsManifest, kubeProxyConfig } from '../../src/roles/kube-common/render.js';
import { defaultSpec } from '../../src/spec/index.js';
import type { ClusterSpec } from '../../src/spec/schema.js';
import { BOX_PACKAGES, LXC_BOX_CONFIG } from '../../src/vagrant/box.js';
import { readCgroupInfo, runPreflight, type PreflightProbes } from '../../src/vagrant/preflight.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PROBE = path.join(ROOT, 'test/support/vagrantfile-probe.rb');
const CI = !!process.env.CI;

function lxcCustomize(spec: ClusterSpec): Array<Array<[string, string]>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kcore-lxcnode-'));
  const file = path.join(dir, 'Vagrantfile');
  writeFileSync(file, renderVagrantfile(spec));
  const p = JSON.parse(execFileSync('ruby', [PROBE, file], { encoding: 'utf8' })) as { machines: Array<{ providers: Record<string, { customize: Array<[string, string]> }> }> };
  return p.machines.map((m) => m.providers.lxc!.customize);
}

/** What LXC ends up with for a key: the last line wins (vagrant-lxc appends after the box's lxc-config). */
const last = (c: Array<[string, string]>, key: string) => c.filter(([k]) => k === key).at(-1)?.[1];

describe('lxc machines can run kubelet, containerd and kube-proxy', () => {
  it('Vagrantfile (real Ruby): proc/sys read-write, /dev/kmsg present, AppArmor unconfined, on every machine', () => {
    const all = lxcCustomize(defaultSpec({ provider: 'lxc' }));
    expect(all).toHaveLength(4);
    for (const c of all) {
      // kubelet/kube-proxy write /proc/sys and /sys: `mixed` leaves them read-only (lxc.container.conf(5), lxc.mount.auto)
      const auto = last(c, 'mount.auto')!.split(/\s+/);
      expect(auto).toEqual(expect.arrayContaining(['proc:rw', 'sys:rw']));
      expect(auto.filter((a) => /^(proc|sys):mixed$/.test(a))).toEqual([]);
      // kubelet's OOM watcher opens /dev/kmsg (kind: images/base/files/usr/local/bin/entrypoint, fix_kmsg)
      const kmsg = c.filter(([k, v]) => k === 'mount.entry' && v.split(/\s+/)[1] === 'dev/kmsg').map(([, v]) => v.split(/\s+/));
      expect(kmsg).toHaveLength(1);
      const [source, , , opts] = kmsg[0]!;
      expect(source).toBe('/dev/null'); // in LXC's default device allow list (c 1:3); no host kernel log inside
      expect(opts!.split(',')).toEqual(expect.arrayContaining(['bind', 'create=file']));
      expect(last(c, 'apparmor.profile')).toBe('unconfined');
    }
  });

  it('the box: runc, iptables and conntrack installed; its own lxc-config is not mixed either', () => {
    for (const p of ['runc', 'iptables', 'conntrack']) expect(BOX_PACKAGES).toContain(p);
    const auto = /^lxc\.mount\.auto = (.*)$/m.exec(LXC_BOX_CONFIG)![1]!.split(/\s+/);
    expect(auto).toEqual(expect.arrayContaining(['proc:rw', 'sys:rw']));
  });

  it.runIf(CI || hasAptCache())('the box: every package name exists for bookworm in the apt cache this machine uses', () => {
    // debootstrap --include= fails on an unknown name after minutes of work; catch it here.
    const out = execFileSync('apt-cache', ['policy', ...BOX_PACKAGES], { encoding: 'utf8' });
    const byName = new Map(out.split(/^(?=\S+:$)/m).map((b) => [b.split(':')[0]!, b]));
    for (const p of BOX_PACKAGES) {
      const b = byName.get(p) ?? '';
      expect(b, `apt-cache policy ${p}`).toMatch(/Candidate: (?!\(none\))\S+/);
      expect(b, `${p} from bookworm`).toMatch(/ bookworm(-security)?\/main /);
    }
  }, 60_000);

  it('kube-proxy: conntrack.maxPerCore 0 on lxc only (kind: pkg/cluster/internal/kubeadm/config.go)', () => {
    const node = { name: 'kube-worker-01', ip: '10.0.0.121', group: 'kube-worker' };
    const lxc = YAML.parse(kubeProxyConfig(defaultSpec({ provider: 'lxc' }), node)) as Record<string, unknown>;
    expect(lxc.conntrack).toEqual({ maxPerCore: 0 });
    expect(lxc.kind).toBe('KubeProxyConfiguration');
    for (const provider of ['virtualbox', 'libvirt', 'existing'] as const) {
      const other = YAML.parse(kubeProxyConfig(defaultSpec({ provider }), node)) as Record<string, unknown>;
      expect(other.conntrack, provider).toBeUndefined(); // real kernels: kube-proxy sizes the table itself
    }
  });

  it('CoreDNS: never forwards to the 127.0.0.1 of the lxc box (the loop plugin would halt it); other providers forward upstream', () => {
    const corefile = (provider: ClusterSpec['provider']) => {
      const cm = YAML.parseAllDocuments(corednsManifest(defaultSpec({ provider })).text)
        .map((d) => d.toJS() as { kind: string; data?: { Corefile?: string } })
        .find((o) => o.kind === 'ConfigMap')!;
      return cm.data!.Corefile!.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
    };
    const lxc = corefile('lxc');
    expect(lxc).not.toMatch(/^\s*forward\b/m);
    expect(lxc).toMatch(/^\s*kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{/m);
    expect(lxc).toMatch(/^\s*loop$/m);
    for (const p of ['virtualbox', 'libvirt'] as const) expect(corefile(p)).toMatch(/^\s*forward \. \/etc\/resolv\.conf \{/m);
  });
});

describe('cgroup version: kubelet 1.35+ refuses cgroup v1 (KEP-5573, failCgroupV1)', () => {
  it('parses the probe the bootstrap role runs', () => {
    expect(parseCgroupProbe('fs=cgroup2fs\nunified=0\n')).toBe(2);
    expect(parseCgroupProbe('fs=tmpfs\nunified=1\n')).toBe('hybrid');
    expect(parseCgroupProbe('fs=tmpfs\nunified=0\n')).toBe(1);
    expect(parseCgroupProbe('fs=\nunified=0\n')).toBe(0);
  });

  it('the probe, run here for real, agrees with what preflight reads from this host', async () => {
    const out = execFileSync('sh', ['-c', CGROUP_PROBE], { encoding: 'utf8' });
    expect(parseCgroupProbe(out)).toBe((await readCgroupInfo()).layout);
  });

  it('verdicts: v2 fine; v1 and hybrid refused from 1.35 with what to do; 1.34 warned', () => {
    expect(cgroupVerdict(2, '1.37.1', 'kube-worker-01')).toMatchObject({ ok: true, warning: false });
    for (const layout of [1, 'hybrid'] as const) {
      const v = cgroupVerdict(layout, '1.35.0', 'kube-worker-01');
      expect(v.ok).toBe(false);
      expect(v.detail).toMatch(/^kube-worker-01: cgroup v1.*kubelet 1\.35\.0 refuses to start on cgroup v1/);
      expect(v.fix).toMatch(/systemd\.unified_cgroup_hierarchy=1/);
      expect(v.fix).toMatch(/kubelet\.allowCgroupV1: true/);
      expect(cgroupVerdict(layout, '1.37.1', 'x').ok).toBe(false);
      // The spec's opt-in (failCgroupV1: false in the kubelet's config) turns the refusal into a warning.
      expect(cgroupVerdict(layout, '1.37.1', 'x', 'lxc', true)).toMatchObject({ ok: true, warning: true });
      expect(cgroupVerdict(layout, '1.37.1', 'x', 'lxc', true).detail).toMatch(/kubelet\.allowCgroupV1/);
      expect(cgroupVerdict(layout, '1.34.2', 'x')).toMatchObject({ ok: true, warning: true });
    }
    expect(cgroupVerdict(0, '1.34.2', 'x').ok).toBe(false);
  });

  it('preflight (lxc): a hybrid host fails the cgroup check for kubelet 1.35+, warns for 1.34, passes on cgroup v2', async () => {
    const probes = (layout: 2 | 'hybrid' | 1): PreflightProbes => ({
      vagrantVersion: async () => '2.3.4',
      vagrantPlugins: async () => [{ name: 'vagrant-lxc', version: '1.4.3' }],
      which: async (cmd) => `/usr/bin/${cmd}`,
      commandVersion: async () => undefined,
      boxes: async () => [{ name: 'kcore/debian-12', provider: 'lxc', version: '0' }],
      memory: async () => ({ totalMb: 32768, availableMb: 24000 }),
      cpus: async () => 8,
      addresses: async () => [{ iface: 'lo', address: '127.0.0.1', cidr: '127.0.0.1/8' }],
      cgroup: async () => ({ layout, memory: true }),
      isRoot: () => true,
      sudoWorks: async () => true,
      runningMachines: async () => [],
    });
    const spec = (k: string) => {
      const s = defaultSpec({ provider: 'lxc' });
      return { ...s, versions: { ...s.versions, kubernetes: k } };
    };
    const cg = async (layout: 2 | 'hybrid' | 1, k: string) => (await runPreflight(spec(k), { probes: probes(layout) })).find((c) => c.check === 'cgroup')!;
    const refused = await cg('hybrid', '1.35.0');
    expect(refused.ok).toBe(false);
    expect(refused.detail).toMatch(/this host \(the lxc machines share its cgroups\): cgroup v1 \(hybrid/);
    expect(refused.fix).toMatch(/GRUB_CMDLINE_LINUX/);
    expect(await cg('hybrid', '1.34.2')).toMatchObject({ ok: true, warning: true });
    expect(await cg(2, '1.37.1')).toMatchObject({ ok: true, warning: false });
  });
});

function hasAptCache(): boolean {
  try {
    return /Candidate: (?!\(none\))/.test(execFileSync('apt-cache', ['policy', 'systemd'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}
