/**
 * Every file the Kubernetes roles put on a host, rendered from templates/ (pure: spec + host in, text
 * out). Unit renderers take the binary folder as an option so tests can point it at stub executables
 * for `systemd-analyze verify`; the roles always use /opt/bin.
 */
import { createHash } from 'node:crypto';
import { yaml } from '../../util/yaml.js';
import { renderTemplate } from '../../render/env.js';
import { apiServiceIp, hostsOf } from '../../spec/hosts.js';
import { podPlan } from '../../spec/pods.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { FLATCAR_CONTAINERD_CONFIG, flatcarCarried, type FlatcarContainerdSettings } from './flatcar-containerd.js';
import {
  API_LB_HOST,
  API_LB_PORT,
  BIN_DIR,
  CNI_BIN,
  CNI_CONF,
  CONTAINERD_CONFIG,
  CONTROL_PLANE_TAINT,
  corednsImage,
  DASHBOARD_IMAGE,
  DASHBOARD_SCRAPER_IMAGE,
  DASHBOARD_VERSION,
  FLANNEL_KUBECONFIG,
  FLANNEL_NET_CONF,
  FLANNEL_SUBNET_FILE,
  K8S_DIR,
  K8S_PKI,
  PAUSE_IMAGE,
  SMOKE_IMAGE,
} from './paths.js';

export interface NodeRef {
  name: string;
  ip: string;
  group: string;
}

export interface RenderOpts {
  /** Folder of the binaries (default /opt/bin). */
  bin?: string;
}

export const clusterName = (spec: ClusterSpec) => `kcore-${spec.name}`;

/** https://<ip>:6443 of the first master: what the nodes and the admin kubeconfig talk to. */
export function apiServerUrl(spec: ClusterSpec, ip?: string): string {
  const first = hostsOf(spec, 'kube-master')[0];
  if (!ip && !first) throw new Error('the spec has no kube-master host');
  return `https://${ip ?? first!.ip}:6443`;
}

/**
 * Where a node's kubelet, kube-proxy and flanneld connect: a master to its own API server; a worker to
 * the only master, or, with more than one, to its local load balancer in front of all of them.
 */
export function nodeApiServerUrl(spec: ClusterSpec, host: Pick<NodeRef, 'ip' | 'group'>): string {
  if (host.group === 'kube-master') return apiServerUrl(spec, host.ip);
  return hostsOf(spec, 'kube-master').length > 1 ? `https://${API_LB_HOST}:${API_LB_PORT}` : apiServerUrl(spec);
}

export function etcdServers(spec: ClusterSpec): string {
  return hostsOf(spec, 'etcd')
    .map((h) => `https://${h.ip}:2379`)
    .join(',');
}

/** Size of each node's pod subnet: /24 in a /16 pod network, smaller when the pod network is small (src/spec/pods.ts). */
export function nodeCidrMaskSize(spec: ClusterSpec): number {
  return podPlan(spec.network.podCidr).nodeMask;
}

const common = (spec: ClusterSpec, host: NodeRef, o: RenderOpts) => ({
  cluster: spec.name,
  name: host.name,
  ip: host.ip,
  bin: o.bin ?? BIN_DIR,
  dir: K8S_DIR,
  pki: K8S_PKI,
});

export function apiserverUnit(spec: ClusterSpec, host: NodeRef, o: RenderOpts = {}): string {
  return renderTemplate('kubernetes/kube-apiserver.service.njk', {
    ...common(spec, host, o),
    etcdServers: etcdServers(spec),
    serviceCidr: spec.network.serviceCidr,
    domain: spec.network.domain,
  });
}

export function controllerManagerUnit(spec: ClusterSpec, host: NodeRef, o: RenderOpts = {}): string {
  return renderTemplate('kubernetes/kube-controller-manager.service.njk', {
    ...common(spec, host, o),
    podCidr: spec.network.podCidr,
    serviceCidr: spec.network.serviceCidr,
    nodeCidrMaskSize: nodeCidrMaskSize(spec),
  });
}

export function schedulerUnit(spec: ClusterSpec, host: NodeRef, o: RenderOpts = {}): string {
  return renderTemplate('kubernetes/kube-scheduler.service.njk', common(spec, host, o));
}

export function kubeletUnit(spec: ClusterSpec, host: NodeRef, o: RenderOpts = {}): string {
  return renderTemplate('kubernetes/kubelet.service.njk', common(spec, host, o));
}

export function kubeletConfig(spec: ClusterSpec, host: NodeRef, o: { resolvConf: string }): string {
  return renderTemplate('kubernetes/kubelet-config.yaml.njk', {
    ...common(spec, host, {}),
    dnsIp: spec.network.dnsIp,
    domain: spec.network.domain,
    resolvConf: o.resolvConf,
    maxPods: podPlan(spec.network.podCidr).maxPods,
    allowCgroupV1: spec.kubelet.allowCgroupV1,
    taints: host.group === 'kube-master' ? [CONTROL_PLANE_TAINT] : [],
  });
}

export function kubeProxyUnit(spec: ClusterSpec, host: NodeRef, o: RenderOpts = {}): string {
  return renderTemplate('kubernetes/kube-proxy.service.njk', common(spec, host, o));
}

export function kubeProxyConfig(spec: ClusterSpec, host: NodeRef): string {
  return renderTemplate('kubernetes/kube-proxy-config.yaml.njk', { ...common(spec, host, {}), podCidr: spec.network.podCidr, provider: spec.provider });
}

export function sysctlConf(spec: ClusterSpec): string {
  return renderTemplate('kubernetes/sysctl.conf.njk', { cluster: spec.name });
}

