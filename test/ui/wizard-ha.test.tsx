/**
 * The wizard says what high availability the chosen counts give, in the words `plan` prints
 * (haSummary, src/spec/ha.ts): on the sizing step below the counts, following them as they change,
 * fitted to the rows left; on the review whole. Both at 80×24 and at the 60×24 minimum.
 * Quorum is a majority, floor(n/2) + 1 of n (https://etcd.io/docs/v3.6/faq/#what-is-failure-tolerance).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { haSummary } from '../../src/spec/ha.js';
import { haRows } from '../../src/ui/wizard/steps/Sizing.js';
import { cells, KEYS, press, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard, type Session } from './wizard-session.js';

afterEach(closeSessions);

const rowsOf = (s: Session) => s.frame().split('\n');

async function toSizing(s: Session) {
  await press(s.stdin, KEYS.enter);
  await waitFor(() => s.frame().includes('checks passed'), 'preflight results', s.frame);
  await press(s.stdin, KEYS.enter);
  expect(s.frame()).toContain('3/8 Machines and sizes');
}

/** From the etcd count (where the sizing step starts): etcd count → memory → cpus → masters count. */
async function setCounts(s: Session, etcd: number, masters: number) {
  for (let i = 1; i < etcd; i++) await press(s.stdin, '+');
  await press(s.stdin, KEYS.right, KEYS.right, KEYS.right);
  for (let i = 1; i < masters; i++) await press(s.stdin, '+');
}

/** The body rows of the sizing step between the focused group's hint and the total. */
function haBlock(s: Session): string[] {
  const ls = rowsOf(s);
  const hint = ls.findIndex((l) => /^ {3}(etcd|masters|workers): /.test(l));
  const total = ls.findIndex((l) => l.startsWith(' Total '));
  expect(hint, s.frame()).toBeGreaterThan(0);
  expect(total, s.frame()).toBeGreaterThan(hint);
  return ls.slice(hint + 1, total).filter((l) => l.trim() !== '');
}

const draft = (s: Session) => s.handle.store.getState().draft;

describe('high availability on the sizing step', () => {
  it('one master, one etcd member: says no failover for both, and follows the counts as they change', async () => {
    const s = await openWizard({}, [80, 24]);
    await toSizing(s);
    expectFits(s);
    let block = haBlock(s);
    expect(block[0]).toMatch(/^ {3}API: 1 master, no failover: while kube-master-01 is down/);
    expect(block[1]).toMatch(/^ {3}etcd: 1 member, no failover: while etcd-01 is down/);
    expect(block[2]).toBe('   Together: no single machine of the control plane may stop.');
    expect(block).toHaveLength(3);

    // etcd 1 → 2: the etcd line changes with the count, before leaving the step.
    await press(s.stdin, '+');
    block = haBlock(s);
    expect(block.some((l) => l.startsWith('   etcd: 2 members, quorum 2: survives losing none')), s.frame()).toBe(true);
    expect(s.frame()).not.toContain('etcd: 1 member');
    await press(s.stdin, '+');
    expect(haBlock(s).some((l) => l.startsWith('   etcd: 3 members, quorum 2: survives losing 1 member.')), s.frame()).toBe(true);

    // Masters 1 → 2: the API line changes from no failover to surviving one master.
    await press(s.stdin, KEYS.right, KEYS.right, KEYS.right, '+');
    block = haBlock(s);
    expect(block[0], s.frame()).toMatch(/^ {3}API: 2 masters, survives losing 1 master: every worker reaches/);
    expect(s.frame()).not.toContain('no failover');
    expect(block.some((l) => l.startsWith('   etcd: 3 members, quorum 2: survives losing 1 member.'))).toBe(true);
    expect(block.some((l) => l.startsWith('   Together: the control plane survives losing 1 master and 1 etcd member'))).toBe(true);
    expectFits(s);

    // 0 masters is refused inline: no failover answer for a count that cannot be built.
    await press(s.stdin, '-', '-');
    expect(s.frame()).toMatch(/✗ a cluster needs at least 1 Kubernetes master/);
    expect(s.frame()).not.toMatch(/API: /);
    expectFits(s);
  });

  for (const [w, h] of [
    [80, 24],
    [60, 24],
  ] as const)
    it(`two masters, three etcd members at ${w}×${h}: the master and the etcd line both, in the rows left`, async () => {
      const s = await openWizard({}, [w, h]);
      await toSizing(s);
      await setCounts(s, 3, 2);
      expect(draft(s).groups['kube-master'].count).toBe(2);
      expect(draft(s).groups.etcd.count).toBe(3);
      expectFits(s);
      const block = haBlock(s);
      expect(block[0], s.frame()).toMatch(/^ {3}API: 2 masters, survives losing 1 master/);
      expect(block.some((l) => l.startsWith('   etcd: 3 members, quorum 2: survives losing 1 member')), s.frame()).toBe(true);
      // Nothing under the block was pushed off: the totals and the footnote are still drawn.
      expect(s.frame()).toMatch(/^ Total 7 machines/m);
      expect(s.frame()).toMatch(/^ memory steps by 256 MB/m);
      for (const l of block) expect(cells(l)).toBeLessThanOrEqual(w);
    });
});

