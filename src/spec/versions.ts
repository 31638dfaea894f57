/**
 * The Kubernetes minors kcore-wizard supports (the current one and the two before it, as upstream
 * supports them: https://kubernetes.io/releases/) and the component versions each one works with.
 *
 * Where the numbers come from (checked in 2026, cited again in test/unit/versions.test.ts):
 *  - etcd and CoreDNS: kubeadm's own pins for the minor (`SupportedEtcdVersion`, `CoreDNSVersion` in
 *    kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go, and build/dependencies.yaml):
 *    1.35 etcd 3.6.x / CoreDNS 1.13.1 (PR #133968), 1.36 etcd 3.6.x / CoreDNS 1.14.x,
 *    1.37 etcd 3.7.0 (PR #140333) / CoreDNS 1.14.6 (PR #140497). kubeadm refuses an external etcd
 *    older than `MinExternalEtcdVersion` 3.5.24.
 *  - containerd: 1.35 is the last minor whose kubelet supports containerd 1.x (1.7); 1.36 and later
 *    need containerd 2.
 *  - flannel: any 0.27/0.28 release; 0.28.9 is the newest (flannel-io/flannel tag v0.28.9, 2026-08-07).
 */
import type { ClusterSpec } from './schema.js';
import type { SpecProblem } from './errors.js';

/** An accepted range: `min` ≤ v < `below`. */
export interface VersionRange {
  min: string;
  below: string;
}

export interface MinorSupport {
  /** "1.37" */
  minor: string;
  /** The patch release kcore-wizard defaults to for this minor (null: name one yourself). */
  latest: string | null;
  /** What kubeadm pins for this minor (the tested combination). */
  etcd: string;
  coredns: string;
  /** Accepted ranges. */
  ranges: { etcd: VersionRange; containerd: VersionRange; coredns: VersionRange; flannel: VersionRange; cni: VersionRange };
}

/** kubeadm's MinExternalEtcdVersion (cmd/kubeadm/app/constants/constants.go, 2026). */
export const MIN_ETCD = '3.5.24';
/**
 * etcd 3.4 is below what Kubernetes supports, but it is the etcd Debian 12 ships: the spec accepts it
 * with a warning so that the etcd role can be proven against Debian's real binaries.
 */
export const WARN_ETCD = { min: '3.4.22', below: MIN_ETCD } as const;

const CNI: VersionRange = { min: '1.6.0', below: '2.0.0' };
const FLANNEL: VersionRange = { min: '0.27.0', below: '0.29.0' };

export const SUPPORTED_MINORS: readonly MinorSupport[] = [
  {
    minor: '1.35',
    latest: null,
    etcd: '3.6.6',
    coredns: '1.13.1',
    ranges: {
      etcd: { min: MIN_ETCD, below: '3.7.0' },
      containerd: { min: '1.7.0', below: '3.0.0' },
      coredns: { min: '1.12.0', below: '1.15.0' },
      flannel: FLANNEL,
      cni: CNI,
    },
  },
  {
    minor: '1.36',
    latest: null,
    etcd: '3.6.11',
    coredns: '1.14.2',
    ranges: {
      etcd: { min: MIN_ETCD, below: '3.7.0' },
      containerd: { min: '2.0.0', below: '3.0.0' },
      coredns: { min: '1.12.0', below: '1.15.0' },
      flannel: FLANNEL,
      cni: CNI,
    },
  },
  {
    minor: '1.37',
    latest: '1.37.1',
    etcd: '3.7.0',
    coredns: '1.14.6',
    ranges: {
      etcd: { min: MIN_ETCD, below: '3.8.0' },
      containerd: { min: '2.0.0', below: '3.0.0' },
      coredns: { min: '1.13.0', below: '1.15.0' },
      flannel: FLANNEL,
      cni: CNI,
    },
  },
];

/** The newest supported minor: what `init` and the wizard default to. */
export const CURRENT_MINOR = SUPPORTED_MINORS[SUPPORTED_MINORS.length - 1]!;

/** Compare two x.y.z versions (pre-release/build suffixes ignored). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[-+]/)[0]!.split('.').map(Number);
  const pb = b.split(/[-+]/)[0]!.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const inRange = (v: string, r: VersionRange) => compareVersions(v, r.min) >= 0 && compareVersions(v, r.below) < 0;

export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

export function supportFor(kubernetes: string): MinorSupport | undefined {
  return SUPPORTED_MINORS.find((m) => m.minor === minorOf(kubernetes));
}

const describeRange = (r: VersionRange) => `${r.min} or newer, below ${r.below}`;

/** Version rules: the Kubernetes minor must be supported, and every component must fit it. */
export function validateVersions(versions: ClusterSpec['versions']): { errors: SpecProblem[]; warnings: SpecProblem[] } {
  const errors: SpecProblem[] = [];
  const warnings: SpecProblem[] = [];
  const minors = SUPPORTED_MINORS.map((m) => m.minor).join(', ');
  const m = supportFor(versions.kubernetes);
  if (!m) {
    errors.push({
      field: 'versions.kubernetes',
      message: `${versions.kubernetes} is not a supported Kubernetes release: kcore-wizard supports ${minors} (the newest three minors); use e.g. ${CURRENT_MINOR.latest}`,
    });
    return { errors, warnings };
  }
  const k = `Kubernetes ${m.minor}`;
  const e = versions.etcd;
  if (!inRange(e, m.ranges.etcd)) {
    if (inRange(e, WARN_ETCD))
      warnings.push({
        field: 'versions.etcd',
        message: `etcd ${e} is older than the ${MIN_ETCD} ${k} supports (kubeadm's minimum): fine for a test bed with Debian's etcd, use ${m.etcd} for a real cluster`,
      });
    else errors.push({ field: 'versions.etcd', message: `etcd ${e} does not work with ${k}: use ${describeRange(m.ranges.etcd)} (kubeadm pins ${m.etcd})` });
  }
  const rule = (field: 'containerd' | 'coredns' | 'flannel' | 'cni', name: string, hint: string) => {
    const v = versions[field];
    if (!inRange(v, m.ranges[field])) errors.push({ field: `versions.${field}`, message: `${name} ${v} does not work with ${k}: use ${describeRange(m.ranges[field])}${hint}` });
  };
  rule('containerd', 'containerd', m.ranges.containerd.min.startsWith('1.') ? ' (1.35 is the last Kubernetes minor that supports containerd 1.x)' : ' (since Kubernetes 1.36 the kubelet needs containerd 2)');
  rule('coredns', 'CoreDNS', ` (kubeadm pins ${m.coredns})`);
  rule('flannel', 'flannel', '');
  rule('cni', 'CNI plugins', '');
  return { errors, warnings };
}
