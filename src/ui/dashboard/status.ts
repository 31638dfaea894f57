/**
 * How a host's status is shown: a glyph AND a colour, so the list reads the same with NO_COLOR. Each
 * glyph is distinct: ✓ healthy, ✗ failing, ⊘ unreachable, ○ not installed, … checking (no answer yet),
 * ? stale (the last answer is too old to trust).
 */
import type { HealthReport } from '../../health/report.js';
import { isStale, statusOf, type DashboardData, type HostStatus } from '../../state/dashboard-store.js';
import type { HostHealth } from '../../health/probe.js';
import type { Tone } from '../theme.js';

export type ShownStatus = HostStatus | 'stale';

export const STATUS: Record<ShownStatus, { glyph: string; word: string; tone: Tone }> = {
  healthy: { glyph: '✓', word: 'healthy', tone: 'ok' },
  failing: { glyph: '✗', word: 'failing', tone: 'failed' },
  unreachable: { glyph: '⊘', word: 'unreachable', tone: 'unreachable' },
  'not-installed': { glyph: '○', word: 'not installed', tone: 'pending' },
  pending: { glyph: '…', word: 'checking', tone: 'running' },
  stale: { glyph: '?', word: 'stale', tone: 'warn' },
};

export function shownStatus(h: HostHealth | undefined, now: number, s: Pick<DashboardData, 'intervalMs' | 'staleAfter'>): ShownStatus {
  if (isStale(h, now, s)) return 'stale';
  return statusOf(h);
}

export const GROUP_TITLE: Record<HealthReport['hosts'][number]['group'], string> = { etcd: 'etcd', 'kube-master': 'masters', 'kube-worker': 'workers' };

/** "3 s ago", "2 min ago", "1 h ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}
