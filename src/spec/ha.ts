/**
 * What high availability means for the chosen sizes, in words (pure: for `plan` and the wizard).
 * Two separate questions, answered separately: how many masters may stop with the API still
 * answering (every worker reaches all of them through its local load balancer), and how many etcd
 * members may stop with etcd still holding quorum (a majority: floor(n/2) + 1 of n). The cluster
 * survives the smaller of the two in each kind; losing quorum stops every API server, however many.
 */
import type { ClusterSpec } from './schema.js';

export interface HaFacts {
  masters: number;
  etcd: number;
  /** Masters that may stop with the API still answering. */
  mastersTolerated: number;
  /** Majority of the etcd members. */
  etcdQuorum: number;
  /** etcd members that may stop with quorum kept. */
  etcdTolerated: number;
}

export function haFacts(spec: Pick<ClusterSpec, 'groups'>): HaFacts {
  const masters = spec.groups['kube-master'].count;
  const etcd = spec.groups.etcd.count;
  const etcdQuorum = Math.floor(etcd / 2) + 1;
  return { masters, etcd, mastersTolerated: masters - 1, etcdQuorum, etcdTolerated: etcd - etcdQuorum };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The lines `plan` prints under "high availability" (and the wizard can show). */
export function haSummary(spec: Pick<ClusterSpec, 'groups' | 'name'>): string[] {
  const f = haFacts(spec);
  const lines: string[] = [];
  if (f.masters === 1)
    lines.push('API: 1 master, no failover: while kube-master-01 is down, kubectl, the add-ons and every node lose the API (running pods keep running).');
  else
    lines.push(
      `API: ${f.masters} masters, survives losing ${plural(f.mastersTolerated, 'master')}: every worker reaches all of them through its local load balancer (haproxy on 127.0.0.1:6444); each master's own node components use its own API server.`,
      `kubectl: the workspace kubeconfig's context kcore-${spec.name} uses kube-master-01; ${f.masters > 2 ? `kcore-${spec.name}-kube-master-02 … one context per other master` : `kcore-${spec.name}-kube-master-02 uses kube-master-02`} (kubectl --context …); the add-ons run from the first master that answers.`,
    );
  if (f.etcd === 1) lines.push('etcd: 1 member, no failover: while etcd-01 is down no API server can read or write, however many masters there are.');
  else if (f.etcdTolerated === 0)
    lines.push(`etcd: ${f.etcd} members, quorum ${f.etcdQuorum}: survives losing none (an even count adds a member that can fail without adding tolerance; ${f.etcd + 1} would survive one).`);
  else lines.push(`etcd: ${f.etcd} members, quorum ${f.etcdQuorum}: survives losing ${plural(f.etcdTolerated, 'member')}.`);
  const api = f.mastersTolerated;
  const kv = f.etcdTolerated;
  if (api === 0 && kv === 0) lines.push('Together: no single machine of the control plane may stop.');
  else if (api === 0 || kv === 0)
    lines.push(`Together: ${api === 0 ? 'the single master' : 'etcd'} is the limit: ${api === 0 ? `losing it stops the API even though etcd survives losing ${plural(kv, 'member')}` : 'losing one etcd member stops the API whichever masters still run'}.`);
  else lines.push(`Together: the control plane survives losing ${plural(api, 'master')} and ${plural(kv, 'etcd member')} at the same time.`);
  return lines;
}
