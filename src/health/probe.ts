/**
 * One health probe per host and poll: a single batched command reports the host's role units
 * (systemd), etcd member health over TLS, and on masters the API server's /readyz and the node's
 * Ready condition. Units a host's roles never installed are "not installed", not failures.
 */
import type { GroupName } from '../spec/schema.js';
import type { HostConnection } from '../ssh/types.js';
import { shellQuote } from '../ssh/quote.js';
import { etcdctl } from '../roles/etcd/index.js';

/** The systemd units each group's roles install. */
export const UNITS: Record<GroupName, string[]> = {
  etcd: ['etcd'],
  'kube-master': ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy', 'flanneld'],
  'kube-worker': ['containerd', 'kubelet', 'kube-proxy', 'flanneld'],
};

export interface UnitState {
  name: string;
  /** loaded, not-found … */
  load: string;
  /** active, inactive, failed, activating … */
  active: string;
  sub: string;
}

export interface Check {
  ok: boolean;
  detail: string;
}

export type Verdict = 'healthy' | 'failing' | 'unreachable' | 'unknown';

export interface HostHealth {
  name: string;
  group: GroupName;
  ip: string;
  reachable: boolean;
  /** Why the host could not be probed (unreachable, timeout …). */
  error?: string;
  units: UnitState[];
  etcd?: Check;
  apiserver?: Check;
  node?: Check;
  verdict: Verdict;
  /** What is wrong, one line each (empty when healthy). */
  problems: string[];
  checkedAt: number;
  durationMs: number;
}

const ADMIN = '/etc/kubernetes/admin.kubeconfig';

/** The batched probe script for a host (read-only). */
export function probeScript(host: { name: string; group: GroupName; ip: string }): string {
  const units = UNITS[host.group];
  const lines = [
    `systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState ${units.map(shellQuote).join(' ')} 2>/dev/null | sed 's/^/U /'`,
  ];
  if (host.group === 'etcd')
    lines.push(`if [ -x /opt/bin/etcdctl ]; then out=$(${etcdctl(host.ip, 'endpoint health')} 2>&1); echo "E $? $(echo "$out" | tail -n1)"; fi`);
  if (host.group === 'kube-master')
    lines.push(
      `if [ -x /opt/bin/kubectl ] && [ -r ${ADMIN} ]; then out=$(/opt/bin/kubectl --kubeconfig ${ADMIN} --request-timeout=3s get --raw /readyz 2>&1); echo "A $? $(echo "$out" | tail -n1)";`,
      `  out=$(/opt/bin/kubectl --kubeconfig ${ADMIN} --request-timeout=3s get node ${shellQuote(host.name)} -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>&1); echo "N $? $(echo "$out" | tail -n1)"; fi`,
    );
  return lines.join('\n');
}

/** Parse the probe's output and judge the host (pure; exported for tests). */
export function parseProbe(host: { name: string; group: GroupName; ip: string }, stdout: string, at: number, durationMs: number): HostHealth {
  const units: UnitState[] = [];
  let cur: Partial<UnitState> = {};
  const flush = () => {
    if (cur.name) units.push({ name: cur.name.replace(/\.service$/, ''), load: cur.load ?? '?', active: cur.active ?? '?', sub: cur.sub ?? '?' });
    cur = {};
  };
  let etcd: Check | undefined;
  let apiserver: Check | undefined;
  let node: Check | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('U ')) {
      const [k, v = ''] = line.slice(2).split('=', 2) as [string, string?];
      if (k === 'Id') {
        flush();
        cur.name = v;
      } else if (k === 'LoadState') cur.load = v;
      else if (k === 'ActiveState') cur.active = v;
      else if (k === 'SubState') cur.sub = v;
      continue;
    }
    const m = /^([EAN]) (\d+) ?(.*)$/.exec(line);
    if (!m) continue;
    const code = Number(m[2]);
    const rest = m[3] ?? '';
    if (m[1] === 'E') etcd = { ok: code === 0 && /is healthy/.test(rest), detail: rest };
    if (m[1] === 'A') apiserver = { ok: code === 0 && rest.trim() === 'ok', detail: rest };
    if (m[1] === 'N') node = { ok: code === 0 && rest.trim() === 'True', detail: code === 0 ? `Ready=${rest.trim() || 'unknown'}` : rest };
  }
  flush();
  const problems: string[] = [];
  for (const u of units) if (u.load === 'loaded' && u.active !== 'active') problems.push(`${u.name} is ${u.active}${u.sub && u.sub !== u.active ? ` (${u.sub})` : ''}`);
  if (etcd && !etcd.ok) problems.push(`etcd not healthy: ${etcd.detail}`);
  if (apiserver && !apiserver.ok) problems.push(`API server /readyz: ${apiserver.detail}`);
  if (node && !node.ok) problems.push(`node ${host.name}: ${node.detail}`);
  const installed = units.some((u) => u.load === 'loaded');
  return {
    ...host,
    reachable: true,
    units,
    etcd,
    apiserver,
    node,
    verdict: problems.length ? 'failing' : installed ? 'healthy' : 'unknown',
    problems: problems.length ? problems : installed ? [] : ['no role installed yet: run kcore-wizard converge'],
    checkedAt: at,
    durationMs,
  };
}

export async function probeHost(conn: HostConnection, host: { name: string; group: GroupName; ip: string }, signal?: AbortSignal, timeoutMs = 8000): Promise<HostHealth> {
  const t0 = Date.now();
  const r = await conn.exec(probeScript(host), { sudo: true, signal, timeoutMs });
  return parseProbe(host, r.stdout, Date.now(), Date.now() - t0);
}

export function unreachable(host: { name: string; group: GroupName; ip: string }, error: string, at: number, durationMs: number): HostHealth {
  return { ...host, reachable: false, error, units: [], verdict: 'unreachable', problems: [error], checkedAt: at, durationMs };
}
