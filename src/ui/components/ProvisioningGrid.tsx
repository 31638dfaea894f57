/**
 * Every host of a run, fitted to the space given: a summary line, then panels (running and waiting
 * hosts) and one-liners (finished hosts), or a compact one-line-per-host list with a count of those
 * that do not fit. Reads the run store; reused by the wizard, `up` on a terminal and the dashboard.
 */
import { Box, Text } from 'ink';
import { useStore } from 'zustand';
import type { HostState } from '../../engine/events.js';
import type { HostView, RunStore } from '../../state/run-store.js';
import { useNow } from '../hooks.js';
import { clip } from '../format.js';
import { STATE_GLYPH, STATE_WORD, useTheme } from '../theme.js';
import { HostLine, HostPanel } from './HostPanel.js';
import { planGrid, rowsOf } from './layout.js';

export interface ProvisioningGridProps {
  store: RunStore;
  width: number;
  /** Rows available, summary line included. */
  height: number;
  /** Override the clock (tests, replays). */
  now?: number;
  /** The host picked with ↑↓ (marked). */
  selected?: string;
}

const SUMMARY_ORDER: HostState[] = ['running', 'failed', 'unreachable', 'changed', 'ok', 'cancelled', 'pending'];

export function countStates(hosts: HostView[]): Partial<Record<HostState, number>> {
  const out: Partial<Record<HostState, number>> = {};
  for (const h of hosts) out[h.state] = (out[h.state] ?? 0) + 1;
  return out;
}

export function StateCounts({ hosts, prefix }: { hosts: HostView[]; prefix?: string }) {
  const t = useTheme();
  const counts = countStates(hosts);
  const parts = SUMMARY_ORDER.filter((s) => counts[s]);
  return (
    <Text wrap="truncate-end">
      {prefix}
      {parts.map((s, i) => (
        <Text key={s} color={t.c(s)}>
          {i > 0 || prefix ? '  ' : ''}
          {STATE_GLYPH[s]} {counts[s]} {STATE_WORD[s]}
        </Text>
      ))}
    </Text>
  );
}

export function ProvisioningGrid({ store, width, height, now: fixedNow, selected }: ProvisioningGridProps) {
  const t = useTheme();
  const hostMap = useStore(store, (s) => s.hosts);
  const order = useStore(store, (s) => s.hostOrder);
  const status = useStore(store, (s) => s.status);
  const role = useStore(store, (s) => s.currentRole);
  const roles = useStore(store, (s) => s.roles);
  const ticking = useNow(1000, fixedNow === undefined && status === 'running');
  const now = fixedNow ?? ticking;
  const hosts = order.map((n) => hostMap[n]).filter((h): h is HostView => !!h);
  if (hosts.length === 0)
    return (
      <Box width={width} height={height}>
        <Text color={t.c('muted')}>waiting for the run to start…</Text>
      </Box>
    );
  const roleIndex = role ? roles.indexOf(role) : -1;
  const prefix = `${hosts.length} hosts${role ? ` · role ${roleIndex + 1}/${roles.length} ${role}` : ''} ·`;
  const plan = planGrid(hosts, width, height - 1);
  const byName = (n: string) => hostMap[n]!;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Box width={width}>
        <StateCounts hosts={hosts} prefix={prefix} />
      </Box>
      {plan.mode === 'panels' ? (
        <>
          {rowsOf(plan.panels, plan.columns).map((row, i) => (
            <Box key={`p${i}`} flexDirection="row" width={width} flexShrink={0}>
              {row.map((n) => (
                <HostPanel key={n} host={byName(n)} width={plan.columnWidth} outputLines={plan.outputLines} now={now} selected={n === selected} />
              ))}
            </Box>
          ))}
          {rowsOf(plan.collapsed, plan.columns).map((row, i) => (
            <Box key={`c${i}`} flexDirection="row" width={width} flexShrink={0}>
              {row.map((n) => (
                <HostLine key={n} host={byName(n)} width={plan.columnWidth} now={now} selected={n === selected} />
              ))}
            </Box>
          ))}
        </>
      ) : (
        <>
          {rowsOf(plan.listed, plan.columns).map((row, i) => (
            <Box key={`l${i}`} flexDirection="row" width={width} flexShrink={0}>
              {row.map((n) => (
                <HostLine key={n} host={byName(n)} width={plan.columnWidth} now={now} selected={n === selected} />
              ))}
            </Box>
          ))}
          {plan.hidden.length > 0 && (
            <Box width={width}>
              <StateCounts hosts={plan.hidden.map(byName)} prefix={clip(`+${plan.hidden.length} more not shown:`, width)} />
            </Box>
          )}
        </>
      )}
    </Box>
  );
}
