/** The full-screen frame: header, key-hint footer, flash line, dialogs and the help screen. */
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { clip } from '../format.js';
import { useTheme, type Tone } from '../theme.js';

export function Rule({ width }: { width: number }) {
  const t = useTheme();
  return <Text color={t.c('muted')}>{'─'.repeat(Math.max(0, width))}</Text>;
}

export interface HeaderProps {
  width: number;
  step: number;
  steps: number;
  title: string;
  cluster: string;
  right?: string;
}

export function Header({ width, step, steps, title, cluster, right }: HeaderProps) {
  const t = useTheme();
  const dots = Array.from({ length: steps }, (_, i) => (i < step ? '●' : '○')).join('');
  const left = ` kcore-wizard  ${dots}  ${step}/${steps} ${title}`;
  const r = `${right ? `${right}  ` : ''}cluster ${cluster} `;
  const room = width - left.length;
  return (
    <Box width={width}>
      <Box flexShrink={1} flexGrow={1} overflow="hidden">
        <Text wrap="truncate-end">
          <Text bold color={t.c('title')}>
            {' kcore-wizard'}
          </Text>
          {'  '}
          <Text color={t.c('accent')}>{dots}</Text>
          {'  '}
          <Text bold>
            {step}/{steps} {title}
          </Text>
        </Text>
      </Box>
      {room > r.length + 2 && (
        <Text color={t.c('muted')} wrap="truncate-end">
          {r}
        </Text>
      )}
    </Box>
  );
}

export function Footer({ width, hints }: { width: number; hints: Array<{ keys: string; label: string }> }) {
  const t = useTheme();
  // Drop hints from the end until they fit: the first ones matter most.
  let shown = hints;
  const len = (h: typeof hints) => h.reduce((n, x) => n + x.keys.length + x.label.length + 3, 1);
  while (shown.length > 1 && len(shown) > width) shown = shown.slice(0, -1);
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {' '}
        {shown.map((h, i) => (
          <Text key={h.keys + h.label}>
            {i > 0 ? '  ' : ''}
            <Text bold color={t.c('accent')}>
              {h.keys}
            </Text>{' '}
            <Text color={t.c('muted')}>{h.label}</Text>
          </Text>
        ))}
      </Text>
    </Box>
  );
}

const FLASH_TONE: Record<'info' | 'warn' | 'error', Tone> = { info: 'ok', warn: 'warn', error: 'failed' };
const FLASH_GLYPH = { info: 'ℹ', warn: '!', error: '✗' } as const;

export function FlashLine({ width, flash }: { width: number; flash: { text: string; tone: 'info' | 'warn' | 'error' } | null }) {
  const t = useTheme();
  if (!flash) return <Text> </Text>;
  return (
    <Box width={width}>
      <Text wrap="truncate-end" color={t.c(FLASH_TONE[flash.tone])}>
        {clip(` ${FLASH_GLYPH[flash.tone]} ${flash.text}`, width)}
      </Text>
    </Box>
  );
}

/** A centred bordered box for dialogs and the help screen. */
export function Dialog({ width, height, title, tone = 'accent', children }: { width: number; height: number; title: string; tone?: Tone; children: ReactNode }) {
  const t = useTheme();
  const w = Math.min(width, Math.max(40, Math.min(76, width - 4)));
  return (
    <Box width={width} height={height} justifyContent="center" alignItems="center">
      <Box flexDirection="column" width={w} borderStyle="round" borderColor={t.c(tone)} paddingX={1} overflow="hidden">
        <Text bold color={t.c(tone)} wrap="truncate-end">
          {title}
        </Text>
        {children}
      </Box>
    </Box>
  );
}
