/** Step 5: what will be written and created: the files, and every machine with its address and size. */
import { Box } from 'ink';
import { useEffect, useMemo } from 'react';
import { useStore } from 'zustand';
import { renderWorkspace } from '../../../render/workspace.js';
import { plannedHosts, totals } from '../../../spec/hosts.js';
import type { ClusterSpec } from '../../../spec/schema.js';
import { clip, formatMb, wrapIndented, wrapText } from '../../format.js';
import { LineView, LinesBox, seg, type Line } from '../../dashboard/lines.js';
import type { PreflightCheck } from '../actions.js';
import { useWizard, useWizardContext } from '../context.js';
import { scrollTop } from '../../components/Explain.js';
import { validateDraft } from '../validate.js';
import { draftHaLines } from './Sizing.js';

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

/** The failed checks, each with its fix, wrapped to `width` (nothing cut). */
export function failedCheckLines(checks: PreflightCheck[], width: number): Line[] {
  const out: Line[] = [];
  for (const c of checks.filter((x) => !x.ok && !x.warning)) {
    wrapIndented('  ✗ ', `${c.check}: ${c.detail}`, width).forEach((l, i) => out.push([seg(l, 'failed', i === 0)]));
    if (c.fix) for (const l of wrapIndented('      fix: ', c.fix, width)) out.push([seg(l, 'failed')]);
  }
  return out;
}

/**
 * Everything to check before creating, as one list of lines that ↑↓ scrolls when it is taller than
 * the screen: what is wrong first (every failed preflight check with its fix, the spec's problems),
 * then the files, the cluster, every machine and what failover the counts give (the lines `plan`
 * prints, whole). The last row says what enter does. ↑↓ picks a host line (marked ›, kept in view)
 * for `e` to explain; page keys scroll freely.
 */
export function ReviewStep({ width, height }: { width: number; height: number }) {
  const draft = useWizard((s) => s.draft);
  const dir = useWizard((s) => s.dir);
  const loadedFrom = useWizard((s) => s.loadedFrom);
  const scroll = useWizard((s) => s.reviewScroll);
  const preflight = useWizard((s) => s.preflight);
  const { controller } = useWizardContext();
  const picked = useStore(controller.explain.store, (s) => s.reviewHost);
  const files = useMemo(() => filesOf(draft), [draft]);
  const hosts = plannedHosts(draft);
  const sum = totals(draft);
  const problems = validateDraft(draft);
  const inner = Math.max(10, width - 2);
  const pfFailed = preflight.checks.filter((c) => !c.ok && !c.warning).length;
  const nameW = Math.max(10, ...hosts.map((h) => h.name.length)) + 2;
  const label = (s: string) => seg(s.padEnd(11), undefined, true);
  const lines: Line[] = [];
  if (preflight.status === 'running') lines.push([seg('● checking this machine again with these choices…', 'running')]);
  else if (preflight.error) for (const l of wrapIndented('✗ ', `preflight did not run: ${preflight.error}`, inner)) lines.push([seg(l, 'failed')]);
  else if (pfFailed) {
    lines.push([seg(`✗ ${pfFailed} preflight check${pfFailed === 1 ? '' : 's'} failed: fix ${pfFailed === 1 ? 'it' : 'them'} before creating the cluster`, 'failed', true)]);
    lines.push(...failedCheckLines(preflight.checks, inner));
  } else if (preflight.checks.length > 0) lines.push([seg(`✓ preflight: ${preflight.checks.length} checks passed`, 'ok')]);
  if (problems.all.length) {
    lines.push([seg(`✗ ${problems.all.length} problem${problems.all.length === 1 ? '' : 's'} in the spec (esc goes back to fix):`, 'failed', true)]);
    for (const p of problems.all) for (const l of wrapIndented('  ✗ ', `${p.field}: ${p.message}`, inner)) lines.push([seg(l, 'failed')]);
  }
  if (lines.length) lines.push([]);
  lines.push([label('Workspace'), seg(clip(dir ?? '', inner - 30)), seg(loadedFrom ? '  (reopened kcore.yaml)' : '  (new)', 'muted')]);
  lines.push([label('Writes'), ...files.flatMap((f, i) => [seg(`${i > 0 ? ' · ' : ''}${f.path}`), ...(f.note ? [seg(` (${f.note})`, 'muted')] : [])])]);
  lines.push([label('Cluster'), seg(`${draft.name} on ${draft.provider} (${draft.box.name}), Kubernetes ${draft.versions.kubernetes}${draft.addons.dashboard ? ' + dashboard' : ''}`)]);
  lines.push([label('Network'), seg(`hosts ${draft.network.prefix}.0/24 · svc ${draft.network.serviceCidr} · pods ${draft.network.podCidr} · DNS ${draft.network.dnsIp}`)]);
  if (draft.provider === 'existing')
    lines.push([label('Machines'), seg(`${sum.machines} of yours, reached over SSH: kcore.yaml lists them at placeholder addresses for you to fill in`)]);
  else lines.push([label('Creates'), seg(`${sum.machines} machines · ${formatMb(sum.memory)} memory · ${sum.cpus} CPUs`)]);
  lines.push([]);
  lines.push([seg(`  ${'NAME'.padEnd(nameW)}${'IP'.padEnd(15)}${'MEMORY'.padEnd(9)}${'CPUS'.padEnd(6)}ROLE`, 'muted')]);
  let pickedLine: number | undefined;
  const pickedAt: number[] = [];
  for (const [i, h] of hosts.entries()) {
    pickedAt[i] = lines.length;
    if (i === picked) pickedLine = lines.length;
    lines.push([seg(i === picked ? '› ' : '  ', 'accent', true), { text: h.name.padEnd(nameW), bold: true, inverse: i === picked }, seg(`${h.ip.padEnd(15)}${formatMb(h.memory).padEnd(9)}${String(h.cpus).padEnd(6)}`), seg(ROLES[h.group] ?? h.group, 'muted')]);
  }
  const ha = draftHaLines(draft, problems.errors);
  if (ha.length) lines.push([]);
  ha.forEach((l, i) => wrapText(l, inner - 11).forEach((r, j) => lines.push([i === 0 && j === 0 ? label('Failover') : seg(''.padEnd(11)), seg(r)])));
  // The last row is the action; one more says where the list is when it does not fit.
  const fits = lines.length <= height - 1;
  const rows = Math.max(1, fits ? height - 1 : height - 2);
  const top = scrollTop(lines.length, rows, scroll, pickedLine === undefined ? undefined : { from: pickedLine, to: pickedLine });
  const shown = lines.slice(top, top + rows);
  // The controller scrolls (↑↓ follow the picked host, page keys, past the ends): it needs the layout.
  const hostLines = hosts.map((_, i) => (pickedAt[i] ?? 0));
  useEffect(() => controller.explain.setReviewLayout({ rows, total: lines.length, hostLines }));
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <LinesBox lines={shown} width={inner} height={rows} />
      {!fits && <LineView line={[seg(`lines ${top + 1}–${top + shown.length} of ${lines.length} (↑↓ host · pgup/pgdn scroll)`, 'muted')]} width={inner} />}
      <LineView
        line={[seg(draft.provider === 'existing' ? 'enter writes the files (no machine is touched); nothing is written before' : 'enter writes the files and creates the machines; nothing is written before', 'accent')]}
        width={inner}
      />
    </Box>
  );
}
