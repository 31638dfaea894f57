// The supported Kubernetes window and the component versions each minor works with (src/spec/versions.ts),
// and the pod addresses per node (src/spec/pods.ts).
//
// Upstream sources these rules were checked against (2026):
//  - support window, three minors: https://kubernetes.io/releases/ ; 1.37.1 released 2026-09-15
//  - kubeadm's etcd/CoreDNS pins: kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go
//    (`SupportedEtcdVersion`, `MinExternalEtcdVersion = "3.5.24-0"`, `CoreDNSVersion`), bumped by
//    kubernetes/kubernetes PR #133968 (CoreDNS v1.13.1, 1.35), #138746 (etcd 3.6.11 for 1.34–1.36),
//    #140333 (etcd 3.7.0, 1.37), #140497 (CoreDNS v1.14.6, merged 2026-07-17 before the 1.37 code freeze)
//  - etcd-io/etcd Documentation/contributor-guide/release.md: 3.6 patches go to Kubernetes 1.34 and newer
//  - containerd 1.x: Kubernetes 1.35 is the last minor that supports it
//  - flannel: flannel-io/flannel tag v0.28.9 (2026-08-07); its Documentation/kube-flannel.yml pairs
//    flannel-cni-plugin v1.9.1-flannel3
//  - maxPods: KubeletConfiguration v1beta1 `maxPods` (default 110),
//    https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/ ; the node range is
//    kube-controller-manager's `--node-cidr-mask-size`
//    (https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/)
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  CURRENT_MINOR,
  DEFAULT_VERSIONS,
  defaultSpec,
  parseSpec,
  podPlan,
  renderSpecYaml,
  SpecError,
  SUPPORTED_MINORS,
  validateSpec,
  type ClusterSpec,
} from '../../src/spec/index.js';
import { controllerManagerUnit, flannelNetConf, kubeletConfig, kubeProxyConfig } from '../../src/roles/kube-common/render.js';

function check(mutate: (s: ClusterSpec) => void) {
  const s = defaultSpec();
  mutate(s);
  return validateSpec(s);
}

