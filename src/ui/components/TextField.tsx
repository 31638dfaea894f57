/**
 * A one-line text field drawn by the wizard (the keys reach it through the wizard's one dispatcher, so
 * a focused field and the global keys never both see a key). The cursor is shown in inverse video.
 */
import { Text, type Key } from 'ink';
import { clip } from '../format.js';

export interface TextEdit {
  value: string;
  cursor: number;
}

/** Apply a keypress to a value; null when the key is not an edit. */
export function applyTextKey(value: string, cursor: number, input: string, key: Key): TextEdit | null {
  const c = Math.max(0, Math.min(cursor, value.length));
  if (key.leftArrow) return { value, cursor: Math.max(0, c - 1) };
  if (key.rightArrow) return { value, cursor: Math.min(value.length, c + 1) };
  if (key.home || (key.ctrl && input === 'a')) return { value, cursor: 0 };
  if (key.end || (key.ctrl && input === 'e')) return { value, cursor: value.length };
  if (key.ctrl && input === 'u') return { value: value.slice(c), cursor: 0 };
  if (key.ctrl && input === 'k') return { value: value.slice(0, c), cursor: c };
  if (key.backspace || key.delete) {
    // Most terminals send DEL (0x7f) for backspace, which Ink reports as `delete`.
    if (c === 0) return { value, cursor: 0 };
    return { value: value.slice(0, c - 1) + value.slice(c), cursor: c - 1 };
  }
  if (key.ctrl || key.meta || key.return || key.escape || key.tab || key.upArrow || key.downArrow) return null;
  return applyTextChunk(value, c, input);
}

/**
 * Keys that reached the app in one read: a fast typist, a held key or a paste arrive as one chunk
 * ("\x7f\x7f\x7f", "ab\x7fc"), which Ink hands over as a single input without key flags. Each DEL
 * (0x7f) or BS (0x08) deletes the character before the cursor, printable characters are inserted, other
 * control characters are dropped. Null when the chunk changes nothing.
 */
export function applyTextChunk(value: string, cursor: number, input: string): TextEdit | null {
  let v = value;
  let c = Math.max(0, Math.min(cursor, value.length));
  let edited = false;
  for (const ch of input) {
    if (ch === '\x7f' || ch === '\b') {
      if (c > 0) {
        v = v.slice(0, c - 1) + v.slice(c);
        c--;
      }
      edited = true;
    } else if (ch >= ' ') {
      v = v.slice(0, c) + ch + v.slice(c);
      c += ch.length;
      edited = true;
    }
  }
  return edited ? { value: v, cursor: c } : null;
}

/** How many deletions a chunk of only DEL/BS bytes asks for (0 when it holds anything else). */
export function backspaceCount(input: string): number {
  return /^[\x7f\b]+$/.test(input) ? input.length : 0;
}

export interface TextFieldProps {
  value: string;
  cursor: number | null;
  focused: boolean;
  width: number;
  colour?: string;
}

/** The value with a block cursor when focused; long values scroll so the cursor stays visible. */
export function TextField({ value, cursor, focused, width, colour }: TextFieldProps) {
  if (!focused) return <Text color={colour}>{clip(value, width)}</Text>;
  const pos = Math.max(0, Math.min(cursor ?? value.length, value.length));
  const room = Math.max(1, width - 1);
  const start = Math.max(0, pos - room + 1);
  const shown = value.slice(start, start + room);
  const at = pos - start;
  return (
    <Text color={colour}>
      {shown.slice(0, at)}
      <Text inverse>{shown[at] ?? ' '}</Text>
      {shown.slice(at + 1)}
    </Text>
  );
}
