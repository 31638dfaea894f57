/**
 * A terminal for Ink tests with a real size: ink-testing-library's fake stdout is 100 columns with no
 * rows, which cannot show a full-screen layout. Key presses and waits run inside act().
 */
import { EventEmitter } from 'node:events';
import { act } from 'react';

export class SizedStdout extends EventEmitter {
  isTTY = true;
  frames: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (s: string): boolean => {
    this.frames.push(s);
    return true;
  };
  lastFrame(): string {
    return this.frames[this.frames.length - 1] ?? '';
  }
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

export class FakeStdin extends EventEmitter {
  isTTY = true;
  isRaw = false;
  private data: string | null = null;
  setRawMode(on: boolean): this {
    this.isRaw = on;
    return this;
  }
  setEncoding(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  read = (): string | null => {
    const d = this.data;
    this.data = null;
    return d;
  };
  /** Bytes as the terminal sends them. */
  send(data: string): void {
    this.data = data;
    this.emit('readable');
  }
}

export const KEYS = {
  enter: '\r',
  esc: '\x1b',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  tab: '\t',
  shiftTab: '\x1b[Z',
  backspace: '\x7f',
  ctrlC: '\x03',
  ctrlU: '\x15',
  ctrlN: '\x0e',
} as const;

/** Let effects subscribe and Ink's input parser flush a held ESC. */
export async function settle(): Promise<void> {
  await act(async () => {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setImmediate(r));
  });
}

export async function press(stdin: FakeStdin, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    await act(async () => {
      stdin.send(k);
    });
    await settle();
  }
}

export async function typeText(stdin: FakeStdin, text: string): Promise<void> {
  for (const ch of text) await press(stdin, ch);
}

export async function wait(ms: number): Promise<void> {
  await act(async () => {
    await new Promise((r) => setTimeout(r, ms));
  });
}

/** Wait (inside act) until `check` is true, polling; throws with the last frame on timeout. */
export async function waitFor(check: () => boolean, what: string, frame: () => string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${frame()}`);
    await wait(10);
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Printed width of a line (our glyphs are one cell each). */
export function cells(line: string): number {
  return Array.from(stripAnsi(line)).length;
}
