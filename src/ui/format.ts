/** Small text helpers shared by the panels (pure, no React). */

/** "1 536 MB" → "1.5 GB" above 1024 MB. */
export function formatMb(mb: number): string {
  if (Math.abs(mb) < 1024) return `${mb} MB`;
  const gb = mb / 1024;
  return `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB`;
}

/** 65 000 ms → "1m05s"; 4 200 → "4.2s"; 250 → "0.3s". */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.floor(s % 60);
  if (m < 60) return `${m}m${String(rest).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Cut a string to `width` terminal cells with an ellipsis (code points; our glyphs are one cell). */
export function clip(text: string, width: number): string {
  if (width <= 0) return '';
  // Control characters would move the cursor: show them as spaces.
  /* eslint-disable no-control-regex */
  const clean = text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\t/g, '  ')
    .replace(/[\x00-\x1f\x7f]/g, ' ');
  /* eslint-enable no-control-regex */
  const chars = Array.from(clean);
  if (chars.length <= width) return clean;
  return chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/**
 * Word-wrap text into lines of at most `width` cells (code points), breaking words longer than a line;
 * newlines in the text start new lines. Screens wrap with this and draw one <Text> per line, so the
 * rows a block takes are known before it is drawn (nothing is squeezed or drawn over another line).
 */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const para of clipSafe(text).split('\n')) {
    let line: string[] = [];
    for (const word of para.split(/ +/).filter((x) => x !== '')) {
      let chars = Array.from(word);
      const room = line.length === 0 ? w : w - line.length - 1;
      if (chars.length <= room) {
        if (line.length) line.push(' ');
        line.push(...chars);
        continue;
      }
      if (line.length) out.push(line.join(''));
      line = [];
      while (chars.length > w) {
        out.push(chars.slice(0, w).join(''));
        chars = chars.slice(w);
      }
      line = chars;
    }
    out.push(line.join(''));
  }
  return out;
}

/** Control characters and escapes out (as clip does), newlines kept. */
function clipSafe(text: string): string {
  /* eslint-disable no-control-regex */
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\t/g, '  ')
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x09\x0b-\x1f\x7f]/g, ' ');
  /* eslint-enable no-control-regex */
}

/** wrapText with a first-line prefix and the same indent on the lines after it. */
export function wrapIndented(prefix: string, text: string, width: number, indent = Array.from(prefix).length): string[] {
  const lines = wrapText(text, Math.max(1, width - indent));
  return lines.map((l, i) => (i === 0 ? prefix.padEnd(indent) : ' '.repeat(indent)) + l);
}