describe('high availability on the review', () => {
  for (const [w, h] of [
    [80, 24],
    [60, 24],
  ] as const)
    it(`shows every line whole at ${w}×${h}, scrolled into view, without drawing over the action row`, async () => {
      const s = await openWizard({}, [w, h]);
      await toSizing(s);
      await setCounts(s, 3, 2);
      await press(s.stdin, KEYS.enter, KEYS.enter);
      await waitFor(() => s.frame().includes('5/8 Review'), 'the review', s.frame);
      expectFits(s);
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        seen.push(...rowsOf(s));
        await press(s.stdin, KEYS.down);
      }
      expectFits(s);
      const ls = rowsOf(s);
      // At the bottom: the failover lines, then where the list is, then what enter does.
      expect(ls.some((l) => /^ Failover {3}API: 2 masters, survives losing 1 master/.test(l)), s.frame()).toBe(true);
      const scroll = ls.findIndex((l) => /^ lines \d+–(\d+) of \1 \(↑↓ host · pgup\/pgdn scroll\)/.test(l));
      expect(scroll, s.frame()).toBeGreaterThan(0);
      expect(ls[scroll + 1]).toMatch(/^ enter writes the files and creates the machines/);
      // Each line `plan` prints is on the review, word for word, wrapped beside its label.
      const text = seen
        .filter((l) => /^ (Failover| {8}) {3}\S/.test(l))
        .map((l) => l.slice(12).trim())
        .join(' ');
      const want = haSummary(draft(s));
      expect(want).toHaveLength(4);
      for (const l of want) expect(text, l).toContain(l);
      expect(text).toContain('etcd: 3 members, quorum 2: survives losing 1 member.');
    });

  it('one master: the review says no failover', async () => {
    const s = await openWizard({}, [80, 24]);
    await toSizing(s);
    await press(s.stdin, KEYS.enter, KEYS.enter);
    await waitFor(() => s.frame().includes('5/8 Review'), 'the review', s.frame);
    for (let i = 0; i < 30; i++) await press(s.stdin, KEYS.down);
    expectFits(s);
    expect(s.frame()).toMatch(/^ Failover {3}API: 1 master, no failover/m);
  });
});

describe('haRows', () => {
  const lines = haSummary({ name: 'demo', groups: { etcd: { count: 3 }, 'kube-master': { count: 2 }, 'kube-worker': { count: 2 } } } as never);

  it('keeps every line whole when the rows allow, and never more rows or wider than given', () => {
    const whole = haRows(lines, 78, 100);
    expect(whole.map((r) => r.slice(2)).join(' ')).toBe(lines.join(' '));
    for (const width of [58, 78, 120])
      for (let rows = 0; rows <= 14; rows++) {
        const r = haRows(lines, width, rows);
        expect(r.length, `${width}×${rows}`).toBeLessThanOrEqual(rows);
        for (const x of r) expect(cells(x)).toBeLessThanOrEqual(width);
      }
  });

  it('cuts each line to a row, dropping the kubectl contexts first, when the rows are few', () => {
    const three = haRows(lines, 58, 3);
    expect(three.map((r) => r.slice(2, 10))).toEqual(['API: 2 m', 'etcd: 3 ', 'Together']);
    expect(three[0]!.endsWith('…')).toBe(true);
    expect(haRows(lines, 58, 4).map((r) => r.slice(2, 6))).toEqual(['API:', 'kube', 'etcd', 'Toge']);
    expect(haRows(lines, 58, 1)).toHaveLength(1);
  });
});
