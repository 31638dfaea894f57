/**
 * One host of a run: a bordered panel (state glyph and colour, name, role › task, counts, elapsed,
 * the last lines of output) or, when finished or space is short, a single line.
 */
import { Box, Text } from 'ink';
import type { HostView } from '../../state/run-store.js';
import { clip, formatDuration } from '../format.js';
import { STATE_GLYPH, STATE_WORD, stateTone, useTheme } from '../theme.js';

export interface HostPanelProps {
  host: HostView;
  width: number;
  /** Output lines shown (the panel is PANEL_CHROME + outputLines rows tall). */
  outputLines: number;
  now: number;
  /** Picked with ↑↓: a double border and the name in inverse video. */
  selected?: boolean;
}

export function elapsedOf(host: HostView, now: number): string {
  if (host.startedAt === undefined) return '';
  return formatDuration((host.endedAt ?? now) - host.startedAt);
}

function countsText(host: HostView): string {
  const c = host.counts;
  const parts = [`ok ${c.ok}`, `changed ${c.changed}`];
  if (c.failed) parts.push(`failed ${c.failed}`);
  if (c.unreachable) parts.push(`unreachable ${c.unreachable}`);
  if (c.skipped) parts.push(`skipped ${c.skipped}`);
  return parts.join(' · ');
}

export function HostPanel({ host, width, outputLines, now, selected }: HostPanelProps) {
  const t = useTheme();
  const tone = stateTone(host.state);
  const inner = Math.max(1, width - 4);
  const elapsed = elapsedOf(host, now);
  const glyph = STATE_GLYPH[host.state];
  const title = `${glyph} ${host.name}`;
  const right = `${STATE_WORD[host.state]}${elapsed ? ` ${elapsed}` : ''}`;
  const doing =
    host.state === 'running'
      ? `${host.role ?? ''}${host.task ? ` › ${host.task}` : ''}`
      : host.state === 'pending'
        ? `${host.group} · ${host.ip}`
        : host.error
          ? host.error
          : `${host.group} · ${host.ip}`;
  const lines = host.lines.slice(-outputLines);
  const pad = Array.from({ length: Math.max(0, outputLines - lines.length) }, () => '');
  return (
    <Box flexDirection="column" width={width} height={5 + outputLines} borderStyle={selected ? 'double' : 'round'} borderColor={t.c(tone)} paddingX={1} flexShrink={0}>
      <Box width={inner}>
        <Box flexGrow={1} flexShrink={1} overflow="hidden">
          <Text wrap="truncate-end" bold color={t.c(tone)} inverse={selected}>
            {selected ? `› ${title}` : title}
          </Text>
        </Box>
        {right.length + 4 < inner && <Text color={t.c(tone)}> {right}</Text>}
      </Box>
      <Text wrap="truncate-end" color={host.state === 'failed' || host.state === 'unreachable' ? t.c(tone) : undefined}>
        {clip(doing || ' ', inner)}
      </Text>
      <Text wrap="truncate-end" color={t.c('muted')}>
        {clip(countsText(host), inner)}
      </Text>
      {[...lines, ...pad].map((l, i) => (
        <Text key={i} wrap="truncate-end" dimColor>
          {clip(l || ' ', inner)}
        </Text>
      ))}
    </Box>
  );
}

/** A host on one line: glyph, name, role › task or the outcome, counts, elapsed. */
export function HostLine({ host, width, now, selected }: { host: HostView; width: number; now: number; selected?: boolean }) {
  const t = useTheme();
  const tone = stateTone(host.state);
  const w = Math.max(1, width - 1);
  const elapsed = elapsedOf(host, now);
  const c = host.counts;
  // The role is in the grid's header line; the task is what tells hosts apart.
  const what =
    host.state === 'running'
      ? (host.task ?? host.role ?? '')
      : host.state === 'failed' || host.state === 'unreachable'
        ? `${STATE_WORD[host.state]}: ${host.error ?? ''}`
        : host.state === 'pending'
          ? STATE_WORD[host.state]
          : `${STATE_WORD[host.state]} ✓${c.ok} Δ${c.changed}`;
  const head = clip(`${selected ? '›' : ''}${STATE_GLYPH[host.state]} ${host.name}`, w);
  const tail = elapsed && head.length + elapsed.length + 6 <= w ? ` ${elapsed}` : '';
  const middle = clip(`  ${what}`, Math.max(0, w - head.length - tail.length));
  const gap = ' '.repeat(Math.max(0, w - head.length - middle.length - tail.length));
  const bad = host.state === 'failed' || host.state === 'unreachable';
  return (
    <Box width={width} flexShrink={0}>
      <Text wrap="truncate-end">
        <Text color={t.c(tone)} bold={host.state === 'running' || bad || selected} inverse={selected}>
          {head}
        </Text>
        <Text color={bad ? t.c(tone) : host.state === 'running' ? undefined : t.c('muted')}>{middle}</Text>
        {gap}
        <Text color={t.c('muted')}>{tail}</Text>
      </Text>
    </Box>
  );
}
