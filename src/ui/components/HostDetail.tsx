/**
 * One host of a run, in full: its state, where it stopped (role › task), the whole failure message
 * wrapped (hints included), the warnings and errors logged for it, and its last output lines. Opened
 * from the provisioning and summary screens (↑↓ selects a host, enter opens it), where a panel or a
 * line only has room for the start of the message. Built as one-row lines so its height is exact.
 */
import { useStore } from 'zustand';
import type { RunStore } from '../../state/run-store.js';
import { LinesBox, seg, type Line } from '../dashboard/lines.js';
import { wrapIndented } from '../format.js';
import { STATE_GLYPH, STATE_WORD, stateTone } from '../theme.js';
import { elapsedOf } from './HostPanel.js';

export interface HostDetailProps {
  store: RunStore;
  host: string;
  width: number;
  height: number;
  now: number;
}

/** The detail lines of a host: `head` (what went wrong) and `output` (its last lines, newest last). */
export function hostDetailLines(store: RunStore, name: string, width: number, now: number): { head: Line[]; output: Line[] } {
  const s = store.getState();
  const h = s.hosts[name];
  if (!h) return { head: [[seg(`${name}: not part of this run`, 'muted')]], output: [] };
  const tone = stateTone(h.state);
  const elapsed = elapsedOf(h, now);
  const head: Line[] = [
    [seg(`${STATE_GLYPH[h.state]} ${h.name}`, tone, true), seg(`  ${h.group} · ${h.ip}`, 'muted'), seg(`  ${STATE_WORD[h.state]}${elapsed ? ` ${elapsed}` : ''}`, tone, true)],
    [seg(`  ok ${h.counts.ok} · changed ${h.counts.changed} · failed ${h.counts.failed} · unreachable ${h.counts.unreachable} · skipped ${h.counts.skipped}`, 'muted')],
  ];
  const failed = h.results.filter((r) => r.status === 'failed' || r.status === 'unreachable');
  const where = failed.at(-1) ?? (h.role ? { role: h.role, task: h.task ?? '' } : undefined);
  if (where) head.push([seg(failed.length ? '  stopped at ' : '  at ', 'muted'), seg(`${where.role}${where.task ? ` › ${where.task}` : ''}`, undefined, true)]);
  const messages = new Set<string>();
  for (const r of failed) if (r.message) messages.add(r.message);
  if (h.error && !messages.has(h.error)) messages.add(h.error);
  if (messages.size) {
    head.push([], [seg('Why', 'title', true)]);
    for (const m of messages) for (const l of wrapIndented('  ', m, width)) head.push([seg(l, tone)]);
  }
  const logged = s.log.filter((l) => l.host === name && l.level !== 'info' && !messages.has(l.message));
  if (logged.length) {
    head.push([], [seg('Logged', 'title', true)]);
    for (const l of logged) for (const x of wrapIndented(l.level === 'error' ? '  ✗ ' : '  ! ', l.message, width)) head.push([seg(x, l.level === 'error' ? 'failed' : 'warn')]);
  }
  // The run store also keeps "task: message" of a failure among the lines: shown above already.
  const said = new Set(failed.map((r) => `${r.task}: ${r.message ?? r.status}`));
  const output: Line[] = h.lines.filter((l) => !said.has(l)).flatMap((l) => wrapIndented('  ', l, width).map((x) => [seg(x, 'muted')]));
  return { head, output };
}

export function HostDetail({ store, host, width, height, now }: HostDetailProps) {
  // Re-render when the run changes (the lines are read from the store's current state).
  useStore(store, (s) => s.hosts[host]);
  useStore(store, (s) => s.log.length);
  const { head, output } = hostDetailLines(store, host, width, now);
  const footer: Line = [seg('↑↓ another host · esc or enter closes', 'muted')];
  // The failure first; the output gets the rows left (its newest lines), at least its title.
  const outTitle: Line[] = output.length ? [[], [seg('Last output', 'title', true), seg(`  .kcore/logs/${host}.log has every command`, 'muted')]] : [];
  const headRows = Math.min(head.length, Math.max(1, height - 1));
  const outRows = Math.max(0, height - 1 - headRows - outTitle.length);
  const lines = [...head.slice(0, headRows), ...(outRows > 0 ? outTitle : []), ...(outRows > 0 ? output.slice(-outRows) : [])];
  return <LinesBox lines={[...lines, ...Array.from({ length: Math.max(0, height - 1 - lines.length) }, (): Line => []), footer]} width={width} height={height} />;
}
