/**
 * Colours and glyphs. Every status is shown by a glyph AND a colour, so the screens read the same with
 * NO_COLOR (colours dropped) as with them. Colours carry meaning only: green done, yellow changed,
 * red failed, magenta unreachable, cyan running, grey waiting or cancelled.
 */
import { createContext, useContext, type ReactNode } from 'react';
import type { HostState, TaskStatus } from '../engine/events.js';

export type Tone = 'ok' | 'changed' | 'failed' | 'unreachable' | 'running' | 'pending' | 'cancelled' | 'accent' | 'muted' | 'warn' | 'title';

const TONE_COLOUR: Record<Tone, string> = {
  ok: 'green',
  changed: 'yellow',
  failed: 'red',
  unreachable: 'magenta',
  running: 'cyan',
  pending: 'gray',
  cancelled: 'gray',
  accent: 'cyan',
  muted: 'gray',
  warn: 'yellow',
  title: 'blueBright',
};

export const STATE_GLYPH: Record<HostState, string> = {
  pending: '○',
  running: '●',
  ok: '✓',
  changed: 'Δ',
  failed: '✗',
  unreachable: '⊘',
  cancelled: '—',
};

export const STATE_WORD: Record<HostState, string> = {
  pending: 'waiting',
  running: 'running',
  ok: 'ok',
  changed: 'changed',
  failed: 'failed',
  unreachable: 'unreachable',
  cancelled: 'cancelled',
};

export const TASK_GLYPH: Record<TaskStatus, string> = { ok: '✓', changed: 'Δ', failed: '✗', skipped: '↷', unreachable: '⊘' };

export const FINISHED: ReadonlySet<HostState> = new Set(['ok', 'changed', 'failed', 'unreachable', 'cancelled']);

export interface Theme {
  colour: boolean;
  /** The colour for a tone, or undefined when colours are off. */
  c(tone: Tone): string | undefined;
}

export function makeTheme(colour: boolean): Theme {
  return { colour, c: (tone) => (colour ? TONE_COLOUR[tone] : undefined) };
}

/** Colours are on unless NO_COLOR is set (https://no-color.org) or FORCE_COLOR=0. */
export function colourFromEnv(env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  return true;
}

const ThemeContext = createContext<Theme>(makeTheme(true));

export function ThemeProvider({ theme, children }: { theme: Theme; children: ReactNode }) {
  return <ThemeContext.Provider value={theme}>{children}</ThemeContext.Provider>;
}

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

export function stateTone(s: HostState): Tone {
  return s;
}

export function taskTone(s: TaskStatus): Tone {
  return s === 'skipped' ? 'muted' : s;
}
