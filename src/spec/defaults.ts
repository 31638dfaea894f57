/** The seed's defaults (1 etcd, 1 master, 2 workers on 10.0.0.1x1) with today's components. */
import type { ClusterSpec, Provider } from './schema.js';

/** The newest supported Kubernetes minor and the versions it pins (the table is src/spec/versions.ts). */
export const DEFAULT_VERSIONS = {
  kubernetes: '1.37.1',
  etcd: '3.7.0',
  containerd: '2.1.4',
  cni: '1.9.1',
  flannel: '0.28.9',
  coredns: '1.14.6',
} as const;

/** The smallest memory (MB) each role can run in; below it the spec is refused. */
export const MIN_MEMORY_MB = { etcd: 512, 'kube-master': 1536, 'kube-worker': 1024 } as const;

/** The box each provider uses unless the spec says otherwise. */
export function defaultBox(provider: Provider, channel: 'stable' | 'beta' | 'alpha' = 'stable'): ClusterSpec['box'] {
  switch (provider) {
    case 'lxc':
      // Built on this machine by `kcore-wizard box build --provider lxc` (Debian with systemd and OpenSSH).
      return { name: 'kcore/debian-12', url: '', channel };
    case 'libvirt':
      // Flatcar publishes no libvirt box: `kcore-wizard box build --provider libvirt` makes it from the QEMU image.
      return { name: `kcore/flatcar-${channel}`, url: '', channel };
    default:
      return { name: `flatcar-${channel}`, url: `https://${channel}.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.box`, channel };
  }
}

/** Flatcar's login user is `core`; the Debian lxc box uses vagrant's own user. */
export function defaultSshUser(provider: Provider): string {
  return provider === 'lxc' ? 'vagrant' : 'core';
}

export function defaultSpec(overrides: { name?: string; provider?: Provider } = {}): ClusterSpec {
  const provider = overrides.provider ?? 'virtualbox';
  return {
    apiVersion: 'kcore-wizard/v1',
    name: overrides.name ?? 'kcore',
    provider,
    box: defaultBox(provider),
    ssh: { user: defaultSshUser(provider) },
    groups: {
      etcd: { count: 1, memory: 1024, cpus: 1 },
      'kube-master': { count: 1, memory: 2048, cpus: 1 },
      'kube-worker': { count: 2, memory: 2048, cpus: 1 },
    },
    network: {
      prefix: '10.0.0',
      serviceCidr: '10.3.0.0/24',
      podCidr: '10.2.0.0/16',
      dnsIp: '10.3.0.10',
      domain: 'cluster.local',
    },
    versions: { ...DEFAULT_VERSIONS },
    artifacts: { source: 'official' },
    addons: { dns: true, dashboard: false },
    kubelet: { allowCgroupV1: false },
    machines: [],
  };
}
