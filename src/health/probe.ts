/**
 * One health probe per host and poll: a single batched, read-only command reports the host's role
 * units (systemd), etcd member health over TLS, the API server's /readyz on masters and the node's
 * Ready condition on Kubernetes nodes. Units a host's roles never installed are "not installed", not
 * failures; a check whose tool or credentials are not on the host yet is left out.
 * Every network check runs under `timeout`, so a dead member answers "no answer" in seconds, never hangs.
 */
import type { GroupName } from '../spec/schema.js';
import type { HostConnection } from '../ssh/types.js';
import { shellQuote } from '../ssh/quote.js';
import { etcdctl } from '../roles/etcd/index.js';
import { unitsOf } from '../roles/index.js';
import { ADMIN_KUBECONFIG, KUBECTL, KUBELET_KUBECONFIG, kubectl } from '../roles/kube-common/index.js';

/**
 * The systemd units each group's roles install, as the roles declare them (src/roles/index.ts SERVICES):
 * etcd on etcd hosts; the control plane on masters, which are also nodes; the node's services on workers.
 */
export const UNITS: Record<GroupName, readonly string[]> = {
  etcd: unitsOf('etcd'),
  'kube-master': unitsOf('kube-master'),
  'kube-worker': unitsOf('kube-worker'),
};

export interface HostRef {
  name: string;
  group: GroupName;
  ip: string;
}

export interface UnitState {
  name: string;
  /** systemd's LoadState: `loaded`, `not-found` (never installed) …; `unknown` when systemctl gave no answer. */
  load: string;
  /** ActiveState: active, inactive, failed, activating … */
  active: string;
  /** SubState: running, dead, auto-restart … */
  sub: string;
}

export interface Check {
  ok: boolean;
  detail: string;
}

/**
 * healthy: every installed unit active and every check passed. failing: something installed is down.
 * unreachable: no answer over SSH within the timeout. not-installed: none of the role's units is there
 * (the roles never ran on this host).
 */
export type Verdict = 'healthy' | 'failing' | 'unreachable' | 'not-installed';

export interface HostHealth extends HostRef {
  verdict: Verdict;
  reachable: boolean;
  units: UnitState[];
  /** `etcdctl endpoint health` over TLS (etcd hosts with etcd installed). */
  etcd?: Check;
  /** `/readyz` of this master's API server (masters with kubectl and the admin kubeconfig). */
  apiserver?: Check;
  /** The node's Ready condition, as its kubelet credentials see it (nodes with kubectl and a kubelet kubeconfig). */
  node?: Check;
  /** What is wrong, one line each; empty when healthy. */
  problems: string[];
  /** When the answer arrived (ms since the epoch). */
  checkedAt: number;
  /** Round trip of the probe (connect included when the connection was new). */
  durationMs: number;
}

/** Seconds a network check may take on the host before `timeout` stops it. */
export const CHECK_TIMEOUT_S = 4;

// `env` runs the command so that it may start with variable assignments (ETCDCTL_API=3 …).
const bounded = (cmd: string) => `timeout -k 1 ${CHECK_TIMEOUT_S} env ${cmd}`;
/** Run a check and print "<tag> <exit code> <last line of output>". */
const report = (tag: string, cmd: string) => `out=$(${bounded(cmd)} 2>&1); echo "${tag} $? $(printf '%s' "$out" | tail -n 1)"`;

/** The batched probe script for a host (read-only; run with sudo to read the client keys). */
export function probeScript(host: HostRef, opts: { apiServer?: string } = {}): string {
  const units = UNITS[host.group];
  const lines = [`systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState ${units.map(shellQuote).join(' ')} 2>/dev/null | sed 's/^/U /'`];
  if (host.group === 'etcd')
    lines.push(
      `if [ -x /opt/bin/etcdctl ]; then if systemctl is-active --quiet etcd; then ${report('E', etcdctl(host.ip, 'endpoint health', { quick: true }))}; else echo "E - the etcd service is not running"; fi; fi`,
    );
  if (host.group === 'kube-master') {
    const server = opts.apiServer ?? `https://${host.ip}:6443`;
    lines.push(
      `if [ -x ${KUBECTL} ] && [ -r ${ADMIN_KUBECONFIG} ]; then if systemctl is-active --quiet kube-apiserver; then ${report('A', kubectl('get --raw /readyz', { server, timeout: '3s' }))}; else echo "A - kube-apiserver is not running"; fi; fi`,
    );
  }
  if (host.group === 'kube-master' || host.group === 'kube-worker') {
    const jsonpath = shellQuote(`{.status.conditions[?(@.type=="Ready")].status}`);
    lines.push(
      `if [ -x ${KUBECTL} ] && [ -r ${KUBELET_KUBECONFIG} ]; then ${report('N', kubectl(`get node ${shellQuote(host.name)} -o jsonpath=${jsonpath}`, { kubeconfig: KUBELET_KUBECONFIG, timeout: '3s' }))}; fi`,
    );
  }
  return lines.join('\n');
}

