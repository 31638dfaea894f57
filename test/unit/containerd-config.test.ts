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
import { containerdConfig, PAUSE_IMAGE } from '../../src/roles/kube-common/index.js';
import { containerdVersionOf } from '../../src/roles/kube-worker/index.js';
import { defaultSpec } from '../../src/spec/index.js';

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
