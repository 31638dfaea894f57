/** Step 2: can this machine run the cluster? Each check with what was found and what to fix. */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { useTheme } from '../../theme.js';
import { useWizard } from '../context.js';

export function PreflightStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const pf = useWizard((s) => s.preflight);
  const failed = pf.checks.filter((c) => !c.ok && !c.warning).length;
  const rows: ReactElement[] = [];
  const inner = width - 2;
  for (const [i, c] of pf.checks.entries()) {
    const tone = c.ok && !c.warning ? 'ok' : c.ok || c.warning ? 'warn' : 'failed';
    rows.push(
      <Box key={`c${i}`} width={inner}>
        <Box width={30} flexShrink={0}>
          <Text wrap="truncate-end">
            <Text color={t.c(tone)}>{c.ok && !c.warning ? '✓' : c.ok || c.warning ? '!' : '✗'} </Text>
            <Text bold={!c.ok}>{c.check}</Text>
          </Text>
        </Box>
        <Text color={t.c('muted')} wrap="wrap">
          {c.detail}
        </Text>
      </Box>,
    );
    if ((!c.ok || c.warning) && c.fix)
      rows.push(
        <Box key={`f${i}`} width={inner} paddingLeft={4}>
          <Text color={t.c(tone)} wrap="wrap">
            fix: {c.fix}
          </Text>
        </Box>,
      );
  }
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold>Can this machine run the cluster?</Text>
      <Text> </Text>
      {pf.status === 'running' && <Text color={t.c('running')}>● checking vagrant, the provider, virtualisation and memory…</Text>}
      {pf.error && (
        <Box flexDirection="column">
          <Text color={t.c('failed')} wrap="truncate-end">
            ✗ preflight did not run: {pf.error}
          </Text>
          <Text color={t.c('muted')} wrap="truncate-end">
            {'  '}nothing was checked; you can still size and review the cluster (enter), or press r to try again
          </Text>
        </Box>
      )}
      {rows.slice(0, Math.max(0, height - 5))}
      {pf.status === 'done' && !pf.error && (
        <>
          <Text> </Text>
          {failed === 0 ? (
            <Text color={t.c('ok')}>✓ all {pf.checks.length} checks passed</Text>
          ) : (
            <Text color={t.c('failed')} wrap="truncate-end">
              ✗ {failed} of {pf.checks.length} checks failed: fix them before creating the cluster (r runs the checks again)
            </Text>
          )}
          {failed > 0 && (
            <Text color={t.c('muted')} wrap="wrap">
              {'  '}the provider and sizes are chosen in the next steps; the checks run again on the review
            </Text>
          )}
        </>
      )}
    </Box>
  );
}
