/**
 * Step 3: how many machines per group and how big. Number fields (↑↓ or +/- change, digits type),
 * the spec's own validation messages inline, what high availability the counts give (the lines `plan`
 * prints, fitted to the rows left), and a live total against this machine's memory and CPUs.
 */
import { Box, Text } from 'ink';
import { haSummary } from '../../../spec/ha.js';
import { GROUPS, type ClusterSpec } from '../../../spec/schema.js';
import { totals } from '../../../spec/hosts.js';
import { clip, formatMb, wrapText } from '../../format.js';
import { useTheme } from '../../theme.js';
import { useWizard, useWizardContext } from '../context.js';
import { GROUP_HINT, GROUP_LABEL, SIZE_FIELDS, SIZE_KEYS, type SizeKey } from '../fields.js';
import { validateDraft } from '../validate.js';

const COL: Record<SizeKey, { title: string; width: number; unit: string }> = {
  count: { title: 'machines', width: 10, unit: '' },
  memory: { title: 'memory each', width: 16, unit: ' MB' },
  cpus: { title: 'CPUs each', width: 11, unit: '' },
};

function Bar({ used, total, width }: { used: number; total: number; width: number }) {
  const t = useTheme();
  const ratio = total > 0 ? used / total : 1;
  const filled = Math.min(width, Math.round(Math.min(1, ratio) * width));
  const tone = ratio > 1 ? 'failed' : ratio > 0.8 ? 'warn' : 'ok';
  return (
    <Text>
      <Text color={t.c(tone)}>{'█'.repeat(filled)}</Text>
      <Text color={t.c('muted')}>{'░'.repeat(width - filled)}</Text>
    </Text>
  );
}

/** The rows every sizing screen draws besides the high availability lines (see SizingStep). */
const FIXED_ROWS = 16;

/**
 * The high availability lines (haSummary) for the draft, or none while a count the answer depends on
 * is refused (its error is on the screen already).
 */
export function draftHaLines(draft: ClusterSpec, errors: Record<string, string>): string[] {
  const counted = (g: 'etcd' | 'kube-master') => draft.groups[g].count >= 1 && errors[`groups.${g}.count`] === undefined;
  return counted('etcd') && counted('kube-master') ? haSummary(draft) : [];
}

/**
 * Fit the high availability lines into `rows` rows of `width` cells, indented by 2: every line whole
 * when they fit; otherwise each line on one row, cut at the end (the review shows them whole), the
 * most telling first: API, etcd, together, then kubectl's contexts; then lines are widened back to whole
 * in that order while the rows allow.
 */
export function haRows(lines: string[], width: number, rows: number): string[] {
  const room = Math.max(1, width - 2);
  const whole = lines.map((l) => wrapText(l, room).map((r) => `  ${r}`));
  if (whole.reduce((n, w) => n + w.length, 0) <= rows) return whole.flat();
  const rank = (l: string) => (l.startsWith('kubectl:') ? 1 : 0);
  const order = lines.map((_, i) => i).sort((a, b) => rank(lines[a]!) - rank(lines[b]!) || a - b);
  const kept = new Set(order.slice(0, Math.max(0, rows)));
  const shown = new Map([...kept].map((i) => [i, [`  ${clip(lines[i]!, room)}`]]));
  let used = kept.size;
  for (const i of order) {
    if (!kept.has(i)) continue;
    const extra = whole[i]!.length - 1;
    if (used + extra <= rows) {
      shown.set(i, whole[i]!);
      used += extra;
    }
  }
  return lines.flatMap((_, i) => shown.get(i) ?? []);
}

