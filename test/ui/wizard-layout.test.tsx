/**
 * Every step laid out at 80×24 (and at the 60×18 minimum) without lines drawn over each other, and a
 * terminal below the minimum saying so. The failing checks are shaped as src/vagrant/preflight.ts
 * emits them (its check names, details and fixes), several with fixes longer than a line.
 */
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { PreflightCheck } from '../../src/ui/wizard/actions.js';
import { FAILING_PREFLIGHT } from './preflight-checks.js';
import { checkLines } from '../../src/ui/wizard/steps/Preflight.js';
import { wrapText } from '../../src/ui/format.js';
import { KEYS, cells, press, settle, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard, type Session } from './wizard-session.js';

afterEach(closeSessions);


function lines(s: Session): string[] {
  return s.frame().split('\n');
}

/** Each check has its own line starting with its mark and its name, and the question is whole. */
function expectChecksDrawn(s: Session, checks: PreflightCheck[]) {
  const ls = lines(s);
  expect(ls.some((l) => /^ Can this machine run the cluster\?/.test(l)), s.frame()).toBe(true);
  for (const c of checks) {
    const mark = c.ok && !c.warning ? '✓' : c.ok ? '!' : '✗';
    expect(ls.filter((l) => new RegExp(`^ ${mark} ${c.check} `).test(l)), `${c.check} with ${mark}:\n${s.frame()}`).toHaveLength(1);
  }
}

async function toPreflight(s: Session) {
  await press(s.stdin, KEYS.enter);
  await waitFor(() => s.frame().includes('checks failed') || s.frame().includes('checks passed'), 'preflight results', s.frame);
}

describe('the wizard at 80×24', () => {
  it('draws every failed preflight check with its mark, name, detail and whole fix', async () => {
    const s = await openWizard({ preflight: FAILING_PREFLIGHT }, [80, 24]);
    await toPreflight(s);
    expectFits(s);
    expectChecksDrawn(s, FAILING_PREFLIGHT);
    // The fixes are wrapped, not cut: each word of the longest one is on the screen, in order.
    const text = lines(s).map((l) => l.trim()).join(' ');
    expect(text).toContain('fix: install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads (with its kernel modules), or choose another provider: `provider: libvirt` (KVM) or `provider: lxc` (containers, Linux only) in kcore.yaml');
    expect(text).toContain('fix: choose another private network: set network.prefix in kcore.yaml (e.g. `kcore-wizard init --force --prefix 10.1.0 …`), or remove that address');
    expect(text).toContain('✗ 3 of 6 checks failed');
  });

  it('keeps every check on its own line at the 60×24 minimum too, cutting details deliberately', async () => {
    const s = await openWizard({ preflight: FAILING_PREFLIGHT }, [60, 24]);
    await toPreflight(s);
    expectFits(s);
    expectChecksDrawn(s, FAILING_PREFLIGHT);
    for (const l of lines(s).filter((x) => x.includes('fix:'))) expect(l).toMatch(/^ {5}fix: \S/);
  });

  it('shows every failed check with its whole fix on the review, and ↑↓ scrolls to the machines', async () => {
    const s = await openWizard({ preflight: FAILING_PREFLIGHT }, [80, 24]);
    await toPreflight(s);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter);
    await waitFor(() => s.frame().includes('5/8 Review') && s.frame().includes('preflight checks failed'), 'the review', s.frame);
    expectFits(s);
    const text = lines(s).map((l) => l.trim()).join(' ');
    expect(text).toContain('✗ 3 preflight checks failed: fix them before creating the cluster');
    for (const c of FAILING_PREFLIGHT.filter((x) => !x.ok)) {
      expect(text).toContain(`✗ ${c.check}: ${c.detail}`);
      expect(text).toContain(`fix: ${c.fix}`);
    }
    expect(s.frame()).not.toMatch(/…$/m);
    // The table is below: the last rows say where the list is and what enter does.
    const ls = lines(s);
    expect(ls.at(-4)).toMatch(/^ lines 1–\d+ of \d+ \(↑↓ host · pgup\/pgdn scroll\)/);
    expect(ls.at(-3)).toMatch(/^ enter writes the files and creates the machines/);
    for (let i = 0; i < 12; i++) await press(s.stdin, KEYS.down);
    for (const h of ['etcd-01', 'kube-master-01', 'kube-worker-01', 'kube-worker-02']) expect(s.frame()).toMatch(new RegExp(`^ [ ›] ${h} +10\\.0\\.0\\.1\\d\\d`, 'm'));
    expectFits(s);
  });

  it('fits the help at 60×24 with every line of it whole', async () => {
    const s = await openWizard({}, [60, 24]);
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
    await press(s.stdin, KEYS.enter, '?');
    expectFits(s);
    const body = lines(s).filter((l) => l.startsWith('  │'));
    expect(body.length).toBeGreaterThan(8);
    // Inside the border, nothing is cut: each row ends with its right border after a space.
    for (const l of body) expect(l, l).toMatch(/ │$/);
    // What does not fit is counted, not drawn over the legend.
    expect(s.frame()).toMatch(/│ … \d+ more keys?: make the terminal taller +│/);
    expect(s.frame()).toMatch(/│ ○ waiting ● running/);
    expect(s.frame()).toContain('ctrl+c     cancel the run');
  });
});

describe('a terminal below the minimum', () => {
  for (const [w, h] of [
    [50, 14],
    [59, 30],
    [100, 23],
  ] as const)
    it(`says so at ${w}×${h} instead of drawing over itself, and redraws when resized`, async () => {
      const s = await openWizard({}, [w, h]);
      const f = s.frame();
      expect(f.split('\n')[0]).toMatch(new RegExp(`^terminal too small: ${w}×${h}, need at least`));
      expect(wrapText(f.replace(/\n/g, ' '), 1000)[0]).toContain(`terminal too small: ${w}×${h}, need at least 60×24; resize it (ctrl+c quits)`);
      expect(f).not.toContain('Workspace');
      for (const l of f.split('\n')) expect(cells(l)).toBeLessThanOrEqual(w);
      await act(async () => s.stdout.resize(80, 24));
      await settle();
      expect(s.frame()).toContain('1/8 Workspace');
      expectFits(s);
    });
});

describe('checkLines', () => {
  it('wraps what fits, then cuts the passed checks, then the fixes, and counts what is hidden', () => {
    const tall = checkLines(FAILING_PREFLIGHT, 78, 100);
    expect(tall.tier).toBe(0);
    expect(tall.lines.filter((l) => l.head)).toHaveLength(FAILING_PREFLIGHT.length);
    const short = checkLines(FAILING_PREFLIGHT, 78, FAILING_PREFLIGHT.length);
    expect(short.lines).toHaveLength(FAILING_PREFLIGHT.length);
    expect(short.hidden).toBe(0);
    const tiny = checkLines(FAILING_PREFLIGHT, 78, 3);
    expect(tiny.lines).toHaveLength(2);
    expect(tiny.hidden).toBe(FAILING_PREFLIGHT.length - 2);
    for (const r of [3, 6, 9, 12, 15, 40]) expect(checkLines(FAILING_PREFLIGHT, 58, r).lines.length).toBeLessThanOrEqual(r);
  });
});
