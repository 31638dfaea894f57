/**
 * A cluster workspace whose machines are real test hosts (provider `existing`): the spec's IP plan
 * uses the hosts' prefix, so etcd-01 is <prefix>.101, kube-master-01 <prefix>.111 and so on.
 */
import { scratchDir } from './scratch.js';
import { defaultSpec, hostIp, hostName, saveSpec, type ClusterSpec } from '../../src/spec/index.js';
import type { GroupName } from '../../src/spec/schema.js';

export interface Layout {
  etcd: number;
  'kube-master': number;
  'kube-worker': number;
}

/** Names and last octets for a layout, in role order. */
export function layoutHosts(layout: Layout): Array<{ name: string; group: GroupName; octet: number }> {
  const out: Array<{ name: string; group: GroupName; octet: number }> = [];
  for (const group of ['etcd', 'kube-master', 'kube-worker'] as const)
    for (let i = 1; i <= layout[group]; i++) out.push({ name: hostName(group, i), group, octet: Number(hostIp('0.0.0', group, i).split('.')[3]) });
  return out;
}

export interface HostsLike {
  prefix: string;
  user: string;
  identityFile: string;
}

export function specForHosts(hosts: HostsLike, layout: Layout, tweak?: (s: ClusterSpec) => void): ClusterSpec {
  const spec = defaultSpec({ name: 'test', provider: 'existing' });
  spec.ssh = { user: hosts.user, identityFile: hosts.identityFile };
  spec.network.prefix = hosts.prefix;
  for (const g of ['etcd', 'kube-master', 'kube-worker'] as const) spec.groups[g] = { ...spec.groups[g], count: layout[g] };
  spec.machines = layoutHosts(layout).map((h) => ({ name: h.name, address: `${hosts.prefix}.${h.octet}`, group: h.group, port: 22 }));
  tweak?.(spec);
  return spec;
}

export async function workspaceFor(spec: ClusterSpec): Promise<string> {
  const dir = await scratchDir('kcore-ws-');
  await saveSpec(dir, spec);
  return dir;
}
