/**
 * The cgroup version a machine runs, and whether the kubelet of a Kubernetes version starts on it.
 *
 * Since Kubernetes 1.35 the kubelet refuses to start on cgroup v1 unless its configuration sets
 * `failCgroupV1: false` (KEP-5573, https://git.k8s.io/enhancements/keps/sig-node/5573-cgroup-v1-unsupported;
 * the kubelet's error: "kubelet is configured to not run on a host using cgroup v1"). A host in
 * hybrid mode (v1 controllers plus an empty cgroup2 mount at /sys/fs/cgroup/unified, systemd's
 * default before v247 and still this project's Debian hosts) counts as v1: the controllers kubelet
 * needs are on v1 hierarchies. lxc machines share the host's kernel and see its layout.
 *
 * Detection is the one Kubernetes documents (https://kubernetes.io/docs/concepts/architecture/cgroups/):
 * `stat -fc %T /sys/fs/cgroup/` prints `cgroup2fs` on v2 and `tmpfs` on v1.
 */

export type CgroupLayout = 2 | 'hybrid' | 1 | 0;

/** Run on the machine; its output goes to parseCgroupProbe. */
export const CGROUP_PROBE = 'echo "fs=$(stat -fc %T /sys/fs/cgroup/ 2>/dev/null)"; if [ -d /sys/fs/cgroup/unified ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then echo unified=1; else echo unified=0; fi';

export function parseCgroupProbe(stdout: string): CgroupLayout {
  const fs = /^fs=(.*)$/m.exec(stdout)?.[1]?.trim();
  const unified = /^unified=1$/m.test(stdout);
  if (fs === 'cgroup2fs') return 2;
  if (fs === 'tmpfs') return unified ? 'hybrid' : 1;
  return 0;
}

export function layoutName(l: CgroupLayout): string {
  return l === 2 ? 'cgroup v2' : l === 'hybrid' ? 'cgroup v1 (hybrid: v1 controllers plus an empty cgroup2 mount)' : l === 1 ? 'cgroup v1' : 'no cgroup filesystem';
}

/** The first Kubernetes minor whose kubelet refuses cgroup v1 by default (failCgroupV1: true). */
export const FAIL_CGROUP_V1_SINCE = 35;

function minorOf(version: string): number {
  const m = /^v?1\.(\d+)/.exec(version.trim());
  return m ? Number(m[1]) : NaN;
}

export interface CgroupVerdict {
  ok: boolean;
  /** ok, but worth saying (v1 on a kubelet that still accepts it). */
  warning: boolean;
  detail: string;
  fix?: string;
}

/**
 * Whether kubelet `kubernetesVersion` starts on a machine with this layout. `where` names the
 * machine (or "this host, whose layout the lxc machines share").
 */
export function cgroupVerdict(layout: CgroupLayout, kubernetesVersion: string, where: string, provider?: string, allowV1 = false): CgroupVerdict {
  if (layout === 2) return { ok: true, warning: false, detail: `${where}: cgroup v2` };
  if (layout === 0) return { ok: false, warning: false, detail: `${where}: no cgroup filesystem on /sys/fs/cgroup, kubelet cannot run`, fix: 'boot with systemd as init (it mounts cgroup2 on /sys/fs/cgroup)' };
  const minor = minorOf(kubernetesVersion);
  const boot =
    provider === 'lxc'
      ? 'boot this host with cgroup v2 only (kernel command line `systemd.unified_cgroup_hierarchy=1`, e.g. in GRUB_CMDLINE_LINUX of /etc/default/grub, then `update-grub` and reboot): lxc machines share the host\'s cgroups'
      : 'boot the machine with cgroup v2 only (kernel command line `systemd.unified_cgroup_hierarchy=1`)';
  if (Number.isFinite(minor) && minor >= FAIL_CGROUP_V1_SINCE && allowV1)
    return {
      ok: true,
      warning: true,
      detail: `${where}: ${layoutName(layout)}; kubelet ${kubernetesVersion} runs on it only because kcore.yaml sets kubelet.allowCgroupV1 (failCgroupV1: false), and cgroup v1 support is deprecated upstream`,
      fix: boot,
    };
  if (Number.isFinite(minor) && minor >= FAIL_CGROUP_V1_SINCE)
    return {
      ok: false,
      warning: false,
      detail: `${where}: ${layoutName(layout)}; kubelet ${kubernetesVersion} refuses to start on cgroup v1 (failCgroupV1 is true by default since 1.${FAIL_CGROUP_V1_SINCE})`,
      fix: `${boot}; or, knowing cgroup v1 is deprecated upstream, set kubelet.allowCgroupV1: true in kcore.yaml (\`kcore-wizard init --allow-cgroup-v1\`): the kubelet then runs with failCgroupV1: false`,
    };
  return {
    ok: true,
    warning: true,
    detail: `${where}: ${layoutName(layout)}; kubelet ${kubernetesVersion} still starts on it, kubelet 1.${FAIL_CGROUP_V1_SINCE}+ will not`,
    fix: boot,
  };
}