export function modulesLoadConf(spec: ClusterSpec): string {
  return renderTemplate('kubernetes/modules-load.conf.njk', { cluster: spec.name });
}

/**
 * config.toml for the containerd that will run (default: the spec's version): format `version = 3`
 * for containerd 2.x (CNI `bin_dirs` from 2.1 on), `version = 2` for 1.x. On Flatcar, `flatcar`
 * carries the settings of Flatcar's own config (src/roles/kube-common/flatcar-containerd.ts).
 */
export function containerdConfig(spec: ClusterSpec, version: string = spec.versions.containerd, flatcar?: FlatcarContainerdSettings): string {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  const format = major >= 2 ? 3 : 2;
  const cniBinDirs = major > 2 || (major === 2 && minor >= 1);
  return renderTemplate('containerd/config.toml.njk', {
    cluster: spec.name,
    containerdVersion: version,
    format,
    cniBinDirs,
    pauseImage: PAUSE_IMAGE,
    cniBin: CNI_BIN,
    cniConf: CNI_CONF,
    flatcar: flatcar ? { ...flatcar, file: FLATCAR_CONTAINERD_CONFIG, carried: flatcarCarried(flatcar).join(', ') } : null,
  });
}

/** Our own containerd unit, for hosts without containerd (Debian): binaries from the release tarball. */
export function containerdUnit(spec: ClusterSpec, o: RenderOpts = {}): string {
  return renderTemplate('containerd/containerd.service.njk', { cluster: spec.name, bin: o.bin ?? BIN_DIR, config: CONTAINERD_CONFIG });
}

/** Drop-in for Flatcar's own containerd.service: read our config (Flatcar's settings + ours) instead of /usr/share/containerd's. */
export function containerdDropIn(): string {
  return renderTemplate('containerd/10-kcore.conf.njk', { config: CONTAINERD_CONFIG });
}

export function flannelUnit(spec: ClusterSpec, host: NodeRef, o: RenderOpts & { iface: string }): string {
  return renderTemplate('flannel/flanneld.service.njk', {
    ...common(spec, host, o),
    kubeconfig: FLANNEL_KUBECONFIG,
    iface: o.iface,
    netConf: FLANNEL_NET_CONF,
    subnetFile: FLANNEL_SUBNET_FILE,
  });
}

export function flannelNetConf(spec: ClusterSpec): string {
  return renderTemplate('flannel/net-conf.json.njk', { podCidr: spec.network.podCidr, subnetLen: nodeCidrMaskSize(spec) });
}

export function cniConflist(): string {
  return renderTemplate('cni/10-flannel.conflist.njk', { subnetFile: FLANNEL_SUBNET_FILE });
}

/** The annotation that records which manifest an add-on object came from (idempotent apply). */
export const MANIFEST_HASH_ANNOTATION = 'kcore-wizard.io/manifest-sha256';

export interface Manifest {
  /** Add-on name: coredns, dashboard, smoke. */
  name: string;
  /** Multi-document YAML, every object annotated with the manifest's hash. */
  text: string;
  sha256: string;
  objects: Array<{ apiVersion: string; kind: string; name: string; namespace?: string }>;
}

/** Stamp every object of a rendered multi-document YAML with the hash of the whole rendering. */
export function stampManifest(name: string, rendered: string): Manifest {
  const sha = createHash('sha256').update(rendered).digest('hex');
  const objects: Manifest['objects'] = [];
  const parts: string[] = [];
  for (const d of yaml().parseAllDocuments(rendered)) {
    if (d.errors.length) throw new Error(`${name} manifest: ${d.errors[0]!.message}`);
    // An empty document (`---` after a block a template left out) has null contents, not no contents.
    const o = d.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> } } | null;
    if (o === null) continue;
    o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [MANIFEST_HASH_ANNOTATION]: sha };
    objects.push({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace });
    parts.push(yaml().stringify(o, { lineWidth: 0 }));
  }
  const header = rendered.split('\n').filter((l) => l.startsWith('#')).slice(0, 2).join('\n');
  return { name, text: `${header}\n---\n${parts.join('---\n')}`, sha256: sha, objects };
}

export function corednsManifest(spec: ClusterSpec): Manifest {
  const workers = hostsOf(spec, 'kube-worker').length;
  return stampManifest(
    'coredns',
    renderTemplate('addons/coredns.yaml.njk', {
      cluster: spec.name,
      version: spec.versions.coredns,
      image: corednsImage(spec.versions.coredns),
      domain: spec.network.domain,
      dnsIp: spec.network.dnsIp,
      replicas: Math.max(1, Math.min(2, workers)),
      // lxc machines resolve through 127.0.0.1 only and have no route out (see the template).
      forward: spec.provider !== 'lxc',
    }),
  );
}

export function dashboardManifest(): Manifest {
  return stampManifest('dashboard', renderTemplate('addons/dashboard.yaml.njk', { version: DASHBOARD_VERSION, image: DASHBOARD_IMAGE, scraperImage: DASHBOARD_SCRAPER_IMAGE }));
}

export const SMOKE_NAMESPACE = 'kcore-smoke';

/** One web pod pinned to each worker and a NodePort service in front of them. */
export function smokeManifest(spec: ClusterSpec): Manifest {
  return stampManifest(
    'smoke',
    renderTemplate('addons/smoke.yaml.njk', { namespace: SMOKE_NAMESPACE, image: SMOKE_IMAGE, nodes: hostsOf(spec, 'kube-worker').map((h) => h.name) }),
  );
}

/** The `kubernetes` service's cluster IP (what DNS must answer for kubernetes.default). */
export const kubernetesServiceIp = apiServiceIp;
