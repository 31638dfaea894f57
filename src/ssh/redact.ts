// Streaming redaction: secrets never leave the engine, even when a secret arrives split across chunks.

export const REDACTED = '***';

export interface Redactor {
  /** Feed a chunk; returns the text that is now certain not to be (part of) a secret. */
  push(chunk: string): string;
  /** End of stream: returns everything still held back. */
  flush(): string;
}

/**
 * Replace every occurrence of any secret with `***`. Text that could still be the beginning of a
 * secret is held back until the next chunk (or flush) decides it. Longer secrets win over shorter
 * ones starting at the same position. Empty secrets are ignored.
 */
export function createRedactor(secrets: readonly string[]): Redactor {
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  if (list.length === 0) {
    return { push: (chunk) => chunk, flush: () => '' };
  }
  const firstChars = new Set(list.map((s) => s[0]!));
  const maxLen = list[0]!.length;
  let buf = '';

  // Is `tail` (text running to the end of the buffer) a proper prefix of some secret?
  const couldGrowInto = (tail: string): boolean => list.some((s) => s.length > tail.length && s.startsWith(tail));

  const drain = (final: boolean): string => {
    let out = '';
    let emitFrom = 0;
    let i = 0;
    while (i < buf.length) {
      if (!firstChars.has(buf[i]!)) {
        i++;
        continue;
      }
      // Only text running into the end of the buffer can still grow into a secret.
      if (!final && buf.length - i < maxLen && couldGrowInto(buf.slice(i))) break; // wait: a (longer) secret may complete with the next chunk
      const hit = list.find((s) => buf.startsWith(s, i));
      if (hit) {
        out += buf.slice(emitFrom, i) + REDACTED;
        i += hit.length;
        emitFrom = i;
      } else {
        i++;
      }
    }
    out += buf.slice(emitFrom, i);
    buf = buf.slice(i);
    return out;
  };

  return {
    push(chunk: string): string {
      buf += chunk;
      return drain(false);
    },
    flush(): string {
      const out = drain(true);
      buf = '';
      return out;
    },
  };
}

/** Redact a whole string at once. */
export function redact(text: string, secrets: readonly string[]): string {
  const r = createRedactor(secrets);
  return r.push(text) + r.flush();
}

/**
 * Secrets to redact for secret file content: the whole content and each of its lines that is long
 * enough to be meaningful (a remote tool echoing one line of a key must not leak it either).
 */
export function secretsFromContent(content: string | Buffer): string[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const out = new Set<string>();
  if (text.trim().length > 0) out.add(text);
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t.length >= 8) out.add(t);
  }
  return [...out];
}

/** Splits a text stream into lines (without `\n` and a trailing `\r`), calling `onLine` for each. */
export class LineSplitter {
  private partial = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(text: string): void {
    if (text.length === 0) return;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.onLine(p.endsWith('\r') ? p.slice(0, -1) : p);
  }

  /** Emit the last line when the stream did not end with a newline. */
  flush(): void {
    if (this.partial.length > 0) {
      const p = this.partial;
      this.partial = '';
      this.onLine(p.endsWith('\r') ? p.slice(0, -1) : p);
    }
  }
}
