import { describe, expect, it } from 'vitest';
import { LineSplitter, createRedactor, redact, secretsFromContent } from '../../src/ssh/index.js';

function feed(secrets: string[], chunks: string[]): string {
  const r = createRedactor(secrets);
  return chunks.map((c) => r.push(c)).join('') + r.flush();
}

describe('createRedactor', () => {
  const text = 'token=s3cr3t-T0ken; again s3cr3t-T0ken and pass=hunter2!';
  const secrets = ['s3cr3t-T0ken', 'hunter2'];
  const expected = 'token=***; again *** and pass=***!';

  it('redacts in one chunk', () => {
    expect(feed(secrets, [text])).toBe(expected);
  });

  it('redacts with the text split at every single boundary', () => {
    for (let i = 0; i <= text.length; i++) {
      expect(feed(secrets, [text.slice(0, i), text.slice(i)]), `split at ${i}`).toBe(expected);
    }
  });

  it('redacts with the text split at every pair of boundaries', () => {
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(feed(secrets, [text.slice(0, i), text.slice(i, j), text.slice(j)]), `split at ${i},${j}`).toBe(expected);
      }
    }
  });

  it('redacts when fed one character at a time', () => {
    expect(feed(secrets, [...text])).toBe(expected);
  });

  it('never emits a secret prefix it cannot yet decide on, and emits it once decided', () => {
    const r = createRedactor(['password123']);
    expect(r.push('the pass')).toBe('the ');
    expect(r.push('word12')).toBe('');
    expect(r.push('4 no')).toBe('password124 no');
    expect(r.flush()).toBe('');
  });

  it('releases a held prefix at flush', () => {
    const r = createRedactor(['abcdef']);
    expect(r.push('xxabc')).toBe('xx');
    expect(r.flush()).toBe('abc');
  });

  it('prefers the longest secret and handles overlaps and repeats', () => {
    expect(redact('abcdef abc abcabcdef', ['abc', 'abcdef'])).toBe('*** *** ******');
    expect(redact('aaaa', ['aa'])).toBe('******');
    const long = 'abcdef';
    for (let i = 0; i <= long.length + 4; i++) {
      const t = `xabcdefx`;
      expect(feed(['abc', 'abcdef'], [t.slice(0, i), t.slice(i)])).toBe('x***x');
    }
  });

  it('catches a secret containing a newline, split anywhere', () => {
    const s = 'line1\nline2';
    const t = `before ${s} after`;
    for (let i = 0; i <= t.length; i++) expect(feed([s], [t.slice(0, i), t.slice(i)])).toBe('before *** after');
  });

  it('ignores empty secrets and passes text through without secrets', () => {
    expect(feed([''], ['a', 'b'])).toBe('ab');
    expect(feed([], ['x'])).toBe('x');
  });

  it('handles large output quickly', () => {
    const big = 'a'.repeat(2_000_000) + 'SECRET' + 'a'.repeat(1000);
    const t0 = Date.now();
    const out = feed(['SECRET', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab'], [big.slice(0, 1_000_003), big.slice(1_000_003)]);
    expect(out).toBe('a'.repeat(2_000_000) + '***' + 'a'.repeat(1000));
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('LineSplitter with redaction', () => {
  it('emits complete lines in order and the last partial line at flush', () => {
    const lines: string[] = [];
    const ls = new LineSplitter((l) => lines.push(l));
    const r = createRedactor(['topsecret']);
    for (const chunk of ['one\ntw', 'o\r\nto', 'psec', 'ret here\nlast']) ls.push(r.push(chunk));
    ls.push(r.flush());
    ls.flush();
    expect(lines).toEqual(['one', 'two', '*** here', 'last']);
  });
});

describe('secretsFromContent', () => {
  it('covers the whole content and each long line', () => {
    const key = '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----\n';
    const s = secretsFromContent(key);
    expect(s).toContain(key);
    expect(s).toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
    expect(s).not.toContain('short');
    expect(redact('error near MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', s)).toBe('error near ***');
  });
});
