/**
 * The dashboard's panes: the header line, the host list grouped by role, and the detail pane of the
 * selected host (its units, checks, last smoke results and last commands; a unit's journal; a rerun's
 * results as they stream in). They read the stores only.
 */
import { Box, Text } from 'ink';
import type { HostRef } from '../../health/probe.js';
import { smokeCounts } from '../../health/smoke.js';
import { GROUP_ORDER, healthCounts, visibleHosts, type ApiView, type CertsView } from '../../state/dashboard-store.js';
import type { HostView } from '../../state/run-store.js';
import { formatDuration } from '../format.js';
import { TASK_GLYPH, taskTone, useTheme } from '../theme.js';
import { useDash, useRun } from './context.js';
import { LinesBox, seg, type Line } from './lines.js';
import { ago, GROUP_TITLE, shownStatus, STATUS } from './status.js';

export function DashboardHeader({ width, now }: { width: number; now: number }) {
  const t = useTheme();
  const cluster = useDash((s) => s.cluster);
  const versions = useDash((s) => s.versions);
  const hosts = useDash((s) => s.hosts);
  const health = useDash((s) => s.health);
  const paused = useDash((s) => s.paused);
  const intervalMs = useDash((s) => s.intervalMs);
  const staleAfter = useDash((s) => s.staleAfter);
  const api = useDash((s) => s.api);
  const certs = useDash((s) => s.certs);
  const c = healthCounts({ hosts, health });
  const stale = hosts.filter((h) => shownStatus(health[h.name], now, { intervalMs, staleAfter }) === 'stale').length;
  const newest = Math.max(0, ...hosts.map((h) => health[h.name]?.checkedAt ?? 0));
  const all = c.healthy === c.total && c.total > 0 && !stale;
  const refresh = paused ? 'paused' : newest ? `refreshed ${ago(now - newest)}` : 'checking…';
  const left: Line = [seg(' kcore-wizard dashboard', 'title', true), seg(`  ${cluster}`, undefined, true), seg(`  Kubernetes ${versions.kubernetes} · etcd ${versions.etcd}`, 'muted')];
  const right = headerRight({
    hosts: c.pending === c.total ? seg(`… hosts healthy ${c.healthy}/${c.total}`, 'running', true) : seg(`${all ? '✓' : '✗'} hosts healthy ${c.healthy}/${c.total}`, all ? 'ok' : 'failed', true),
    stale: stale ? seg(`  ? ${stale} stale`, 'warn') : undefined,
    refresh: seg(`  ${refresh} `, 'muted'),
    api,
    certs,
    // The title keeps a few cells; the cluster's state matters more than its name.
    room: width - 12,
  });
  const rightText = right.map((s) => s.text).join('');
  const leftWidth = Math.max(0, width - rightText.length - 2);
  return (
    <Box width={width} height={1}>
      <Box width={leftWidth} overflow="hidden">
        <Text wrap="truncate-end">
          {left.map((s, i) => (
            <Text key={i} color={s.tone ? t.c(s.tone) : undefined} bold={s.bold}>
              {s.text}
            </Text>
          ))}
        </Text>
      </Box>
      <Text>{'  '}</Text>
      <Text wrap="truncate-end">
        {right.map((s, i) => (
          <Text key={i} color={s.tone ? t.c(s.tone) : undefined} bold={s.bold}>
            {s.text}
          </Text>
        ))}
      </Text>
    </Box>
  );
}

/** "! cert etcd/etcd-01.crt expires in 12 d" (`short`: "! 1 cert expires in 12 d"), "! 2 certs expire within 30 d", "✗ 1 cert EXPIRED". */
export function certWarning(certs: CertsView | null, short = false): Line[number] | undefined {
  if (!certs?.expiring.length) return undefined;
  const expired = certs.expiring.filter((x) => x.daysLeft < 0).length;
  const n = certs.expiring.length;
  const one = certs.expiring[0]!;
  const text = expired
    ? `✗ ${expired} cert${expired === 1 ? '' : 's'} EXPIRED${n > expired ? `, ${n - expired} expiring` : ''}`
    : n === 1
      ? `! ${short ? '1 cert' : `cert ${one.file}`} expires in ${one.daysLeft} d`
      : `! ${n} certs expire within ${certs.warnDays} d`;
  return seg(`${text}  `, expired ? 'failed' : 'warn', true);
}

