/** The editable fields of the sizing and options steps: how to read, change and validate each. */
import { plannedMachines } from '../../commands/init.js';
import { defaultBox, defaultSshUser, MIN_MEMORY_MB } from '../../spec/defaults.js';
import { CURRENT_MINOR, SUPPORTED_MINORS } from '../../spec/versions.js';
import { FLATCAR_CHANNELS, GROUPS, PROVIDERS, type ClusterSpec, type GroupName, type Provider } from '../../spec/schema.js';

export type SizeKey = 'count' | 'memory' | 'cpus';
export const SIZE_KEYS: SizeKey[] = ['count', 'memory', 'cpus'];
export const SIZE_STEP: Record<SizeKey, number> = { count: 1, memory: 256, cpus: 1 };
export const SIZE_MAX: Record<SizeKey, number> = { count: 99, memory: 999_999, cpus: 999 };

export interface SizeField {
  group: GroupName;
  key: SizeKey;
  path: string;
}

export const SIZE_FIELDS: SizeField[] = GROUPS.flatMap((group) => SIZE_KEYS.map((key) => ({ group, key, path: `groups.${group}.${key}` })));

export const GROUP_LABEL: Record<GroupName, string> = { etcd: 'etcd', 'kube-master': 'masters', 'kube-worker': 'workers' };
export const GROUP_HINT: Record<GroupName, string> = {
  etcd: `the cluster's database; odd counts keep quorum (min ${MIN_MEMORY_MB.etcd} MB)`,
  'kube-master': `API server, scheduler, controllers (min ${MIN_MEMORY_MB['kube-master']} MB)`,
  'kube-worker': `run your pods (min ${MIN_MEMORY_MB['kube-worker']} MB)`,
};

export function setSize(spec: ClusterSpec, f: SizeField, value: number): ClusterSpec {
  const v = Math.max(0, Math.min(SIZE_MAX[f.key], Math.round(value)));
  return withMachines({ ...spec, groups: { ...spec.groups, [f.group]: { ...spec.groups[f.group], [f.key]: v } } });
}

/** Provider `existing` lists one machine per planned host (placeholders the user fills in), in step with the counts. */
export function withMachines(spec: ClusterSpec): ClusterSpec {
  return { ...spec, machines: spec.provider === 'existing' ? plannedMachines(spec) : [] };
}

export interface Choice {
  label: string;
  value: string;
}

export interface OptionField {
  id: string;
  label: string;
  /** The spec path validation messages use. */
  path: string;
  kind: 'text' | 'choice';
  get(spec: ClusterSpec): string;
  set(spec: ClusterSpec, value: string): ClusterSpec;
  choices?(spec: ClusterSpec): Choice[];
  hint: string;
}

const net = (key: keyof ClusterSpec['network'], label: string, hint: string): OptionField => ({
  id: key,
  label,
  path: `network.${key}`,
  kind: 'text',
  get: (s) => s.network[key],
  set: (s, v) => ({ ...s, network: { ...s.network, [key]: v } }),
  hint,
});

const PROVIDER_NOTE: Record<Provider, string> = {
  virtualbox: 'VirtualBox VMs (Flatcar box)',
  libvirt: 'KVM via vagrant-libvirt (Flatcar box)',
  lxc: 'LXC containers via vagrant-lxc (Debian box)',
  existing: 'machines you already have: writes the files, you fill in addresses',
};

/** Switching provider or channel keeps a custom box: only a default box follows the change. */
function withBox(spec: ClusterSpec, provider: Provider, channel: ClusterSpec['box']['channel']): ClusterSpec {
  const wasDefault = JSON.stringify(spec.box) === JSON.stringify(defaultBox(spec.provider, spec.box.channel));
  const box = wasDefault ? defaultBox(provider, channel) : { ...spec.box, channel };
  const sshUser = spec.ssh.user === defaultSshUser(spec.provider) ? defaultSshUser(provider) : spec.ssh.user;
  return withMachines({ ...spec, provider, box, ssh: { ...spec.ssh, user: sshUser } });
}

export const OPTION_FIELDS: OptionField[] = [
  {
    id: 'name',
    label: 'Cluster name',
    path: 'name',
    kind: 'text',
    get: (s) => s.name,
    set: (s, v) => ({ ...s, name: v }),
    hint: 'a DNS label: names the vagrant machines and the kubeconfig context',
  },
  {
    id: 'provider',
    label: 'Provider',
    path: 'provider',
    kind: 'choice',
    get: (s) => s.provider,
    set: (s, v) => withBox(s, v as Provider, s.box.channel),
    choices: () =>
      PROVIDERS.map((p) => ({ value: p, label: `${p.padEnd(10)} ${PROVIDER_NOTE[p]}` })),
    hint: 'what vagrant creates the machines with, or existing: machines you have (reached over SSH)',
  },
  {
    id: 'channel',
    label: 'Box channel',
    path: 'box.channel',
    kind: 'choice',
    get: (s) => s.box.channel,
    set: (s, v) => withBox(s, s.provider, v as ClusterSpec['box']['channel']),
    choices: () => FLATCAR_CHANNELS.map((c) => ({ value: c, label: c })),
    hint: 'Flatcar release channel of the box (stable is the safe choice)',
  },
  {
    id: 'kubernetes',
    label: 'Kubernetes',
    path: 'versions.kubernetes',
    kind: 'text',
    get: (s) => s.versions.kubernetes,
    set: (s, v) => ({ ...s, versions: { ...s.versions, kubernetes: v.replace(/^v/, '') } }),
    hint: `Kubernetes ${SUPPORTED_MINORS.map((m) => m.minor).join(', ')} (the supported minors), e.g. ${CURRENT_MINOR.latest}`,
  },
  net('prefix', 'Host network', 'first three octets: machines get <prefix>.1x1 … 1x9'),
  net('serviceCidr', 'Service CIDR', 'cluster IPs of services; the first is the API service'),
  net('podCidr', 'Pod CIDR', 'pod addresses; a /16 gives each node a /24 (110 pods), /20–/22 give /25–/27 (62–14 pods)'),
  net('dnsIp', 'DNS service IP', 'cluster DNS address, inside the service CIDR'),
  net('domain', 'DNS domain', 'the cluster domain, e.g. cluster.local'),
  {
    id: 'dashboard',
    label: 'Dashboard add-on',
    path: 'addons.dashboard',
    kind: 'choice',
    get: (s) => (s.addons.dashboard ? 'yes' : 'no'),
    set: (s, v) => ({ ...s, addons: { ...s.addons, dashboard: v === 'yes' } }),
    choices: () => [
      { value: 'no', label: 'no' },
      { value: 'yes', label: 'yes' },
    ],
    hint: 'also install the Kubernetes dashboard',
  },
];

export function optionPathFor(field: string): number {
  return OPTION_FIELDS.findIndex((f) => field === f.path || field.startsWith(`${f.path}.`));
}