function parseUnits(host: HostRef, stdout: string): UnitState[] {
  // Stryker disable next-line ArrayDeclaration: a string in the list has no Id, so no unit ever matches it
  const blocks: Array<Record<string, string>> = [];
  let cur: Record<string, string> = {};
  for (const raw of stdout.split('\n')) {
    if (raw !== 'U' && !raw.startsWith('U ')) continue;
    const line = raw.slice(2);
    if (line.trim() === '') {
      if (Object.keys(cur).length) blocks.push(cur);
      cur = {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) cur[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (Object.keys(cur).length) blocks.push(cur);
  // By Id, not by position: systemctl prints one block per unit asked for, but the order is its own.
  return UNITS[host.group].map((name) => {
    const b = blocks.find((x) => x.Id === `${name}.service` || x.Id === name);
    return b ? { name, load: b.LoadState ?? 'unknown', active: b.ActiveState ?? 'unknown', sub: b.SubState ?? '' } : { name, load: 'unknown', active: 'unknown', sub: '' };
  });
}

/** "E 0 https://… is healthy: …" → a check; "E - why" → a check not run. */
function parseCheck(line: string, okWhen: (code: number, text: string) => boolean): Check {
  const m = /^[EAN] (-|\d+) ?(.*)$/.exec(line);
  if (!m) return { ok: false, detail: line };
  const text = (m[2] ?? '').trim();
  if (m[1] === '-') return { ok: false, detail: text };
  const code = Number(m[1]);
  if (code === 124 || code === 137) return { ok: false, detail: `no answer within ${CHECK_TIMEOUT_S} s` };
  return { ok: okWhen(code, text), detail: text || `exit ${code}` };
}

export const isInstalled = (u: UnitState) => u.load === 'loaded';

/** Parse the probe's output and judge the host (pure). */
export function parseProbe(host: HostRef, stdout: string, at: number, durationMs: number): HostHealth {
  const units = parseUnits(host, stdout);
  let etcd: Check | undefined;
  let apiserver: Check | undefined;
  let node: Check | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('E ')) etcd = parseCheck(line, (c, t) => c === 0 && /is healthy/.test(t));
    else if (line.startsWith('A ')) apiserver = parseCheck(line, (c, t) => c === 0 && t === 'ok');
    else if (line.startsWith('N ')) {
      node = parseCheck(line, (c, t) => c === 0 && t === 'True');
      if (/^N 0 /.test(line)) node.detail = `Ready=${node.detail === 'exit 0' ? 'unknown' : node.detail}`;
    }
  }
  const problems: string[] = [];
  const down = new Set<string>();
  for (const u of units)
    if (isInstalled(u) && u.active !== 'active') {
      down.add(u.name);
      problems.push(`${u.name} is ${u.active}${u.sub && u.sub !== u.active && u.sub !== 'dead' ? ` (${u.sub})` : ''}`);
    }
  // A check not run because its service is down is already said by the unit's line.
  if (etcd && !etcd.ok && !down.has('etcd')) problems.push(`etcd member not healthy: ${etcd.detail}`);
  if (apiserver && !apiserver.ok && !down.has('kube-apiserver')) problems.push(`API server /readyz: ${apiserver.detail}`);
  if (node && !node.ok) problems.push(`node ${host.name} not Ready: ${node.detail}`);
  const installed = units.some(isInstalled);
  const verdict: Verdict = problems.length ? 'failing' : installed ? 'healthy' : 'not-installed';
  if (verdict === 'not-installed') problems.push(`none of ${UNITS[host.group].join(', ')} is installed: run kcore-wizard converge`);
  return { name: host.name, group: host.group, ip: host.ip, verdict, reachable: true, units, etcd, apiserver, node, problems, checkedAt: at, durationMs };
}

/** Probe one host over an open connection (one command, sudo). */
export async function probeHost(conn: HostConnection, host: HostRef, opts: { signal?: AbortSignal; timeoutMs?: number; apiServer?: string; now?: () => number } = {}): Promise<HostHealth> {
  const now = opts.now ?? Date.now;
  const t0 = now();
  const r = await conn.exec(probeScript(host, { apiServer: opts.apiServer }), { sudo: true, signal: opts.signal, timeoutMs: opts.timeoutMs });
  return parseProbe(host, r.stdout, now(), now() - t0);
}

/** The result for a host that did not answer. */
export function unreachableHealth(host: HostRef, error: string, at: number, durationMs: number): HostHealth {
  return {
    name: host.name,
    group: host.group,
    ip: host.ip,
    verdict: 'unreachable',
    reachable: false,
    units: UNITS[host.group].map((name) => ({ name, load: 'unknown', active: 'unknown', sub: '' })),
    problems: [error],
    checkedAt: at,
    durationMs,
  };
}