export function SizingStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const { host } = useWizardContext();
  const draft = useWizard((s) => s.draft);
  const focus = useWizard((s) => s.sizing.focus);
  const fresh = useWizard((s) => s.sizing.fresh);
  const problems = validateDraft(draft);
  const focused = SIZE_FIELDS[focus]!;
  const sum = totals(draft);
  const memRatio = sum.memory / Math.max(1, host.memoryMb);
  const inner = width - 2;
  const labelW = 11;
  const memNote = ` ${Math.round(memRatio * 100)}%${memRatio > 1 ? ' — more than this machine has' : memRatio > 0.8 ? ' — tight: leave room for the host' : ''}`;
  // The bar gives way to its note: both on one line.
  const barW = Math.max(10, Math.min(40, inner - 6 - memNote.length));
  // What failover the counts give, in the rows the rest leaves (3 at 24 rows), updated with them.
  const ha = haRows(draftHaLines(draft, problems.errors), inner, height - FIXED_ROWS);
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold>How many machines, and how big?</Text>
      <Text> </Text>
      <Text color={t.c('muted')} wrap="truncate-end">
        {''.padEnd(labelW)}
        {SIZE_KEYS.map((k) => COL[k].title.padEnd(COL[k].width)).join('')}
      </Text>
      {GROUPS.map((g) => {
        const errs = SIZE_KEYS.map((k) => problems.errors[`groups.${g}.${k}`]).filter(Boolean);
        const warns = SIZE_KEYS.map((k) => problems.warnings[`groups.${g}.${k}`]).filter(Boolean);
        const rowFocused = focused.group === g;
        return (
          <Box key={g} flexDirection="column" width={inner}>
            <Box width={inner}>
              <Box width={labelW} flexShrink={0}>
                <Text bold={rowFocused} color={rowFocused ? t.c('accent') : undefined}>
                  {(rowFocused ? '› ' : '  ') + GROUP_LABEL[g]}
                </Text>
              </Box>
              {SIZE_KEYS.map((k) => {
                const on = rowFocused && focused.key === k;
                const bad = problems.errors[`groups.${g}.${k}`] !== undefined;
                const value = String(draft.groups[g][k]);
                const text = on ? `[${value}${fresh ? '' : '▏'}]${COL[k].unit}` : ` ${value}${COL[k].unit} `;
                return (
                  <Box key={k} width={COL[k].width} flexShrink={0}>
                    <Text
                      inverse={on}
                      bold={on}
                      color={bad ? t.c('failed') : on ? t.c('accent') : undefined}
                      underline={bad && !t.colour}
                    >
                      {text}
                    </Text>
                    {bad && <Text color={t.c('failed')}>✗</Text>}
                  </Box>
                );
              })}
            </Box>
            <Text color={errs.length ? t.c('failed') : t.c('warn')} wrap="truncate-end">
              {errs.length ? `    ✗ ${errs.join('; ')}` : warns.length ? `    ! ${warns.join('; ')}` : ' '}
            </Text>
          </Box>
        );
      })}
      <Text color={t.c('muted')} wrap="truncate-end">
        {'  '}
        {GROUP_LABEL[focused.group]}: {GROUP_HINT[focused.group]}
      </Text>
      {ha.map((r, i) => (
        <Text key={`ha${i}`} wrap="truncate-end">
          {r}
        </Text>
      ))}
      <Text> </Text>
      <Box width={inner}>
        <Text wrap="truncate-end">
          <Text bold>Total </Text>
          {sum.machines} machines · {formatMb(sum.memory)} of this machine's {formatMb(host.memoryMb)} memory{' '}
        </Text>
      </Box>
      <Box width={inner} height={1} flexShrink={0}>
        <Text>{'      '}</Text>
        <Bar used={sum.memory} total={host.memoryMb} width={barW} />
        <Text color={memRatio > 1 ? t.c('failed') : memRatio > 0.8 ? t.c('warn') : t.c('muted')} wrap="truncate-end">
          {clip(memNote, Math.max(0, inner - 6 - barW))}
        </Text>
      </Box>
      <Text wrap="truncate-end">
        {'      '}
        {sum.cpus} CPUs of {host.cpus}
        <Text color={t.c('muted')}>{sum.cpus > host.cpus ? ' (more than the host has: the machines will share them)' : ''}</Text>
      </Text>
      <Text> </Text>
      <Text color={t.c('muted')} wrap="truncate-end">
        {clip(`memory steps by 256 MB; at most 9 machines per group (IPs ${draft.network.prefix}.1x1–1x9)`, inner)}
      </Text>
    </Box>
  );
}
