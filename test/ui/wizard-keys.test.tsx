/**
 * The wizard's keys as a terminal sends them: several backspaces in one read, q and ? typed into text
 * fields (and the help saying so), esc on the first step asking whether to quit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyTextKey } from '../../src/ui/components/TextField.js';
import { KEYS, press, typeText, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard, type Session } from './wizard-session.js';

afterEach(closeSessions);

/** The folder field's text on the workspace step. */
function folder(s: Session): string {
  const line = s.frame().split('\n').find((l) => l.includes('Folder  '));
  return (line ?? '').replace(/^.*Folder {2}/, '').trimEnd();
}

const noKey = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };

describe('keys in the wizard', () => {
  it('applies every backspace of a chunk that arrives in one read', async () => {
    const s = await openWizard();
    await press(s.stdin, KEYS.ctrlU);
    await typeText(s.stdin, '/tmp/kc-test/abcdefghijklmnop');
    expect(folder(s)).toBe('/tmp/kc-test/abcdefghijklmnop');
    // 13 DEL bytes in one write, as a fast typist or a held key sends them.
    await press(s.stdin, '\x7f'.repeat(13));
    expect(folder(s)).toBe('/tmp/kc-test/abc');
    // A mixed chunk: text, deletions and more text, in order.
    await press(s.stdin, 'xy\x7fz');
    expect(folder(s)).toBe('/tmp/kc-test/abcxz');
  });

  it('applies a chunk of backspaces in a number field too', async () => {
    const s = await openWizard();
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
    await press(s.stdin, KEYS.enter);
    await press(s.stdin, KEYS.right); // etcd memory
    await typeText(s.stdin, '12345');
    expect(s.frame()).toMatch(/ › etcd +1 +\[12345▏\] MB/);
    await press(s.stdin, '\x7f\x7f\x7f');
    expect(s.frame()).toMatch(/ › etcd +1 +\[12▏\] MB/);
  });

  it('edits a chunk as the keys one by one would', () => {
    const one = (v: string, c: number, ch: string) => applyTextKey(v, c, ch, ch === '\x7f' ? { ...noKey, delete: true } : noKey) ?? { value: v, cursor: c };
    for (const chunk of ['\x7f'.repeat(13), 'ab\x7f\x7f\x7fcd', '\b\bq?', '\x7f'.repeat(40)]) {
      let byKey = { value: 'hello world', cursor: 11 };
      for (const ch of chunk) byKey = one(byKey.value, byKey.cursor, ch);
      expect(applyTextKey('hello world', 11, chunk, noKey) ?? { value: 'hello world', cursor: 11 }, JSON.stringify(chunk)).toEqual(byKey);
    }
  });

  it('types q and ? into a text field, and the help says where they work', async () => {
    const s = await openWizard();
    await press(s.stdin, KEYS.ctrlU);
    await typeText(s.stdin, '/tmp/kc-test/q?q');
    expect(folder(s)).toBe('/tmp/kc-test/q?q');
    expect(s.frame()).not.toContain('Keys on');
    // The footer names the ways out that work in a text field.
    expect(s.frame()).toMatch(/ctrl\+c quit/);
    expect(s.frame()).toMatch(/esc quit/);
    expect(s.frame()).not.toMatch(/\bq quit/);
    // Outside a text field (sizing), ? opens the help, which says q and ? are typed in text fields.
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
    await press(s.stdin, KEYS.enter, '?');
    const help = s.frame();
    expect(help).toContain('Keys on "Machines and sizes"');
    expect(help).toMatch(/q\s+quit, asking first while a run is in progress \(not in a text/);
    expect(help).toMatch(/field: there q is typed; ctrl\+c quits\)/);
    expectFits(s);
  });

  it('esc on the first step asks whether to quit; n stays, y quits with 0', async () => {
    const s = await openWizard();
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('Leave the wizard?');
    expect(s.frame()).toContain('Nothing has been written');
    expectFits(s);
    await press(s.stdin, 'n');
    expect(s.frame()).not.toContain('Leave the wizard?');
    expect(s.frame()).toContain('1/8 Workspace');
    await press(s.stdin, KEYS.esc, 'y');
    expect(await s.handle.done).toBe(0);
    expect(s.hardExit).not.toHaveBeenCalled();
  });
});
