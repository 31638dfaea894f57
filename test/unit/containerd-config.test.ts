// The containerd config format follows the containerd that runs. Format `version = 3` (containerd
// 2.x) cannot run here (Debian ships 1.6 and 1.7 only; test/integration/containerd.test.ts runs
// `version = 2` with both), so its keys are checked against containerd's own reference,
// docs/cri/config.md at v2.0.0 and v2.1.4 (github.com/containerd/containerd): the CRI settings
// moved to plugins."io.containerd.cri.v1.runtime" (runtimes.runc.options SystemdCgroup, cni) and
// plugins."io.containerd.cri.v1.images" (pinned_images.sandbox replaces sandbox_image); CNI
// `bin_dir` is deprecated since v2.1 for `bin_dirs` (a list).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FACTS_SCRIPT, parseFacts } from '../../src/engine/facts.js';
import type { TaskContext } from '../../src/engine/task.js';
import { FLATCAR_PINNED, flatcarContainerdSettings } from '../../src/roles/kube-common/flatcar-containerd.js';
import { containerdConfig, PAUSE_IMAGE } from '../../src/roles/kube-common/index.js';
import { containerdVersionOf, nodeConfigFiles } from '../../src/roles/kube-worker/index.js';
import { defaultSpec } from '../../src/spec/index.js';
import { FLATCAR_CONFIG_CGROUPFS_TOML, FLATCAR_CONFIG_TOML } from '../support/flatcar-containerd.js';

const spec = defaultSpec({ name: 'demo', provider: 'existing' });

/** [table] → keys, from the TOML the template writes (flat tables, one `key = value` a line). */
function tables(toml: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let cur = '';
  out.set(cur, new Map());
  for (const raw of toml.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    const t = /^\[(.+)\]$/.exec(l);
    if (t) {
      cur = t[1]!;
      if (out.has(cur)) throw new Error(`table [${cur}] twice`);
      out.set(cur, new Map());
      continue;
    }
    const kv = /^([A-Za-z_]+) = (.+)$/.exec(l);
    if (!kv) throw new Error(`not a key = value line: ${l}`);
    out.get(cur)!.set(kv[1]!, kv[2]!);
  }
  return out;
}

