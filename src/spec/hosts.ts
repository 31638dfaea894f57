/** The IP plan and machine names: <prefix>.1x1 … 1x9 with x = 0 etcd, 1 master, 2 worker; names `%02d`. */
import type { ClusterSpec } from './schema.js';
import { GROUPS, type GroupName } from './names.js';
import { parseCidr, nthAddress } from './ip.js';

export const MAX_PER_GROUP = 9;
const GROUP_DIGIT: Record<GroupName, number> = { etcd: 0, 'kube-master': 1, 'kube-worker': 2 };

export interface PlannedHost {
  name: string;
  group: GroupName;
  /** Index within the group, from 1. */
  index: number;
  /** Address on the cluster's private network (what the cluster components use). */
  ip: string;
  /** Address kcore-wizard connects to over SSH (vagrant: from ssh.config; existing: the spec's address). */
  sshAddress: string;
  sshPort: number;
  memory: number;
  cpus: number;
}

export function hostName(group: GroupName, index: number): string {
  return `${group}-${String(index).padStart(2, '0')}`;
}

export function hostIp(prefix: string, group: GroupName, index: number): string {
  return `${prefix}.${100 + GROUP_DIGIT[group] * 10 + index}`;
}

/** Every machine of the cluster, in role order (etcd, masters, workers). */
export function plannedHosts(spec: ClusterSpec): PlannedHost[] {
  const out: PlannedHost[] = [];
  for (const group of GROUPS) {
    const g = spec.groups[group];
    if (spec.provider === 'existing') {
      const machines = spec.machines.filter((m) => m.group === group);
      machines.forEach((m, i) =>
        out.push({
          name: m.name,
          group,
          index: i + 1,
          ip: m.privateIp ?? m.address,
          sshAddress: m.address,
          sshPort: m.port,
          memory: g.memory,
          cpus: g.cpus,
        }),
      );
      continue;
    }
    for (let i = 1; i <= g.count; i++) {
      const ip = hostIp(spec.network.prefix, group, i);
      out.push({ name: hostName(group, i), group, index: i, ip, sshAddress: ip, sshPort: 22, memory: g.memory, cpus: g.cpus });
    }
  }
  return out;
}

export function hostsOf(spec: ClusterSpec, group: GroupName): PlannedHost[] {
  return plannedHosts(spec).filter((h) => h.group === group);
}

/** The first address of the service range: the `kubernetes` service's cluster IP, an API server SAN. */
export function apiServiceIp(spec: ClusterSpec): string {
  const c = parseCidr(spec.network.serviceCidr);
  if (!c) throw new Error(`invalid serviceCidr ${spec.network.serviceCidr}`);
  return nthAddress(c, 1);
}

export function totals(spec: ClusterSpec): { machines: number; memory: number; cpus: number } {
  let machines = 0;
  let memory = 0;
  let cpus = 0;
  for (const h of plannedHosts(spec)) {
    machines++;
    memory += h.memory;
    cpus += h.cpus;
  }
  return { machines, memory, cpus };
}