/**
 * The API server the cluster reads go through: the first master's (✓), another master's (! a failover:
 * the first one was passed over), none (✗); with the nodes it read.
 */
export function apiSegments(api: ApiView | null): { api?: Line[number]; nodes?: Line[number] } {
  if (!api) return {};
  if (!api.master) return { api: seg('✗ API: no master answers', 'failed', true) };
  const failover = api.master !== api.first;
  return {
    api: seg(`${failover ? '!' : '✓'} API ${api.master}`, failover ? 'warn' : 'ok', failover),
    nodes: api.nodes ? seg(` · nodes Ready ${api.nodes.ready}/${api.nodes.total}`, api.nodes.ready === api.nodes.total ? 'muted' : 'failed') : undefined,
  };
}

/**
 * The header's right part, in `room` cells: what is wrong first. To fit, it drops in turn the nodes, the
 * certificate's file name, the refresh time and last the API server. Pure.
 */
export function headerRight(p: { hosts: Line[number]; stale?: Line[number]; refresh: Line[number]; api: ApiView | null; certs: CertsView | null; room: number }): Line {
  const { api, nodes } = apiSegments(p.api);
  const build = (o: { nodes: boolean; longCert: boolean; refresh: boolean; api: boolean }): Line =>
    [certWarning(p.certs, !o.longCert), o.api ? api : undefined, o.api && o.nodes ? nodes : undefined, o.api && api ? seg('  ') : undefined, p.hosts, p.stale, o.refresh ? p.refresh : seg(' ')].filter(
      (x): x is Line[number] => !!x,
    );
  const levels = [
    { nodes: true, longCert: true, refresh: true, api: true },
    { nodes: false, longCert: true, refresh: true, api: true },
    { nodes: false, longCert: false, refresh: true, api: true },
    { nodes: false, longCert: false, refresh: false, api: true },
    { nodes: false, longCert: false, refresh: false, api: false },
  ];
  for (const o of levels) {
    const l = build(o);
    if (l.reduce((n, x) => n + x.text.length, 0) <= p.room) return l;
  }
  return build(levels.at(-1)!);
}

/** The host list: a heading per role, one row per host (glyph, name, status), the selection marked. */
export function HostList({ width, height, now }: { width: number; height: number; now: number }) {
  const hosts = useDash((s) => s.hosts);
  const health = useDash((s) => s.health);
  const filter = useDash((s) => s.filter);
  const filtering = useDash((s) => s.filtering);
  const selected = useDash((s) => s.selected);
  const intervalMs = useDash((s) => s.intervalMs);
  const staleAfter = useDash((s) => s.staleAfter);
  const polling = useDash((s) => s.polling);
  const visible = visibleHosts({ hosts, filter, health });
  const lines: Line[] = [];
  let selectedRow = 0;
  if (filtering || filter) lines.push([seg(' /', 'accent', true), seg(filter), seg(filtering ? '▌' : '', 'accent'), seg(filtering ? '' : `  (${visible.length} of ${hosts.length})`, 'muted')]);
  const nameW = Math.max(8, ...hosts.map((h) => h.name.length));
  for (const g of GROUP_ORDER) {
    const group = visible.filter((h) => h.group === g);
    if (!group.length) continue;
    lines.push([seg(` ${GROUP_TITLE[g]} (${group.length})`, 'muted', true)]);
    for (const h of group) {
      const st = STATUS[shownStatus(health[h.name], now, { intervalMs, staleAfter })];
      const sel = h.name === selected;
      if (sel) selectedRow = lines.length;
      lines.push([
        { text: sel ? ' › ' : '   ', tone: 'accent', bold: true },
        { text: `${st.glyph} `, tone: st.tone, bold: true },
        { text: h.name.padEnd(nameW), bold: sel, inverse: sel },
        { text: `  ${st.word}`, tone: st.tone },
        { text: polling[h.name] ? ' ·' : '', tone: 'muted' },
      ]);
    }
  }
  if (!visible.length) lines.push([seg(filter ? `  no host matches "${filter}" (esc clears)` : '  no hosts', 'muted')]);
  // Keep the selected row in view.
  const start = lines.length <= height ? 0 : Math.min(lines.length - height, Math.max(0, selectedRow - Math.floor(height / 2)));
  return <LinesBox lines={lines.slice(start)} width={width} height={height} />;
}

