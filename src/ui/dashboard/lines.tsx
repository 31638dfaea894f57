/**
 * Panes built as lists of one-row lines, cut to the rows they have: the layout's height is then exact
 * at any terminal size (no wrapping surprises). A line is a few coloured segments.
 */
import { Box, Text } from 'ink';
import { clip } from '../format.js';
import { useTheme, type Tone } from '../theme.js';

export interface Segment {
  text: string;
  tone?: Tone;
  bold?: boolean;
  inverse?: boolean;
}

export type Line = Segment[];

export const seg = (text: string, tone?: Tone, bold?: boolean): Segment => ({ text, tone, bold });

/** Cut segments to `width` cells, dropping what does not fit. */
function fit(line: Line, width: number): Line {
  const out: Line = [];
  let room = width;
  for (const s of line) {
    if (room <= 0) break;
    out.push({ ...s, text: clip(s.text, room) });
    room -= Array.from(s.text).length;
  }
  return out;
}

export function LineView({ line, width }: { line: Line; width: number }) {
  const t = useTheme();
  const segs = fit(line, width);
  return (
    <Box width={width} height={1} flexShrink={0} overflow="hidden">
      <Text wrap="truncate-end">
        {segs.length === 0 ? ' ' : null}
        {segs.map((s, i) => (
          <Text key={i} color={s.tone ? t.c(s.tone) : undefined} bold={s.bold} inverse={s.inverse}>
            {s.text}
          </Text>
        ))}
      </Text>
    </Box>
  );
}

/** Lines in a box of exactly `height` rows; `from: 'end'` keeps the last lines (logs). */
export function LinesBox({ lines, width, height, from = 'start' }: { lines: Line[]; width: number; height: number; from?: 'start' | 'end' }) {
  const shown = lines.length <= height ? lines : from === 'end' ? lines.slice(lines.length - height) : lines.slice(0, height);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {shown.map((l, i) => (
        <LineView key={i} line={l} width={width} />
      ))}
    </Box>
  );
}
