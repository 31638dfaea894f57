/** Hooks shared by the full-screen views. */
import { useEffect, useState } from 'react';

export interface SizedStream {
  columns?: number;
  rows?: number;
  on?(event: 'resize', fn: () => void): unknown;
  off?(event: 'resize', fn: () => void): unknown;
}

export interface TerminalSize {
  columns: number;
  rows: number;
}

function read(stdout: SizedStream): TerminalSize {
  return { columns: stdout.columns || 80, rows: stdout.rows || 24 };
}

/** The terminal's size, updated on every 'resize' of the output stream. */
export function useTerminalSize(stdout: SizedStream): TerminalSize {
  const [size, setSize] = useState(() => read(stdout));
  useEffect(() => {
    const onResize = () => {
      const next = read(stdout);
      setSize((prev) => (prev.columns === next.columns && prev.rows === next.rows ? prev : next));
    };
    stdout.on?.('resize', onResize);
    onResize();
    return () => {
      stdout.off?.('resize', onResize);
    };
  }, [stdout]);
  return size;
}

/** Date.now(), refreshed every `intervalMs` while `active` (for elapsed times). */
export function useNow(intervalMs: number, active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs, active]);
  return now;
}
