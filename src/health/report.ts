/**
 * `dashboard --once`: one health snapshot of every host, as JSON for scripts (the shape is documented
 * in docs/dashboard.md and versioned) or as a plain table. Exit 1 when any host is not healthy.
 */
import type { DashboardData } from '../state/dashboard-store.js';
import { healthCounts, statusOf } from '../state/dashboard-store.js';
import type { DashboardController } from './actions.js';
import type { Check } from './probe.js';
import type { TaskStatus } from '../engine/events.js';
import type { GroupName } from '../spec/schema.js';
import { smokeCounts } from './smoke.js';

export type HostStatusJson = 'healthy' | 'failing' | 'unreachable' | 'not-installed' | 'pending';

export interface CheckJson {
  ok: boolean;
  detail: string;
}

/** One host in `dashboard --once --output json`. */
export interface HostReport {
  name: string;
  group: GroupName;
  ip: string;
  status: HostStatusJson;
  reachable: boolean;
  /** What is wrong, one line each; empty when healthy. */
  problems: string[];
  /** installed: true (loaded), false (not-found: the roles never installed it), null (unknown). */
  units: Array<{ name: string; installed: boolean | null; active: string; sub: string }>;
  /** null: not checked on this host (not its role, or its tool/credentials are not installed yet). */
  checks: { etcd: CheckJson | null; apiserver: CheckJson | null; node: CheckJson | null };
  checkedAt: string | null;
  durationMs: number | null;
  lastSmoke: null | {
    at: string;
    passed: number;
    failed: number;
    skipped: number;
    results: Array<{ task: string; status: TaskStatus; message: string | null }>;
  };
}

/** `dashboard --once --output json`, version 1. */
export interface HealthReport {
  version: 1;
  cluster: string;
  versions: { kubernetes: string; etcd: string };
  checkedAt: string;
  /** Every host healthy (the exit code is 0 exactly when this is true). */
  healthy: boolean;
  counts: { total: number; healthy: number; failing: number; unreachable: number; notInstalled: number; pending: number };
  hosts: HostReport[];
  /**
   * The cluster-wide read: the master whose API server answered (the first whose /readyz does), the
   * masters passed over and why, the nodes it read. null: no master watched (or no answer yet).
   */
  api: null | { master: string | null; server: string | null; failover: boolean; passed: Array<{ name: string; problem: string }>; nodes: { total: number; ready: number; notReady: string[] } | null; error: string | null };
  /** Certificates of the workspace expiring within `warnDays` days (or expired). null: not read. */
  certificates: null | { warnDays: number; total: number; expiring: Array<{ file: string; subject: string; daysLeft: number }> };
}

const check = (c: Check | undefined) => (c ? { ok: c.ok, detail: c.detail } : null);

/** The report of the store's current state. */
export function healthReport(s: Pick<DashboardData, 'cluster' | 'versions' | 'hosts' | 'health' | 'smoke'> & Partial<Pick<DashboardData, 'api' | 'certs'>>, at: number): HealthReport {
  const c = healthCounts(s);
  const hosts: HostReport[] = s.hosts.map((ref) => {
    const h = s.health[ref.name];
    const smoke = s.smoke[ref.name];
    return {
      name: ref.name,
      group: ref.group,
      ip: ref.ip,
      status: statusOf(h) as HostStatusJson,
      reachable: h?.reachable ?? false,
      problems: h?.problems ?? ['no answer yet'],
      units: (h?.units ?? []).map((u) => ({ name: u.name, installed: u.load === 'loaded' ? true : u.load === 'not-found' ? false : null, active: u.active, sub: u.sub })),
      checks: { etcd: check(h?.etcd), apiserver: check(h?.apiserver), node: check(h?.node) },
      checkedAt: h ? new Date(h.checkedAt).toISOString() : null,
      durationMs: h?.durationMs ?? null,
      lastSmoke: smoke ? { at: new Date(smoke.at).toISOString(), ...smokeCounts(smoke), results: smoke.results.map((r) => ({ task: r.task, status: r.status, message: r.message ?? null })) } : null,
    };
  });
  return {
    version: 1,
    cluster: s.cluster,
    versions: s.versions,
    checkedAt: new Date(at).toISOString(),
    healthy: c.total > 0 && c.healthy === c.total,
    counts: { total: c.total, healthy: c.healthy, failing: c.failing, unreachable: c.unreachable, notInstalled: c['not-installed'], pending: c.pending },
    hosts,
    api: s.api
      ? { master: s.api.master, server: s.api.server ?? null, failover: !!s.api.master && s.api.master !== s.api.first, passed: s.api.passed, nodes: s.api.nodes ?? null, error: s.api.error ?? null }
      : null,
    certificates: s.certs ? { warnDays: s.certs.warnDays, total: s.certs.total, expiring: s.certs.expiring } : null,
  };
}

const GLYPH: Record<HostStatusJson, string> = { healthy: '✓', failing: '✗', unreachable: '⊘', 'not-installed': '○', pending: '…' };

/** The plain table `--once` prints without `--output json`. */
export function formatReport(r: HealthReport): string {
  const rows = r.hosts.map((h) => {
    const units = h.units.filter((u) => u.installed !== false).map((u) => `${u.name}:${u.installed === null ? '?' : u.active}`);
    const checks = (['etcd', 'apiserver', 'node'] as const).filter((k) => h.checks[k]).map((k) => `${k}:${h.checks[k]!.ok ? 'ok' : 'FAIL'}`);
    return { h, cols: [h.name, h.group, `${GLYPH[h.status]} ${h.status}`, [...units, ...checks].join(' ') || '-'] };
  });
  const head = ['HOST', 'GROUP', 'STATUS', 'UNITS AND CHECKS'];
  const w = head.map((t, i) => Math.max(t.length, ...rows.map((r) => r.cols[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
  const out = [`cluster ${r.cluster} (Kubernetes ${r.versions.kubernetes}, etcd ${r.versions.etcd}) at ${r.checkedAt}`, '', line(head)];
  for (const { h, cols } of rows) {
    out.push(line(cols));
    if (h.status !== 'healthy') for (const p of h.problems) out.push(`    ${p}`);
  }
  const c = r.counts;
  if (r.api) out.push('', r.api.master ? `API server: ${r.api.master} (${r.api.server})${r.api.failover ? `, failover: ${r.api.passed.map((p) => `${p.name}: ${p.problem}`).join('; ')}` : ''}${r.api.nodes ? `; nodes Ready ${r.api.nodes.ready}/${r.api.nodes.total}` : ''}` : `API server: none answers${r.api.error ? ` (${r.api.error})` : r.api.passed.length ? ` (${r.api.passed.map((p) => `${p.name}: ${p.problem}`).join('; ')})` : ''}`);
  for (const x of r.certificates?.expiring ?? []) out.push(`certificate ${x.file} (${x.subject}) ${x.daysLeft < 0 ? 'has EXPIRED' : `expires in ${x.daysLeft} days`}: kcore-wizard certs renew`);
  out.push('', `${c.healthy}/${c.total} hosts healthy${c.failing ? `, ${c.failing} failing` : ''}${c.unreachable ? `, ${c.unreachable} unreachable` : ''}${c.notInstalled ? `, ${c.notInstalled} not installed` : ''}`);
  return `${out.join('\n')}\n`;
}

/** Poll every host once and report (the controller is not started: no loop, no saved state changed). */
export async function snapshot(d: DashboardController, now: () => number = Date.now): Promise<HealthReport> {
  await d.loadSaved();
  await Promise.all([d.poller.refreshNow(), d.apiPoller?.refreshNow()]);
  return healthReport(d.store.getState(), now());
}