describe('containerd config.toml format per containerd version', () => {
  it('2.1+ gets version 3 with the CRI runtime and images plugins and CNI bin_dirs', () => {
    const t = tables(containerdConfig(spec, '2.1.4'));
    expect(t.get('')!.get('version')).toBe('3');
    expect(t.get('plugins."io.containerd.cri.v1.images".pinned_images')!.get('sandbox')).toBe(`"${PAUSE_IMAGE}"`);
    expect(t.get('plugins."io.containerd.cri.v1.runtime".containerd')!.get('default_runtime_name')).toBe('"runc"');
    expect(t.get('plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc')!.get('runtime_type')).toBe('"io.containerd.runc.v2"');
    expect(t.get('plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options')!.get('SystemdCgroup')).toBe('true');
    expect(Object.fromEntries(t.get('plugins."io.containerd.cri.v1.runtime".cni')!)).toEqual({ bin_dirs: '["/opt/cni/bin"]', conf_dir: '"/etc/cni/net.d"' });
    expect([...t.keys()].filter((k) => k.includes('io.containerd.grpc.v1.cri'))).toEqual([]);
  });

  it('2.0 gets version 3 with CNI bin_dir (bin_dirs came in 2.1)', () => {
    const t = tables(containerdConfig(spec, '2.0.5'));
    expect(t.get('')!.get('version')).toBe('3');
    expect(Object.fromEntries(t.get('plugins."io.containerd.cri.v1.runtime".cni')!)).toEqual({ bin_dir: '"/opt/cni/bin"', conf_dir: '"/etc/cni/net.d"' });
  });

  it.each(['1.6.20', '1.7.24'])('%s gets version 2 with the io.containerd.grpc.v1.cri plugin', (v) => {
    const t = tables(containerdConfig(spec, v));
    expect(t.get('')!.get('version')).toBe('2');
    expect(t.get('plugins."io.containerd.grpc.v1.cri"')!.get('sandbox_image')).toBe(`"${PAUSE_IMAGE}"`);
    expect(t.get('plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options')!.get('SystemdCgroup')).toBe('true');
    expect([...t.keys()].filter((k) => k.includes('cri.v1.'))).toEqual([]);
  });

  it('the spec version is the default', () => {
    expect(containerdConfig(spec)).toBe(containerdConfig(spec, spec.versions.containerd));
  });

  it('reads the version from `containerd --version`, upstream and Debian builds', () => {
    expect(containerdVersionOf('containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376\n')).toBe('2.1.4');
    expect(containerdVersionOf('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n')).toBe('1.6.20');
    expect(containerdVersionOf('bash: containerd: command not found\n')).toBeUndefined();
  });

  it('the facts carry the host containerd\'s version: the facts script, run by a real sh, with a containerd on PATH', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kcore-ctr-'));
    try {
      const bin = path.join(dir, 'containerd');
      writeFileSync(bin, '#!/bin/sh\necho "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b71"\n');
      chmodSync(bin, 0o755);
      const out = execFileSync('sh', ['-c', FACTS_SCRIPT], { encoding: 'utf8', env: { PATH: `${dir}:/usr/sbin:/usr/bin:/sbin:/bin` } });
      const addr = /^addr=\S+ (\d+\.\d+\.\d+\.\d+)\//m.exec(out)?.[1] ?? '127.0.0.1';
      const f = parseFacts(out, addr, 'h');
      expect(f.containerRuntime.containerd).toBe(bin);
      expect(containerdVersionOf(f.containerRuntime.containerdVersion ?? '')).toBe('2.1.4');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Flatcar's own containerd (Flatcar's build tree, github.com/flatcar/scripts at ab6d76d957b8:
// coreos-overlay/coreos/sysext/containerd/usr/share/containerd/config.toml and its unit; the settings
// are in test/support/flatcar-containerd.ts). Flatcar ships containerd 1.7.21 on LTS 4081, 2.1.5 on
// stable 4593, 2.2.5 on beta 4757 and alpha 4790; its config is `version = 2` with enable_selinux = true,
// oom_score = -999, SystemdCgroup = true and no imports. Our config replaces it through
// containerd.service.d/10-kcore.conf, so it must carry Flatcar's settings (containerd 2.x's keys:
// docs/cri/config.md at v2.1.9, `enable_selinux` in plugins."io.containerd.cri.v1.runtime": RuntimeConfig's
// EnableSelinux `toml:"enable_selinux"` in internal/cri/config/config.go at v2.1.5 and v2.2.0, the config of
// plugins/cri/runtime/plugin.go, registered as io.containerd.cri.v1 "runtime"; the top-level
// `oom_score` in cmd/containerd/server/config/config.go; containerd has no `subreaper` field).
describe("on Flatcar: our config carries Flatcar's own settings", () => {
  it("reads Flatcar's shipped config.toml: enable_selinux and oom_score carried, everything else ours or without effect", () => {
    expect(flatcarContainerdSettings(FLATCAR_CONFIG_TOML)).toEqual({ enableSelinux: true, oomScore: -999, source: 'host', notCarried: [] });
    // Its cgroupfs variant has no enable_selinux (off) and SystemdCgroup = false (ours wins: kubelet uses systemd).
    expect(flatcarContainerdSettings(FLATCAR_CONFIG_CGROUPFS_TOML)).toEqual({ enableSelinux: false, oomScore: -999, source: 'host', notCarried: [] });
    // The pinned copy (used when the host's file is missing) holds what the shipped file says.
    expect({ ...flatcarContainerdSettings(FLATCAR_CONFIG_TOML), source: 'pinned' }).toEqual(FLATCAR_PINNED);
  });

  it.each([
    ['stable 4593 (2.1.5)', '2.1.5', 3, 'plugins."io.containerd.cri.v1.runtime"'],
    ['beta/alpha (2.2.5)', '2.2.5', 3, 'plugins."io.containerd.cri.v1.runtime"'],
    ['LTS 4081 (1.7.21)', '1.7.21', 2, 'plugins."io.containerd.grpc.v1.cri"'],
  ])("Flatcar %s: Flatcar's SELinux and OOM settings with our CRI settings", (_ch, v, format, cri) => {
    const toml = containerdConfig(spec, v, flatcarContainerdSettings(FLATCAR_CONFIG_TOML));
    const t = tables(toml);
    expect(t.get('')!.get('version')).toBe(String(format));
    expect(t.get('')!.get('oom_score')).toBe('-999');
    expect(t.get(cri)!.get('enable_selinux')).toBe('true');
    const runtime = cri;
    expect(t.get(`${runtime}.containerd.runtimes.runc.options`)!.get('SystemdCgroup')).toBe('true');
    expect(t.get(`${runtime}.containerd.runtimes.runc`)!.get('runtime_type')).toBe('"io.containerd.runc.v2"');
    const cni = Object.fromEntries(t.get(`${runtime}.cni`)!);
    expect(cni.conf_dir).toBe('"/etc/cni/net.d"');
    expect(cni.bin_dirs ?? cni.bin_dir).toMatch(/^\[?"\/opt\/cni\/bin"\]?$/);
    const sandbox = format === 3 ? t.get('plugins."io.containerd.cri.v1.images".pinned_images')!.get('sandbox') : t.get(cri)!.get('sandbox_image');
    expect(sandbox).toBe(`"${PAUSE_IMAGE}"`);
    // Nothing that containerd would warn about ("Ignoring unknown key"): no subreaper, no v1 runtime.
    expect(toml).not.toMatch(/subreaper|io\.containerd\.runtime\.v1\.linux|imports/);
    expect(toml).toContain(`# containerd: Flatcar's own ${v} (Flatcar's containerd.service reads this file`);
    // Our config without Flatcar's settings is the one other hosts get, unchanged.
    expect(containerdConfig(spec, v)).not.toMatch(/enable_selinux|oom_score|Flatcar/);
  });

  it("SELinux off where Flatcar's file has it off", () => {
    const t = tables(containerdConfig(spec, '2.1.5', flatcarContainerdSettings(FLATCAR_CONFIG_CGROUPFS_TOML)));
    expect(t.get('plugins."io.containerd.cri.v1.runtime"')!.get('enable_selinux')).toBe('false');
    expect(t.get('plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options')!.get('SystemdCgroup')).toBe('true');
  });

  it('a config version 3 (a later Flatcar) is read from its own CRI table; what we do not carry is listed', () => {
    const v3 = `version = 3\noom_score = -500\nimports = ["/etc/containerd/conf.d/*.toml"]\n[plugins.'io.containerd.cri.v1.runtime']\nenable_selinux = true\nselinux_category_range = 512\n[plugins."io.containerd.cri.v1.images".registry]\nconfig_path = "/etc/containerd/certs.d"\n`;
    const s = flatcarContainerdSettings(v3);
    expect(s).toMatchObject({ enableSelinux: true, selinuxCategoryRange: 512, oomScore: -500 });
    expect(s.notCarried).toEqual([
      `imports = ["/etc/containerd/conf.d/*.toml"] (files imported by Flatcar's config are not read by ours)`,
      'plugins."io.containerd.cri.v1.images".registry.config_path = "/etc/containerd/certs.d"',
    ]);
    const t = tables(containerdConfig(spec, '2.3.3', s));
    expect(Object.fromEntries(t.get('plugins."io.containerd.cri.v1.runtime"')!)).toEqual({ enable_selinux: 'true', selinux_category_range: '512' });
    expect(t.get('')!.get('oom_score')).toBe('-500');
  });

  it('a file it cannot read, or of config version 1, is refused with the file and line', () => {
    expect(() => flatcarContainerdSettings('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nenable_selinux = true\nx = [\n  "a",\n]\n')).toThrow(
      '/usr/share/containerd/config.toml line 4: not a one-line key = value kcore-wizard can read: x = [',
    );
    expect(() => flatcarContainerdSettings('root = "/var/lib/containerd"\n')).toThrow('config version (none: 1)');
    expect(() => flatcarContainerdSettings('version = 2\n[grpc]\n[grpc]\n')).toThrow('line 3: table [grpc] twice');
  });
});

/** A node's TaskContext on a fake transport (pure planning: which files, with what): its outputs recorded. */
function nodeCtx(family: 'flatcar' | 'debian', containerd: string | null, versionLine: string | undefined, hostFile: string | null) {
  const s = defaultSpec({ name: 'demo', provider: 'existing' });
  const host = { name: 'w1', ip: '10.20.0.121', group: 'kube-worker' };
  const out: Array<[string, string]> = [];
  const read: string[] = [];
  const facts = { os: { id: family, family }, containerRuntime: { containerd, containerdVersion: versionLine, docker: null }, privateInterface: 'eth1' };
  const conn = {
    exec: async () => ({ stdout: '/etc/resolv.conf\n', stderr: '', exitCode: 0, durationMs: 0 }),
    readFile: async (p: string) => (read.push(p), hostFile === null ? null : Buffer.from(hostFile)),
  };
  const ctx = { run: { spec: s, dryRun: true }, host, conn, facts: () => facts, output: (l: string, st = 'stdout') => out.push([st, l]), signal: new AbortController().signal } as unknown as TaskContext;
  return { ctx, out, read, spec: s };
}

const configOf = async (ctx: TaskContext) => (await nodeConfigFiles(ctx)).find((f) => f.path === '/etc/containerd/config.toml')!.content as string;

describe('the plan says which containerd runs, and the Flatcar config is read from the host', () => {
  it("Flatcar: reads Flatcar's config on the host, writes ours with its settings, says Flatcar's own 2.1.5 runs", async () => {
    const { ctx, out, read, spec: s } = nodeCtx('flatcar', '/usr/bin/containerd', 'containerd github.com/containerd/containerd/v2 v2.1.5 4b53b4c5', FLATCAR_CONFIG_TOML);
    const toml = await configOf(ctx);
    expect(read).toEqual(['/usr/share/containerd/config.toml']);
    expect(toml).toBe(containerdConfig(s, '2.1.5', flatcarContainerdSettings(FLATCAR_CONFIG_TOML)));
    expect(tables(toml).get('plugins."io.containerd.cri.v1.runtime"')!.get('enable_selinux')).toBe('true');
    expect(out).toContainEqual(['stdout', `containerd: Flatcar's own 2.1.5; versions.containerd ${s.versions.containerd} applies only where kcore-wizard installs containerd`]);
    expect(out).toContainEqual(['stdout', "containerd config: Flatcar's enable_selinux = true, oom_score = -999 carried from /usr/share/containerd/config.toml"]);
    expect(out.filter(([st]) => st === 'stderr')).toEqual([]);
    expect(toml).toContain('/usr/share/containerd/config.toml\n# (read on this host) are carried: enable_selinux = true, oom_score = -999.\n');
  });

  it("Flatcar whose containerd version the facts could not read: the plan says the config is written for the spec's version", async () => {
    const { ctx, out, spec: s } = nodeCtx('flatcar', '/usr/bin/containerd', undefined, FLATCAR_CONFIG_CGROUPFS_TOML);
    expect(await configOf(ctx)).toBe(containerdConfig(s, s.versions.containerd, flatcarContainerdSettings(FLATCAR_CONFIG_CGROUPFS_TOML)));
    expect(out[0]).toEqual(['stdout', `containerd: Flatcar's own ${s.versions.containerd}? (its version could not be read; config written for it); versions.containerd ${s.versions.containerd} applies only where kcore-wizard installs containerd`]);
    expect(out).toContainEqual(['stdout', "containerd config: Flatcar's enable_selinux = false, oom_score = -999 carried from /usr/share/containerd/config.toml"]);
  });

  it("Flatcar without its config file: Flatcar's pinned settings, and the output says so", async () => {
    const { ctx, out, spec: s } = nodeCtx('flatcar', '/usr/bin/containerd', 'containerd github.com/containerd/containerd v1.7.21 472731909fa34bd7bc9c087e4c27943f9835f111', null);
    const toml = await configOf(ctx);
    expect(toml).toBe(containerdConfig(s, '1.7.21', FLATCAR_PINNED));
    expect(tables(toml).get('plugins."io.containerd.grpc.v1.cri"')!.get('enable_selinux')).toBe('true');
    expect(out).toContainEqual(['stderr', "/usr/share/containerd/config.toml is missing: carrying Flatcar's settings as its release ships them (enable_selinux = true, oom_score = -999)"]);
  });

  it('Flatcar with settings we do not carry: listed in the output', async () => {
    const { ctx, out } = nodeCtx('flatcar', '/usr/bin/containerd', 'containerd github.com/containerd/containerd/v2 v2.2.5 x', `${FLATCAR_CONFIG_TOML}\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/etc/containerd/certs.d"\n`);
    await configOf(ctx);
    expect(out).toContainEqual(['stderr', `Flatcar's /usr/share/containerd/config.toml also sets what our config does not carry: plugins."io.containerd.grpc.v1.cri".registry.config_path = "/etc/containerd/certs.d"`]);
  });

  it("other hosts: no Flatcar file read; the plan names the containerd that runs", async () => {
    const debian = nodeCtx('debian', null, undefined, FLATCAR_CONFIG_TOML);
    expect(await configOf(debian.ctx)).toBe(containerdConfig(debian.spec));
    expect(debian.read).toEqual([]);
    expect(debian.out).toEqual([['stdout', `containerd: ${debian.spec.versions.containerd} (versions.containerd), installed by kcore-wizard in /opt/bin`]]);
    const pkg = nodeCtx('debian', '/usr/bin/containerd', 'containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3', null);
    expect(await configOf(pkg.ctx)).toBe(containerdConfig(pkg.spec, '1.6.20'));
    expect(pkg.out).toEqual([['stdout', `containerd: the host's own (/usr/bin/containerd) 1.6.20; versions.containerd ${pkg.spec.versions.containerd} applies only where kcore-wizard installs containerd`]]);
  });
});
