/** Step 5: what will be written and created: the files, and every machine with its address and size. */
import { Box, Text } from 'ink';
import { useMemo } from 'react';
import { renderWorkspace } from '../../../render/workspace.js';
import { plannedHosts, totals } from '../../../spec/hosts.js';
import type { ClusterSpec } from '../../../spec/schema.js';
import { clip, formatMb } from '../../format.js';
import { useTheme } from '../../theme.js';
import { useWizard } from '../context.js';
import { validateDraft } from '../validate.js';

const ROLES: Record<string, string> = {
  etcd: 'etcd · cluster store',
  'kube-master': 'kube-master · control plane',
  'kube-worker': 'kube-worker · runs pods',
};

function filesOf(spec: ClusterSpec): Array<{ path: string; note: string }> {
  try {
    return [{ path: 'kcore.yaml', note: '' }, ...renderWorkspace(spec).map((f) => ({ path: f.path, note: `${f.content.split('\n').length} lines` }))];
  } catch (e) {
    return [{ path: 'kcore.yaml', note: 'the spec' }, { path: '(workspace files)', note: `cannot render: ${(e as Error).message}` }];
  }
}

export function ReviewStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const draft = useWizard((s) => s.draft);
  const dir = useWizard((s) => s.dir);
  const loadedFrom = useWizard((s) => s.loadedFrom);
  const scroll = useWizard((s) => s.reviewScroll);
  const preflight = useWizard((s) => s.preflight);
  const files = useMemo(() => filesOf(draft), [draft]);
  const hosts = plannedHosts(draft);
  const sum = totals(draft);
  const problems = validateDraft(draft);
  const inner = width - 2;
  const pfFailed = preflight.checks.filter((c) => !c.ok && !c.warning).length;
  const firstFailed = preflight.checks.find((c) => !c.ok && !c.warning);
  const pfNote =
    preflight.status === 'running'
      ? null
      : preflight.error
        ? `preflight did not run (${preflight.error})`
        : pfFailed
          ? `${pfFailed} preflight check${pfFailed === 1 ? '' : 's'} failed: ${firstFailed!.check}: ${firstFailed!.detail}`
          : null;
  const tableRows = Math.max(1, height - 11 - (problems.all.length ? 1 : 0));
  const maxScroll = Math.max(0, hosts.length - tableRows);
  const top = Math.min(scroll, maxScroll);
  const shown = hosts.slice(top, top + tableRows);
  const nameW = Math.max(10, ...hosts.map((h) => h.name.length)) + 2;
  const label = (s: string) => <Text bold>{s.padEnd(11)}</Text>;
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <Text wrap="truncate-end">
        {label('Workspace')}
        {clip(dir ?? '', inner - 30)}
        <Text color={t.c('muted')}>{loadedFrom ? '  (reopened kcore.yaml)' : '  (new)'}</Text>
      </Text>
      <Text wrap="truncate-end">
        {label('Writes')}
        {files.map((f, i) => (
          <Text key={f.path}>
            {i > 0 ? ' · ' : ''}
            {f.path}
            {f.note ? <Text color={t.c('muted')}> ({f.note})</Text> : null}
          </Text>
        ))}
      </Text>
      <Text wrap="truncate-end">
        {label('Cluster')}
        {draft.name} on {draft.provider} ({draft.box.name}), Kubernetes {draft.versions.kubernetes}
        {draft.addons.dashboard ? ' + dashboard' : ''}
      </Text>
      <Text wrap="truncate-end">
        {label('Network')}
        hosts {draft.network.prefix}.0/24 · svc {draft.network.serviceCidr} · pods {draft.network.podCidr} · DNS {draft.network.dnsIp}
      </Text>
      <Text wrap="truncate-end">
        {label('Creates')}
        {sum.machines} machines · {formatMb(sum.memory)} memory · {sum.cpus} CPUs
      </Text>
      <Text> </Text>
      <Text color={t.c('muted')} wrap="truncate-end">
        {'  '}
        {'NAME'.padEnd(nameW)}
        {'IP'.padEnd(15)}
        {'MEMORY'.padEnd(9)}
        {'CPUS'.padEnd(6)}ROLE
      </Text>
      {shown.map((h) => (
        <Text key={h.name} wrap="truncate-end">
          {'  '}
          <Text bold>{h.name.padEnd(nameW)}</Text>
          {h.ip.padEnd(15)}
          {formatMb(h.memory).padEnd(9)}
          {String(h.cpus).padEnd(6)}
          <Text color={t.c('muted')}>{ROLES[h.group]}</Text>
        </Text>
      ))}
      <Text color={t.c('muted')}>{hosts.length > tableRows ? `  rows ${top + 1}–${top + shown.length} of ${hosts.length} (↑↓ scroll)` : ' '}</Text>
      {preflight.status === 'running' ? (
        <Text color={t.c('running')}>● checking this machine again with these choices…</Text>
      ) : pfNote ? (
        <Text color={t.c('failed')} wrap="truncate-end">
          ✗ {pfNote}
        </Text>
      ) : preflight.checks.length > 0 ? (
        <Text color={t.c('ok')}>✓ preflight: {preflight.checks.length} checks passed</Text>
      ) : (
        <Text> </Text>
      )}
      {problems.all.length > 0 && (
        <Text color={t.c('failed')} wrap="truncate-end">
          ✗ {problems.all.length} problem{problems.all.length === 1 ? '' : 's'}: {problems.all[0]!.field}: {problems.all[0]!.message}
        </Text>
      )}
      <Text color={t.c('accent')} wrap="truncate-end">
        enter writes the files and creates the machines; nothing is written before
      </Text>
    </Box>
  );
}
