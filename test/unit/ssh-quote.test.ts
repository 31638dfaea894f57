import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../src/ssh/index.js';

/** What a real POSIX shell makes of the quoted word. */
function throughShell(word: string): string {
  const r = spawnSync('sh', ['-c', `printf '%s' ${word}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sh failed: ${r.stderr}`);
  return r.stdout;
}

describe('shellQuote', () => {
  const samples = [
    '',
    'plain',
    '/etc/kubernetes/admin.conf',
    'two words',
    "it's",
    "''",
    "'",
    '"double"',
    '$HOME',
    '$(touch /tmp/kcore-quote-pwned)',
    '`id`',
    'back\\slash',
    'semi;colon && or || pipe | amp &',
    'glob * ? [a-z]',
    '~root',
    '-n',
    '--',
    'new\nline',
    'tab\there',
    '\r\n\t\v\f',
    'ünïcödé ☸ 日本',
    '!history',
    '{a,b}',
    '#comment',
    '=equals',
    "mixed 'single' and \"double\" and $vars and `cmds`",
  ];

  for (const s of samples) {
    it(`round-trips ${JSON.stringify(s)} through sh -c`, () => {
      expect(throughShell(shellQuote(s))).toBe(s);
    });
  }

  it('round-trips random strings of every byte but NUL', () => {
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const words: string[] = [];
    for (let i = 0; i < 60; i++) {
      let s = '';
      const len = rnd() % 24;
      for (let j = 0; j < len; j++) s += String.fromCharCode(1 + (rnd() % 126));
      words.push(s);
    }
    // One shell run for all: print each word followed by a NUL separator.
    const script = words.map((w) => `printf '%s\\0' ${shellQuote(w)}`).join('; ');
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(words);
  });

  it('never lets a command substitution run', () => {
    const r = spawnSync('sh', ['-c', `echo ${shellQuote('$(echo INJECTED)')}`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('$(echo INJECTED)');
  });

  it('leaves safe words readable and refuses NUL', () => {
    expect(shellQuote('/usr/bin/kubelet')).toBe('/usr/bin/kubelet');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote('')).toBe("''");
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('shellJoin quotes each argument', () => {
    const args = ['printf', '%s|', 'a b', "c'd", ''];
    const r = spawnSync('sh', ['-c', shellJoin(args)], { encoding: 'utf8' });
    expect(r.stdout).toBe("a b|c'd||");
  });
});
