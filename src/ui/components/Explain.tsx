/**
 * The teaching view in the terminal: why a host, a file, a unit, a check or the running task exists.
 * The explanations come from src/explain (through the wizard's and the dashboard's actions); this file
 * only draws them, as one-row lines (exact height at any size) in a box that scrolls to keep the
 * selected entry in view. Secrets arrive as `content: null` with a note: the note is all there is to show.
 */
import { Box } from 'ink';
import type { CheckExplanation, FileExplanation, HostExplanation, TaskExplanation, UnitExplanation } from '../../explain/types.js';
import { LineView, LinesBox, seg, type Line } from '../dashboard/lines.js';
import { wrapIndented, wrapText } from '../format.js';

/** What the wizard's provisioning screen shows for `e`: the running role and task of a host, and why. */
export interface RunningTaskExplanation {
  host: string;
  role: string;
  roleWhy?: string;
  roleDocs?: string;
  task?: string;
  /** null when the task carries no explanation (e.g. a name the roles do not know). */
  explanation: TaskExplanation | null;
  /** The host has finished: this is the last task it ran. */
  finished?: boolean;
}

/** Lines and where the selected entry starts and ends in them (to keep it in view). */
export interface ExplainLines {
  lines: Line[];
  selected?: { from: number; to: number };
}

/** Why a file's content is not shown: a binary (named by its note) or a secret (keys, tokens, kubeconfigs with a key). */
export function hiddenKind(f: FileExplanation): 'binary' | 'secret' | null {
  if (f.content !== null) return null;
  return /^binary\b/i.test(f.note ?? '') ? 'binary' : 'secret';
}

const text = (prefix: string, body: string, width: number, tone?: 'muted' | 'accent'): Line[] =>
  wrapIndented(prefix, body, width).map((l) => [seg(l, tone)]);

/**
 * A host's files: one row each (path, mode, owner; role › task where the width allows); the selected
 * one opens below: where it comes from, its why and, for a secret, the note saying where it is kept.
 */
export function fileListLines(expl: HostExplanation, index: number, width: number): ExplainLines {
  const files = expl.files ?? [];
  const lines: Line[] = [];
  for (const l of wrapText(`${expl.name} (${expl.group} · ${expl.ip}): ${expl.why}`, width)) lines.push([seg(l, 'muted')]);
  for (const a of expl.assumptions ?? []) lines.push(...text('assumed: ', a, width, 'muted'));
  lines.push([]);
  if (!files.length) {
    lines.push([seg('no files are written on this host', 'muted')]);
    return { lines };
  }
  const pathW = Math.max(...files.map((f) => f.path.length));
  const ownerW = Math.max(...files.map((f) => f.owner.length));
  const fromW = Math.max(...files.map((f) => f.role.length + f.task.length + 3));
  // marker 2, path, two spaces, mode 4, space, owner, " secret" 7; then the role › task when it fits.
  const wide = 2 + pathW + 2 + 4 + 1 + ownerW + 7 + 2 + fromW <= width;
  let selected: ExplainLines['selected'];
  files.forEach((f, i) => {
    const sel = i === index;
    const from = lines.length;
    lines.push([
      seg(sel ? '› ' : '  ', 'accent', true),
      { text: f.path.padEnd(pathW), bold: sel, inverse: sel },
      seg(`  ${f.mode} ${f.owner.padEnd(ownerW)}`, 'muted'),
      hiddenKind(f) === 'secret' ? seg(' secret', 'warn', true) : hiddenKind(f) === 'binary' ? seg(' binary', 'muted') : seg('       '),
      ...(wide ? [seg(`  ${f.role} › ${f.task}`, 'muted')] : []),
    ]);
    if (sel) {
      if (!wide) lines.push(...text('    from: ', `${f.role} › ${f.task}`, width, 'muted'));
      lines.push(...text('    why: ', f.why, width));
      if (f.content === null && f.note) lines.push(...text('    note: ', f.note, width, 'muted'));
      if (f.servers?.length) lines.push(...text('    servers: ', f.servers.join(', '), width, 'muted'));
      selected = { from, to: lines.length - 1 };
    }
  });
  return { lines, selected };
}

/** One file, whole: its header, its why, then the exact content converge writes (or the note of a secret). */
export function fileContentLines(f: FileExplanation, width: number): Line[] {
  const lines: Line[] = [
    [seg(f.path, undefined, true), seg(`  ${f.mode} ${f.owner}`, 'muted'), seg(`  ${f.role} › ${f.task}`, 'muted')],
    ...text('why: ', f.why, width),
    [],
  ];
  if (f.content === null) {
    const kind = hiddenKind(f);
    lines.push([seg(kind === 'binary' ? 'content not shown: a binary' : 'content not shown: this is a secret', kind === 'binary' ? 'muted' : 'warn', true)]);
    if (f.note) lines.push(...text('', f.note, width, 'muted'));
    if (f.servers?.length) lines.push(...text('servers: ', f.servers.join(', '), width, 'muted'));
    return lines;
  }
  const body = f.content.replace(/\n$/, '').split('\n');
  for (const l of body) lines.push([seg(l.replace(/\t/g, '  '))]);
  return lines;
}