function unitLine(u: { name: string; load: string; active: string; sub: string }, w: number): Line {
  if (u.load === 'not-found') return [seg('  ○ ', 'pending'), seg(u.name.padEnd(w)), seg('  not installed', 'muted')];
  if (u.load !== 'loaded') return [seg('  ? ', 'warn'), seg(u.name.padEnd(w)), seg('  unknown', 'muted')];
  const ok = u.active === 'active';
  return [seg(ok ? '  ✓ ' : '  ✗ ', ok ? 'ok' : 'failed', true), seg(u.name.padEnd(w)), seg(`  ${u.active}${u.sub ? ` (${u.sub})` : ''}`, ok ? 'muted' : 'failed')];
}

/** An ISO time from the command log as local HH:MM:SS. */
function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
}

/** The selected host: what the probe saw, the last smoke results, the last commands run on it. */
function HostInfo({ host, width, height, now }: { host: HostRef; width: number; height: number; now: number }) {
  const h = useDash((s) => s.health[host.name]);
  const smoke = useDash((s) => s.smoke[host.name]);
  const commands = useDash((s) => s.commands[host.name]);
  const intervalMs = useDash((s) => s.intervalMs);
  const staleAfter = useDash((s) => s.staleAfter);
  const st = STATUS[shownStatus(h, now, { intervalMs, staleAfter })];
  const lines: Line[] = [
    [seg(`${st.glyph} ${host.name}`, st.tone, true), seg(`  ${host.group} · ${host.ip}`, 'muted'), seg(`  ${st.word}`, st.tone, true)],
    [seg(h ? `  answered ${ago(now - h.checkedAt)} in ${h.durationMs} ms` : '  waiting for the first answer…', 'muted')],
  ];
  if (h && h.verdict !== 'healthy') for (const p of h.problems) lines.push([seg(`  ! ${p}`, h.verdict === 'not-installed' ? 'muted' : STATUS[h.verdict].tone)]);
  if (h?.units.length) {
    lines.push([], [seg('Units', 'title', true)]);
    const w = Math.max(...h.units.map((u) => u.name.length));
    for (const u of h.units) lines.push(unitLine(u, w));
  }
  const checks = h ? ([['etcd member', h.etcd], ['API /readyz', h.apiserver], ['node Ready', h.node]] as const).filter(([, c]) => c) : [];
  if (checks.length) {
    lines.push([], [seg('Checks', 'title', true)]);
    for (const [name, c] of checks) lines.push([seg(c!.ok ? '  ✓ ' : '  ✗ ', c!.ok ? 'ok' : 'failed', true), seg(name.padEnd(12)), seg(`  ${c!.detail}`, c!.ok ? 'muted' : 'failed')]);
  }
  lines.push([]);
  if (smoke) {
    const c = smokeCounts(smoke);
    lines.push([seg('Last smoke tests', 'title', true), seg(`  ${ago(now - smoke.at)}: ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`, c.failed ? 'failed' : 'muted')]);
    for (const r of smoke.results)
      lines.push([seg(`  ${TASK_GLYPH[r.status]} `, taskTone(r.status), true), seg(r.task), seg(r.message && r.status !== 'ok' ? `: ${r.message.split('\n')[0]}` : '', taskTone(r.status))]);
  } else lines.push([seg('Last smoke tests', 'title', true), seg('  none recorded yet (s runs them)', 'muted')]);
  lines.push([], [seg('Last commands', 'title', true), seg(`  .kcore/logs/${host.name}.log`, 'muted')]);
  if (!commands?.length) lines.push([seg('  none logged yet', 'muted')]);
  // The newest ones when they do not all fit: what just ran is what a person looks for.
  else for (const c of commands.slice(-Math.max(1, height - lines.length))) lines.push([seg(`  ${clock(c.at)} `, 'muted'), seg(c.text)]);
  return <LinesBox lines={lines} width={width} height={height} />;
}

