/**
 * The teaching view in the wizard (`e`): on the review, ↑↓ picks a host line and `e` opens the files
 * converge writes there (path, mode, owner, role › task, why), enter shows a file's content and a
 * secret shows its note, never its bytes; esc closes. While a role runs, `e` on the selected host
 * says which role and task it is in and why they exist. The explanations are fakes shaped as
 * src/explain/types.ts (fixtures/fake-explain.ts): this tests what the UI draws and which keys do it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_MATERIAL } from './fixtures/fake-explain.js';
import { KEYS, press, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard, type Session } from './wizard-session.js';

afterEach(closeSessions);

async function toReview(s: Session) {
  await press(s.stdin, KEYS.enter);
  await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
  await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter);
  await waitFor(() => s.frame().includes('5/8 Review') && s.frame().includes('checks passed'), 'the review', s.frame);
}

const rows = (s: Session) => s.frame().split('\n');
/** The frame's rows joined, each stripped of its indent: wrapped text reads whole. */
const flat = (s: Session) => rows(s).map((l) => l.trim()).join(' ');

describe('e in the wizard', () => {
  for (const [w, h] of [
    [60, 24],
    [200, 60],
  ] as const)
    it(`review at ${w}×${h}: ↑↓ picks a host, e lists its files with their whys, enter shows content, a secret shows its note`, async () => {
      const s = await openWizard({}, [w, h]);
      await toReview(s);
      expect(s.frame()).toMatch(/e why/);
      // ↓ picks the first host line, ↓ again the second.
      await press(s.stdin, KEYS.down, KEYS.down);
      expect(s.frame()).toMatch(/^ › kube-master-01 +10\.0\.0\.111/m);
      await press(s.stdin, 'e');
      await waitFor(() => s.frame().includes('Files converge writes on kube-master-01'), 'the files', s.frame);
      expect(s.actions.explained.calls).toEqual([{ kind: 'host', host: 'kube-master-01' }]);
      expectFits(s);
      // One row per file; the picked one (the first) with its why.
      expect(s.frame()).toMatch(/› \/etc\/systemd\/system\/etcd\.service +0644 root:root/);
      expect(s.frame()).toMatch(w < 100 ? /^ {5}from: etcd › etcd unit$/m : /0644 root:root +etcd › etcd unit/);
      expect(s.frame()).toContain('why: systemd reads the unit to start etcd at boot.');
      expect(s.frame()).toMatch(/\/etc\/etcd\/pki\/kube-master-01\.key +0600 etcd:etcd/);
      expect(s.frame()).toMatch(/↑↓ file +enter content +esc close/);
      // enter: the exact content.
      await press(s.stdin, KEYS.enter);
      expect(s.frame()).toContain('ExecStart=/opt/bin/etcd');
      expectFits(s);
      // Back to the list, down to the long config: its content scrolls.
      await press(s.stdin, KEYS.esc, KEYS.down);
      expect(flat(s)).toContain('why: ETCD_INITIAL_CLUSTER names every member, so the members find each other the first time.');
      await press(s.stdin, KEYS.enter);
      expect(s.frame()).toContain('line-1: value 1');
      if (h === 24) {
        expect(s.frame()).not.toContain('line-40: value 40');
        for (let i = 0; i < 45; i++) await press(s.stdin, KEYS.down);
        expect(s.frame()).toContain('line-40: value 40');
        expect(s.frame()).toMatch(/lines \d+–\d+ of \d+ · ↑↓ scroll/);
      }
      expectFits(s);
      // The private key: its note, marked a secret, no content.
      await press(s.stdin, KEYS.enter, KEYS.down);
      expect(s.frame()).toMatch(/› \/etc\/etcd\/pki\/kube-master-01\.key +0600 etcd:etcd secret/);
      expect(flat(s)).toContain('note: private key: kept in pki/etcd/kube-master-01.key on this machine (0600)');
      await press(s.stdin, KEYS.enter);
      expect(s.frame()).toContain('content not shown: this is a secret');
      expect(flat(s)).toContain('private key: kept in pki/etcd/kube-master-01.key on this machine (0600)');
      expect(s.frame()).not.toMatch(KEY_MATERIAL);
      expectFits(s);
      // q closes from anywhere; back on the review with the host still picked.
      await press(s.stdin, 'q');
      expect(s.frame()).toContain('5/8 Review');
      expect(s.frame()).toMatch(/^ › kube-master-01/m);
      expect(rows(s).some((l) => l.includes('enter writes the files'))).toBe(true);
      // ? on the review lists e, at this size too.
      await press(s.stdin, '?');
      expect(s.frame()).toMatch(/│ e +explain: on the review/);
      expectFits(s);
      await press(s.stdin, KEYS.esc);
    }, 30_000);

  it('review: e before ↑↓ explains the first host; an error is shown, not a crash; ? lists e', async () => {
    const s = await openWizard({}, [80, 24]);
    await toReview(s);
    await press(s.stdin, 'e');
    await waitFor(() => s.frame().includes('Files converge writes on etcd-01'), 'the files', s.frame);
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('5/8 Review');
    expect(s.frame()).toMatch(/^ › etcd-01/m);
    s.actions.explained.host = async () => {
      throw new Error('the teaching view is not available in this build yet');
    };
    await press(s.stdin, 'e');
    await waitFor(() => s.frame().includes('✗ cannot explain: the teaching view is not available'), 'the error', s.frame);
    await press(s.stdin, KEYS.esc, '?');
    expect(s.frame()).toMatch(/^ +│ e +explain: on the review, the selected host's files/m);
    expectFits(s);
  }, 30_000);

  for (const [w, h] of [
    [60, 24],
    [200, 60],
  ] as const)
    it(`provisioning at ${w}×${h}: e on the selected host shows its running role and task and why`, async () => {
      const s = await openWizard({ pauseAfter: 60 }, [w, h]);
      await toReview(s);
      await press(s.stdin, KEYS.enter, 'y');
      await waitFor(() => s.frame().includes('7/8 Provisioning'), 'provisioning', s.frame);
      await waitFor(() => s.actions.emitted.length >= 60, 'the run to pause', s.frame);
      // A host that is inside a role (the run is paused there).
      const running = () => Object.values(s.handle.runStore.getState().hosts).find((h) => h.role);
      await waitFor(() => running() !== undefined, 'a host in a role', s.frame);
      const host = running()!.name;
      while (s.handle.store.getState().selectedHost !== host) await press(s.stdin, KEYS.down);
      expect(s.frame()).toMatch(/e why/);
      const view = s.handle.runStore.getState().hosts[host]!;
      const role = view.role!;
      const task = view.task;
      await press(s.stdin, 'e');
      await waitFor(() => s.frame().includes(`Why: ${host}'s task`), 'the why', s.frame);
      expect(s.actions.explained.calls).toEqual([{ kind: 'task', host, role, task }]);
      expect(s.frame()).toMatch(new RegExp(`role +${role}`));
      if (task) {
        expect(s.frame()).toContain(`task  ${task}`);
        expect(s.frame().replace(/\s+/g, ' ')).toContain(`why: why ${role} › ${task} exists`.replace(/\s+/g, ' '));
      }
      expect(s.frame()).toMatch(/esc\/e close/);
      expectFits(s);
      // The run goes on underneath; esc is the view's, not a step back.
      await press(s.stdin, KEYS.esc);
      expect(s.frame()).toContain('7/8 Provisioning');
      expect(s.actions.calls.up[0]!.signal.aborted).toBe(false);
      // ? on the provisioning screen lists e.
      await press(s.stdin, '?');
      expect(s.frame()).toMatch(/│ e +explain:/);
      await press(s.stdin, KEYS.esc);
    }, 30_000);
});
