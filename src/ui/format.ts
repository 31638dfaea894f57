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
