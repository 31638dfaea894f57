/** Step 2: can this machine run the cluster? Each check with what was found and what to fix. */
import { Box, Text } from 'ink';
import type { PreflightCheck } from '../actions.js';
import { clip, wrapIndented, wrapText } from '../../format.js';
import { useTheme, type Tone } from '../../theme.js';
import { useWizard } from '../context.js';

export interface CheckLine {
  text: string;
  tone: Tone;
  /** The check's own line: its mark and name (bold when it did not pass); `text` is the rest. */
  head?: { mark: string; tone: Tone; name: string; bold: boolean };
}

const toneOf = (c: PreflightCheck): Tone => (c.ok && !c.warning ? 'ok' : c.ok || c.warning ? 'warn' : 'failed');
const markOf = (c: PreflightCheck) => (c.ok && !c.warning ? '✓' : c.ok || c.warning ? '!' : '✗');

/**
 * The checks as screen lines, fitted to `rows`: every check keeps its own line (mark, name, detail);
 * details and fixes are wrapped when there is room, else cut to one line each, the passed checks'
 * first. When not even one line per check fits, the first rows-1 checks and `hidden` counts the rest.
 */
export function checkLines(checks: PreflightCheck[], width: number, rows: number): { lines: CheckLine[]; hidden: number; tier: number } {
  const nameW = Math.min(Math.max(8, ...checks.map((c) => Array.from(c.check).length)) + 2, Math.floor(width / 2));
  const build = (wrapOk: boolean, wrapFailed: boolean, fixes: boolean): CheckLine[] => {
    const out: CheckLine[] = [];
    for (const c of checks) {
      const tone = toneOf(c);
      const failed = !c.ok || !!c.warning;
      const wrap = failed ? wrapFailed : wrapOk;
      const name = clip(c.check, nameW - 1);
      const head = { mark: markOf(c), tone, name, bold: !c.ok };
      const lead = 2 + Array.from(name).length;
      const detail = wrap ? wrapIndented(`${head.mark} ${name}`, c.detail, width, nameW + 2) : [clip(`${head.mark} ${name}`.padEnd(nameW + 2) + c.detail, width)];
      detail.forEach((text, i) => out.push(i === 0 ? { text: Array.from(text).slice(lead).join(''), tone: 'muted', head } : { text, tone: 'muted' }));
      if (failed && c.fix && fixes) {
        const fix = wrapFailed ? wrapIndented('    fix: ', c.fix, width) : [clip(`    fix: ${c.fix}`, width)];
        for (const text of fix) out.push({ text, tone });
      }
    }
    return out;
  };
  const tiers = [
    [true, true, true],
    [false, true, true],
    [false, false, true],
    [false, false, false],
  ] as const;
  for (const [tier, [wrapOk, wrapFailed, fixes]] of tiers.entries()) {
    const lines = build(wrapOk, wrapFailed, fixes);
    if (lines.length <= rows) return { lines, hidden: 0, tier };
  }
  const shown = Math.max(0, rows - 1);
  return { lines: build(false, false, false).slice(0, shown), hidden: checks.length - shown, tier: tiers.length };
}

export function PreflightStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const pf = useWizard((s) => s.preflight);
  const failed = pf.checks.filter((c) => !c.ok && !c.warning).length;
  const inner = Math.max(10, width - 2);
  const done = pf.status === 'done' && !pf.error;
  const verdictText =
    failed === 0 ? `✓ all ${pf.checks.length} checks passed` : `✗ ${failed} of ${pf.checks.length} checks failed: fix them, then press r to check again`;
  const verdict = done ? wrapText(verdictText, inner - 2).map((l, i) => (i === 0 ? l : `  ${l}`)) : [];
  const hintText = failed > 0 && done ? wrapIndented('  ', 'the provider and sizes are chosen in the next steps; the checks run again on the review', inner) : [];
  // Rows: question, [blank], [running (1) | error (2)], checks…, [blank], verdict…, [hint…]. The blank
  // lines and the hint go first when rows are short: the checks, wrapped, matter more.
  const fixedRows = 1 + (pf.status === 'running' ? 1 : 0) + (pf.error ? 2 : 0) + verdict.length;
  let best: { spaced: boolean; hint: string[]; fit: ReturnType<typeof checkLines> } | null = null;
  for (const spaced of [true, false])
    for (const withHint of [true, false]) {
      const hint = withHint ? hintText : [];
      const fit = checkLines(pf.checks, inner, height - fixedRows - (spaced ? (done ? 2 : 1) : 0) - hint.length);
      if (!best || fit.tier < best.fit.tier) best = { spaced, hint, fit };
    }
  const { spaced, hint, fit: fitted } = best!;
  const { lines, hidden } = fitted;
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold wrap="truncate-end">
        Can this machine run the cluster?
      </Text>
      {spaced && <Text> </Text>}
      {pf.status === 'running' && (
        <Text color={t.c('running')} wrap="truncate-end">
          ● checking vagrant, the provider, virtualisation and memory…
        </Text>
      )}
      {pf.error && (
        <>
          <Text color={t.c('failed')} wrap="truncate-end">
            ✗ preflight did not run: {pf.error}
          </Text>
          <Text color={t.c('muted')} wrap="truncate-end">
            {'  '}nothing was checked; you can still size and review the cluster (enter), or press r to try again
          </Text>
        </>
      )}
      {lines.map((l, i) =>
        l.head ? (
          <Text key={i} wrap="truncate-end">
            <Text color={t.c(l.head.tone)}>{l.head.mark} </Text>
            <Text bold={l.head.bold}>{l.head.name}</Text>
            <Text color={t.c('muted')}>{l.text}</Text>
          </Text>
        ) : (
          <Text key={i} color={t.c(l.tone)} wrap="truncate-end">
            {l.text}
          </Text>
        ),
      )}
      {hidden > 0 && (
        <Text color={t.c('warn')} wrap="truncate-end">
          {clip(`… ${hidden} more check${hidden === 1 ? '' : 's'} not shown: make the terminal taller`, inner)}
        </Text>
      )}
      {done && (
        <>
          {spaced && <Text> </Text>}
          {verdict.map((l, i) => (
            <Text key={`v${i}`} color={t.c(failed ? 'failed' : 'ok')} wrap="truncate-end">
              {l}
            </Text>
          ))}
          {hint.map((l, i) => (
            <Text key={`h${i}`} color={t.c('muted')} wrap="truncate-end">
              {l}
            </Text>
          ))}
        </>
      )}
    </Box>
  );
}
