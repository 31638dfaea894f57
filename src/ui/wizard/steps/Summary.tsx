/** Step 8: how it went: per-host recap, smoke tests (tasks tagged `test`), kubeconfig, next commands. */
import { Box, Text } from 'ink';
import { useStore } from 'zustand';
import type { HostView } from '../../../state/run-store.js';
import { HostLine } from '../../components/HostPanel.js';
import { StateCounts } from '../../components/ProvisioningGrid.js';
import { rowsOf } from '../../components/layout.js';
import { clip, formatDuration, wrapText } from '../../format.js';
import { LinesBox, seg, type Line } from '../../dashboard/lines.js';
import { useTheme } from '../../theme.js';
import { useWizard, useWizardContext } from '../context.js';

export interface SmokeResult {
  host: string;
  role: string;
  task: string;
  ok: boolean;
  message?: string;
}

export function smokeResults(hosts: HostView[]): SmokeResult[] {
  const out: SmokeResult[] = [];
  for (const h of hosts)
    for (const r of h.results)
      if (r.tags.includes('test') && r.status !== 'skipped')
        out.push({ host: h.name, role: r.role, task: r.task, ok: r.status === 'ok' || r.status === 'changed', message: r.message });
  return out;
}

const NEXT = [
  ['kcore-wizard test', 'run the smoke tests again'],
  ['kcore-wizard dashboard', 'watch the cluster live'],
  ['kcore-wizard destroy', 'remove the machines'],
] as const;

/** Provider `existing`: the files are written; what to fill in, then the command that configures the machines. */
function WrittenOnly({ width, height, dir, message }: { width: number; height: number; dir: string; message: string }) {
  const inner = Math.max(10, width - 2);
  const lines: Line[] = [
    [seg('✓ Workspace written: kcore.yaml and inventory.ini', 'ok', true)],
    [],
    ...wrapText(message, inner - 2).map((l): Line => [seg(`  ${l}`)]),
    [],
    [seg('Next        ', undefined, true), seg(`cd ${dir}`, 'accent')],
    [seg('            '), seg('$EDITOR kcore.yaml'.padEnd(24), 'accent'), seg('fill in the machines', 'muted')],
    [seg('            '), seg('kcore-wizard up'.padEnd(24), 'accent'), seg('check, configure and test them', 'muted')],
  ];
  return (
    <Box paddingX={1} width={width} height={height}>
      <LinesBox lines={lines} width={inner} height={height} />
    </Box>
  );
}

export function SummaryStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const { runStore } = useWizardContext();
  const result = useWizard((s) => s.run.result);
  const started = useWizard((s) => s.run.startedAt);
  const ended = useWizard((s) => s.run.endedAt);
  const dir = useWizard((s) => s.dir);
  const name = useWizard((s) => s.draft.name);
  const selected = useWizard((s) => s.selectedHost);
  const hostMap = useStore(runStore, (s) => s.hosts);
  const order = useStore(runStore, (s) => s.hostOrder);
  const hosts = order.map((n) => hostMap[n]).filter((h): h is HostView => !!h);
  const smoke = smokeResults(hosts);
  const smokeFailed = smoke.filter((s) => !s.ok);
  const inner = width - 2;
  const took = started && ended ? ` in ${formatDuration(ended - started)}` : '';
  const headline = !result
    ? { glyph: '●', tone: 'running' as const, text: 'running…' }
    : result.cancelled
      ? { glyph: '—', tone: 'cancelled' as const, text: `Cancelled${took}` }
      : result.ok
        ? { glyph: '✓', tone: 'ok' as const, text: `Cluster "${name}" is ready${took}` }
        : { glyph: '✗', tone: 'failed' as const, text: `The run failed${took}` };
  // Rows: headline+message (2), blank, hosts title, hosts…, blank, smoke (1 + failures), blank, kubeconfig, next (3).
  // A failure message (e.g. every failed preflight check) may take up to 4 lines.
  const messageRows = result?.message && !result.cancelled ? Math.min(4, Math.ceil((result.message.length + 2) / Math.max(10, inner - 2))) : 1;
  const fixed = 12 + messageRows + Math.min(3, smokeFailed.length);
  const columns = Math.max(1, Math.floor(inner / 40));
  const hostRows = Math.max(1, height - fixed);
  const colW = Math.floor(inner / columns);
  const rows = rowsOf(hosts, columns);
  // The row of the selected host stays in view.
  const selRow = selected ? rows.findIndex((r) => r.some((h) => h.name === selected)) : -1;
  const firstRow = selRow >= hostRows ? selRow - hostRows + 1 : 0;
  const shownRows = rows.slice(firstRow, firstRow + hostRows);
  const hidden = hosts.length - shownRows.flat().length;
  const now = ended ?? Date.now();
  if (result?.writtenOnly) return <WrittenOnly width={width} height={height} dir={dir ?? ''} message={result.message ?? ''} />;
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold color={t.c(headline.tone)} wrap="truncate-end">
        {headline.glyph} {headline.text}
      </Text>
      <Box paddingLeft={2} width={inner} height={messageRows} overflow="hidden">
        <Text color={t.c(result?.ok ? 'muted' : headline.tone)} wrap="wrap">
          {result?.cancelled ? 'machines that were created are still there: `kcore-wizard destroy` removes them' : (result?.message ?? ' ')}
        </Text>
      </Box>
      <Text> </Text>
      {hosts.length > 0 ? (
        <>
          <StateCounts hosts={hosts} prefix={`Hosts (${hosts.length}) ·`} />
          {shownRows.map((row, i) => (
            <Box key={i} width={inner}>
              {row.map((h) => (
                <HostLine key={h.name} host={h} width={colW} now={now} selected={h.name === selected} />
              ))}
            </Box>
          ))}
          {hidden > 0 && <Text color={t.c('muted')}>  … {hidden} more (esc shows the full grid)</Text>}
        </>
      ) : (
        <Text color={t.c('muted')}>No host was configured (the run stopped before provisioning).</Text>
      )}
      <Text> </Text>
      {smoke.length === 0 ? (
        <Text color={t.c('muted')}>Smoke tests: none ran</Text>
      ) : (
        <Text wrap="truncate-end">
          <Text bold>Smoke tests </Text>
          <Text color={t.c('ok')}>✓ {smoke.length - smokeFailed.length} passed</Text>
          {smokeFailed.length > 0 && <Text color={t.c('failed')}>  ✗ {smokeFailed.length} failed</Text>}
        </Text>
      )}
      {smokeFailed.slice(0, 3).map((s, i) => (
        <Text key={i} color={t.c('failed')} wrap="truncate-end">
          {clip(`  ✗ ${s.host} ${s.role} › ${s.task}${s.message ? `: ${s.message}` : ''}`, inner)}
        </Text>
      ))}
      <Text> </Text>
      <Text wrap="truncate-end">
        <Text bold>{'Kubeconfig  '}</Text>
        {result?.kubeconfig ? result.kubeconfig : <Text color={t.c('muted')}>none written</Text>}
        {result?.kubeconfig && 12 + 2 * result.kubeconfig.length + 21 <= inner ? <Text color={t.c('muted')}>{`   export KUBECONFIG=${result.kubeconfig}`}</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        <Text bold>{'Next        '}</Text>
        <Text color={t.c('accent')}>cd {dir}</Text>
      </Text>
      {NEXT.map(([cmd, what]) => (
        <Text key={cmd} wrap="truncate-end">
          {'            '}
          <Text color={t.c('accent')}>{cmd.padEnd(24)}</Text>
          <Text color={t.c('muted')}>{what}</Text>
        </Text>
      ))}
    </Box>
  );
}