function RunResults({ host, width, height, now }: { host: HostRef; width: number; height: number; now: number }) {
  const run = useDash((s) => s.run);
  const view: HostView | undefined = useRun((s) => s.hosts[host.name]);
  const lines: Line[] = [];
  if (!run) return <LinesBox lines={[[seg('no rerun yet: s runs the smoke tests', 'muted')]]} width={width} height={height} />;
  const elapsed = formatDuration((run.endedAt ?? now) - run.startedAt);
  const tone = run.status === 'ok' ? 'ok' : run.status === 'running' ? 'running' : run.status === 'cancelled' ? 'cancelled' : 'failed';
  const word = run.status === 'ok' ? 'passed' : run.status === 'running' ? 'running' : run.status;
  lines.push([seg(run.title, 'title', true), seg(`  ${word} ${elapsed}`, tone, true)]);
  if (run.error) lines.push([seg(`  ✗ ${run.error}`, 'failed')]);
  if (!run.hosts.includes(host.name)) lines.push([seg(`  ${host.name} is not part of this run`, 'muted')]);
  else if (!view) lines.push([seg('  waiting for the engine…', 'muted')]);
  else {
    lines.push([seg(`${host.name}`, undefined, true), seg(`  ${view.state}${view.task ? ` › ${view.task}` : ''}`, 'muted')]);
    const results = view.results.filter((r) => run.kind === 'reconverge' || r.tags.includes('test') || r.status !== 'ok');
    for (const r of results)
      lines.push([
        seg(`  ${TASK_GLYPH[r.status]} `, taskTone(r.status), true),
        seg(`${r.status === 'ok' ? 'pass' : r.status === 'failed' ? 'FAIL' : r.status}  `, taskTone(r.status)),
        seg(r.task),
        seg(r.message && r.status !== 'ok' ? `: ${r.message.split('\n')[0]}` : '', taskTone(r.status)),
      ]);
    // Task output (the run store also keeps failure messages there: those are shown above already).
    const said = new Set(results.map((r) => `${r.task}: ${r.message ?? r.status}`));
    const output = view.lines.filter((l) => !said.has(l));
    if (output.length) {
      lines.push([seg('output', 'muted')]);
      for (const l of output) lines.push([seg(`  ${l}`, 'muted')]);
    }
  }
  return <LinesBox lines={lines} width={width} height={height} />;
}

function Journal({ width, height }: { width: number; height: number }) {
  const j = useDash((s) => s.journal);
  if (!j) return <LinesBox lines={[]} width={width} height={height} />;
  const head: Line = [seg(`journalctl -u ${j.unit} -n 50`, 'title', true), seg(`  on ${j.host}`, 'muted'), seg(j.loading ? '  loading…' : `  ${j.lines.length} lines`, 'muted')];
  const body: Line[] = j.error ? [[seg(`✗ ${j.error}`, 'failed')]] : j.lines.map((l) => [seg(l)]);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <LinesBox lines={[head]} width={width} height={1} />
      <LinesBox lines={body} width={width} height={Math.max(0, height - 1)} from="end" />
    </Box>
  );
}

export function DetailPane({ width, height, now }: { width: number; height: number; now: number }) {
  const selected = useDash((s) => s.selected);
  const hosts = useDash((s) => s.hosts);
  const pane = useDash((s) => s.pane);
  const host = hosts.find((h) => h.name === selected);
  if (!host) return <LinesBox lines={[[seg('no host selected', 'muted')]]} width={width} height={height} />;
  if (pane === 'journal') return <Journal width={width} height={height} />;
  if (pane === 'run') return <RunResults host={host} width={width} height={height} now={now} />;
  return <HostInfo host={host} width={width} height={height} now={now} />;
}

/** A vertical rule between the list and the detail pane. */
export function VRule({ height }: { height: number }) {
  const t = useTheme();
  return (
    <Box flexDirection="column" width={1} height={height}>
      {Array.from({ length: height }, (_, i) => (
        <Text key={i} color={t.c('muted')}>
          │
        </Text>
      ))}
    </Box>
  );
}