/** A running (or the last) task of a host: role and its why, task and its why, the docs links. */
export function runningTaskLines(r: RunningTaskExplanation, width: number): Line[] {
  const lines: Line[] = [[seg(r.host, undefined, true), seg(r.finished ? '  finished; its last task was' : '  is running', 'muted')]];
  lines.push([seg('role  ', 'muted'), seg(r.role, 'accent', true)]);
  if (r.roleWhy) lines.push(...text('      ', r.roleWhy, width));
  if (r.roleDocs) lines.push(...text('      docs: ', r.roleDocs, width, 'muted'));
  lines.push([]);
  lines.push([seg('task  ', 'muted'), seg(r.task ?? '(between tasks)', 'accent', true)]);
  if (r.explanation) {
    lines.push(...text('      why: ', r.explanation.why, width));
    if (r.explanation.docs) lines.push(...text('      docs: ', r.explanation.docs, width, 'muted'));
    if (r.explanation.tags.length) lines.push([seg(`      tags: ${r.explanation.tags.join(', ')}`, 'muted')]);
  } else if (r.task) lines.push([seg('      no explanation is recorded for this task', 'muted')]);
  return lines;
}

/** The entries `e` in the dashboard moves through: the host, then its units, then its checks. */
export type HostEntry = { kind: 'host' } | { kind: 'unit'; unit: UnitExplanation } | { kind: 'check'; check: CheckExplanation };

export function hostEntries(expl: HostExplanation): HostEntry[] {
  return [{ kind: 'host' }, ...expl.units.map((unit) => ({ kind: 'unit' as const, unit })), ...expl.checks.map((check) => ({ kind: 'check' as const, check }))];
}

/**
 * A host as the dashboard explains it: what it is for and its roles; each unit and each check on one
 * row; the selected entry opened (a unit's why and docs, a check's why and the exact command it runs).
 */
export function hostExplainLines(expl: HostExplanation, index: number, width: number): ExplainLines {
  const entries = hostEntries(expl);
  const at = Math.max(0, Math.min(index, entries.length - 1));
  const lines: Line[] = [];
  let selected: ExplainLines['selected'];
  const mark = (i: number) => seg(i === at ? '› ' : '  ', 'accent', true);
  const open = (i: number, from: number) => {
    if (i === at) selected = { from, to: lines.length - 1 };
  };
  lines.push([mark(0), { text: expl.name, bold: true, inverse: at === 0 }, seg(`  ${expl.group} · ${expl.ip}`, 'muted')]);
  lines.push(...text('    ', expl.why, width));
  if (at === 0)
    for (const r of expl.roles) {
      lines.push([seg(`    role `, 'muted'), seg(r.name, undefined, true)]);
      lines.push(...text('      ', r.why, width, 'muted'));
    }
  else if (expl.roles.length) lines.push([seg(`    roles: ${expl.roles.map((r) => r.name).join(', ')}`, 'muted')]);
  open(0, 0);
  let i = 1;
  if (expl.units.length) lines.push([], [seg('Units', 'title', true)]);
  for (const u of expl.units) {
    const from = lines.length;
    lines.push([mark(i), { text: u.unit, bold: i === at, inverse: i === at }, seg(`  ${u.role}`, 'muted')]);
    if (i === at) {
      lines.push(...text('    why: ', u.why, width));
      if (u.docs) lines.push(...text('    docs: ', u.docs, width, 'muted'));
    }
    open(i, from);
    i++;
  }
  if (expl.checks.length) lines.push([], [seg('Checks', 'title', true)]);
  for (const c of expl.checks) {
    const from = lines.length;
    lines.push([mark(i), { text: c.name, bold: i === at, inverse: i === at }, seg(`  ${c.role}`, 'muted')]);
    if (i === at) {
      lines.push(...text('    why: ', c.why, width));
      lines.push(...text('    runs: ', c.command, width, 'accent'));
    }
    open(i, from);
    i++;
  }
  return { lines, selected };
}

/** The first line to show so that the selected entry is in view (its start first), given a wanted top. */
export function scrollTop(total: number, rows: number, wanted: number, selected?: { from: number; to: number }): number {
  let top = Math.max(0, Math.min(wanted, total - rows));
  if (selected) {
    if (selected.to >= top + rows) top = selected.to - rows + 1;
    if (selected.from < top) top = selected.from;
  }
  return Math.max(0, Math.min(top, Math.max(0, total - rows)));
}

export interface ExplainBoxProps {
  title: Line;
  body: ExplainLines;
  /** The wanted first line (for views that scroll freely, e.g. a file's content). */
  scroll?: number;
  /** What the keys do here, on the last row. */
  legend: string;
  width: number;
  height: number;
}

/** A title row, the lines (scrolled to the selected entry), a row saying where the view is and the keys. */
export function ExplainBox({ title, body, scroll = 0, legend, width, height }: ExplainBoxProps) {
  const rows = Math.max(1, height - 2);
  const total = body.lines.length;
  const top = scrollTop(total, rows, scroll, body.selected);
  const shown = body.lines.slice(top, top + rows);
  const where = total > rows ? `lines ${top + 1}–${top + shown.length} of ${total} · ` : '';
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <LineView line={title} width={width} />
      <LinesBox lines={shown} width={width} height={rows} />
      <LineView line={[seg(`${where}${legend}`, 'muted')]} width={width} />
    </Box>
  );
}

/** Wanted top for a free-scrolling view, clamped (so a held key does not run past the end). */
export function clampScroll(scroll: number, total: number, rows: number): number {
  return Math.max(0, Math.min(scroll, Math.max(0, total - rows)));
}