describe('supported Kubernetes window', () => {
  it('is the current minor and the two before it, and the defaults are the newest', () => {
    expect(SUPPORTED_MINORS.map((m) => m.minor)).toEqual(['1.35', '1.36', '1.37']);
    expect(CURRENT_MINOR.minor).toBe('1.37');
    expect(DEFAULT_VERSIONS).toEqual({ kubernetes: '1.37.1', etcd: '3.7.0', containerd: '2.1.4', cni: '1.9.1', flannel: '0.28.9', coredns: '1.14.6' });
    // each minor's own kubeadm pins pass its own rules
    for (const m of SUPPORTED_MINORS)
      expect(check((s) => Object.assign(s.versions, { kubernetes: `${m.minor}.0`, etcd: m.etcd, coredns: m.coredns })).errors).toEqual([]);
  });

  it('refuses a Kubernetes release outside the window, naming the field, line and exit code 2', () => {
    for (const v of ['1.34.2', '1.38.0', '2.0.0']) {
      expect(check((s) => (s.versions.kubernetes = v)).errors).toEqual([
        { field: 'versions.kubernetes', message: `${v} is not a supported Kubernetes release: kcore-wizard supports 1.35, 1.36, 1.37 (the newest three minors); use e.g. 1.37.1` },
      ]);
    }
    const s = defaultSpec();
    s.versions.kubernetes = '1.34.2';
    const text = renderSpecYaml(s);
    const line = text.split('\n').findIndex((l) => l.includes('kubernetes: 1.34.2')) + 1;
    let err: unknown;
    try {
      parseSpec(text, 'kcore.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).exitCode).toBe(2);
    expect((err as SpecError).message).toMatch(new RegExp(`^kcore\\.yaml:${line}:\\d+: versions\\.kubernetes: 1\\.34\\.2 is not a supported Kubernetes release`));
  });

  it('containerd 1.x only with 1.35', () => {
    expect(check((s) => Object.assign(s.versions, { kubernetes: '1.35.3', etcd: '3.6.6', coredns: '1.13.1', containerd: '1.7.28' })).errors).toEqual([]);
    expect(check((s) => Object.assign(s.versions, { kubernetes: '1.36.2', etcd: '3.6.11', containerd: '1.7.28' })).errors).toEqual([
      { field: 'versions.containerd', message: 'containerd 1.7.28 does not work with Kubernetes 1.36: use 2.0.0 or newer, below 3.0.0 (since Kubernetes 1.36 the kubelet needs containerd 2)' },
    ]);
    expect(check((s) => (s.versions.containerd = '1.6.20')).errors.map((e) => e.field)).toEqual(['versions.containerd']);
    expect(check((s) => Object.assign(s.versions, { kubernetes: '1.35.3', etcd: '3.6.6', coredns: '1.13.1', containerd: '1.6.20' })).errors[0]!.message).toBe(
      'containerd 1.6.20 does not work with Kubernetes 1.35: use 1.7.0 or newer, below 3.0.0 (1.35 is the last Kubernetes minor that supports containerd 1.x)',
    );
  });

  it('etcd: kubeadm minimum 3.5.24, 3.7 only from 1.37; Debian 12 etcd 3.4 is a warning', () => {
    expect(check((s) => (s.versions.etcd = '3.7.1')).errors).toEqual([]);
    expect(check((s) => Object.assign(s.versions, { kubernetes: '1.36.2', etcd: '3.7.0' })).errors).toEqual([
      { field: 'versions.etcd', message: 'etcd 3.7.0 does not work with Kubernetes 1.36: use 3.5.24 or newer, below 3.7.0 (kubeadm pins 3.6.11)' },
    ]);
    expect(check((s) => (s.versions.etcd = '3.5.23')).warnings.map((w) => w.field)).toEqual(['versions.etcd']);
    expect(check((s) => (s.versions.etcd = '3.3.27')).errors.map((e) => e.field)).toEqual(['versions.etcd']);
    expect(check((s) => (s.versions.etcd = '3.8.0')).errors.map((e) => e.field)).toEqual(['versions.etcd']);
    const debian = check((s) => (s.versions.etcd = '3.4.23'));
    expect(debian.errors).toEqual([]);
    expect(debian.warnings).toEqual([
      { field: 'versions.etcd', message: "etcd 3.4.23 is older than the 3.5.24 Kubernetes 1.37 supports (kubeadm's minimum): fine for a test bed with Debian's etcd, use 3.7.0 for a real cluster" },
    ]);
    expect(check((s) => (s.versions.etcd = '3.5.24')).warnings).toEqual([]);
  });

  it('CoreDNS, flannel and the CNI plugins within their ranges', () => {
    expect(check((s) => (s.versions.coredns = '1.12.4')).errors).toEqual([
      { field: 'versions.coredns', message: 'CoreDNS 1.12.4 does not work with Kubernetes 1.37: use 1.13.0 or newer, below 1.15.0 (kubeadm pins 1.14.6)' },
    ]);
    expect(check((s) => (s.versions.flannel = '0.26.7')).errors.map((e) => e.field)).toEqual(['versions.flannel']);
    expect(check((s) => (s.versions.flannel = '0.27.4')).errors).toEqual([]);
    expect(check((s) => (s.versions.cni = '1.5.1')).errors.map((e) => e.field)).toEqual(['versions.cni']);
  });
});

describe('pod addresses per node', () => {
  it('maxPods follows the per-node range the controller manager allocates', () => {
    expect(
      ['10.2.0.0/16', '10.2.0.0/19', '10.2.0.0/20', '10.2.0.0/21', '10.2.0.0/22'].map((c) => {
        const p = podPlan(c);
        return [c, p.nodeMask, p.usable, p.maxPods, p.nodeRanges];
      }),
    ).toEqual([
      ['10.2.0.0/16', 24, 253, 110, 256],
      ['10.2.0.0/19', 24, 253, 110, 32],
      ['10.2.0.0/20', 25, 125, 62, 32],
      ['10.2.0.0/21', 26, 61, 30, 32],
      ['10.2.0.0/22', 27, 29, 14, 32],
    ]);
  });

  it('the kubelet config, the controller manager and flannel agree on the range', () => {
    for (const [cidr, mask, pods] of [
      ['10.2.0.0/16', 24, 110],
      ['10.2.0.0/20', 25, 62],
      ['10.2.0.0/22', 27, 14],
    ] as const) {
      const s = defaultSpec();
      s.network.podCidr = cidr;
      expect(validateSpec(s).errors).toEqual([]);
      const node = { name: 'kube-worker-01', ip: '10.0.0.121', group: 'kube-worker' };
      const kubelet = YAML.parse(kubeletConfig(s, node, { resolvConf: '/etc/resolv.conf' })) as { maxPods: number };
      expect(kubelet.maxPods).toBe(pods);
      expect(controllerManagerUnit(s, { ...node, name: 'kube-master-01', group: 'kube-master' })).toContain(`--node-cidr-mask-size=${mask} `);
      expect((JSON.parse(flannelNetConf(s)) as { SubnetLen: number }).SubnetLen).toBe(mask);
    }
  });

  it('refuses pod networks that leave fewer than 8 pods per node', () => {
    expect(check((s) => (s.network.podCidr = '10.2.0.0/23')).errors).toEqual([
      { field: 'network.podCidr', message: '10.2.0.0/23 is too small for pods: each node would get a /28 of it, room for 6 pods; use a /22 or larger (a /16 gives each node a /24, 110 pods)' },
    ]);
    expect(check((s) => (s.network.podCidr = '10.2.0.0/24')).errors.map((e) => e.field)).toEqual(['network.podCidr']);
  });
});

describe('generated configs fit the window', () => {
  // kube-proxy's ipvs mode is deprecated since 1.35 (KEP-5495,
  // kubernetes/enhancements keps/sig-network/5495-deprecate-ipvs-mode-in-kube-proxy/kep.yaml), nftables is GA
  // since 1.33 and iptables is still kube-proxy's default (kubernetes CHANGELOG-1.37 "Deprecation",
  // PR #139067). KubeProxyConfiguration is still kubeproxy.config.k8s.io/v1alpha1 and the kubelet's
  // KubeletConfiguration kubelet.config.k8s.io/v1beta1.
  it('kube-proxy runs iptables (or nftables), never the deprecated ipvs; the kubelet config is v1beta1', () => {
    const s = defaultSpec();
    const node = { name: 'kube-worker-01', ip: '10.0.0.121', group: 'kube-worker' };
    const proxy = YAML.parse(kubeProxyConfig(s, node)) as { apiVersion: string; mode: string };
    expect(proxy.apiVersion).toBe('kubeproxy.config.k8s.io/v1alpha1');
    expect(['iptables', 'nftables']).toContain(proxy.mode);
    const kubelet = YAML.parse(kubeletConfig(s, node, { resolvConf: '/etc/resolv.conf' })) as { apiVersion: string; kind: string };
    expect([kubelet.apiVersion, kubelet.kind]).toEqual(['kubelet.config.k8s.io/v1beta1', 'KubeletConfiguration']);
  });
});
