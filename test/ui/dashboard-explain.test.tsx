/**
 * `e` in the dashboard: on the selected host it says what the host is for and its roles; ↑↓ opens
 * each unit (why, docs) and each check (why, the exact command it runs) in turn; esc closes; `?`
 * lists the key; it fits 60×24 and 200×60. The dashboard's controller runs on fake effects (no SSH,
 * as test/ui/dashboard.test.tsx); the explanation is a fake shaped as src/explain/types.ts
 * (fixtures/fake-explain.ts), injected the way src/commands/dashboard.tsx injects the real one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createDashboardController, type DashboardController, type DashboardEffects } from '../../src/health/actions.js';
import { parseProbe } from '../../src/health/probe.js';
import type { HostInfo } from '../../src/engine/task.js';
import type { HostExplanation } from '../../src/explain/types.js';
import type { GroupName } from '../../src/spec/schema.js';
import { defaultSpec } from '../../src/spec/index.js';
import { startDashboard, type DashboardHandle } from '../../src/ui/dashboard/run.js';
import { fakeHostExplanation } from './fixtures/fake-explain.js';
import { FakeStdin, KEYS, SizedStdout, cells, press, settle, stripAnsi, waitFor } from './harness.js';

function host(name: string, group: GroupName, octet: number): HostInfo {
  return { name, group, index: 1, ip: `10.0.0.${octet}`, sshAddress: '127.0.0.1', sshPort: 22, memory: 1, cpus: 1, target: { name, host: '127.0.0.1', port: 22, user: 'x' } };
}
const HOSTS = [host('etcd-01', 'etcd', 101), host('kube-master-01', 'kube-master', 111)];
const SPEC = defaultSpec({ name: 'demo' });

const effects: DashboardEffects = {
  probe: async (h) => parseProbe(h, `U Id=etcd.service\nU LoadState=loaded\nU ActiveState=active\nU SubState=running\n`, Date.now(), 5),
  converge: async () => ({ runId: 'r', status: 'ok', recap: {}, changed: 0, failedHosts: [], durationMs: 1 }),
  journal: async () => [],
  readCommands: async () => [],
  loadSmoke: async () => ({}),
  saveSmoke: async (u) => u,
  close: async () => undefined,
};

interface Session {
  stdin: FakeStdin;
  stdout: SizedStdout;
  handle: DashboardHandle;
  controller: DashboardController;
  asked: string[];
  frame(): string;
}
const sessions: Session[] = [];

async function open(size: [number, number], explain?: (host: string) => Promise<HostExplanation>): Promise<Session> {
  const controller = createDashboardController({ spec: SPEC, hosts: HOSTS, effects, intervalMs: 60_000 });
  const stdin = new FakeStdin();
  const stdout = new SizedStdout(size[0], size[1]);
  const asked: string[] = [];
  const withLog = explain && (async (h: string) => (asked.push(h), explain(h)));
  let handle!: DashboardHandle;
  await act(async () => {
    await controller.start();
    handle = startDashboard({
      store: controller.store,
      runStore: controller.runStore,
      actions: controller.actions,
      explain: withLog,
      stdin: stdin as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: new SizedStdout(80, 24) as unknown as NodeJS.WriteStream,
      env: {},
      testMode: true,
    });
  });
  await settle();
  const s: Session = { stdin, stdout, handle, controller, asked, frame: () => stripAnsi(stdout.lastFrame()) };
  sessions.push(s);
  return s;
}

afterEach(async () => {
  for (const s of sessions.splice(0)) {
    await act(async () => {
      s.handle.instance.unmount();
      await s.controller.close();
    });
  }
});

function expectFits(s: Session) {
  const lines = s.frame().split('\n');
  expect(lines.length).toBeLessThanOrEqual(s.stdout.rows - 1);
  for (const l of lines) expect(cells(l), l).toBeLessThanOrEqual(s.stdout.columns);
}
const flat = (s: Session) => s.frame().split('\n').map((l) => l.trim()).join(' ');

describe('e in the dashboard', () => {
  for (const [w, h] of [
    [60, 24],
    [200, 60],
  ] as const)
    it(`at ${w}×${h}: the host, then each unit and each check with its why and the exact command`, async () => {
      const s = await open([w, h], async (name) => fakeHostExplanation(SPEC, name));
      await waitFor(() => s.frame().includes('healthy'), 'the first answers', s.frame);
      expect(s.frame()).toMatch(/e why/);
      await press(s.stdin, KEYS.down, 'e');
      await waitFor(() => s.frame().includes('Why: kube-master-01'), 'the explanation', s.frame);
      expect(s.asked).toEqual(['kube-master-01']);
      expectFits(s);
      // The host: what it is for, its roles with their whys.
      expect(s.frame()).toMatch(/› kube-master-01 +kube-master · 10\.0\.0\.111/);
      expect(flat(s)).toContain('kube-master-01 is a kube-master machine of the cluster.');
      expect(flat(s)).toContain('role etcd etcd is the cluster store');
      // ↓: the unit, with its why and docs.
      await press(s.stdin, KEYS.down);
      expect(s.frame()).toMatch(/› etcd\.service +etcd/);
      expect(flat(s)).toContain('why: runs the etcd member of this host, listening for peers and clients over TLS.');
      expect(flat(s).replace(/ /g, '')).toContain('docs:https://etcd.io/docs/v3.5/op-guide/configuration/');
      expectFits(s);
      // ↓ (j): the check, with its why and the exact command it runs.
      await press(s.stdin, 'j');
      expect(s.frame()).toMatch(/› etcd member healthy +etcd/);
      expect(flat(s)).toContain('why: a member that answers /health over client TLS is serving reads and writes.');
      expect(flat(s).replace(/ /g, '')).toContain('runs: etcdctl --endpoints=https://10.0.0.101:2379 --cacert=/etc/etcd/ca.crt endpoint health'.replace(/ /g, ''));
      // The unit's why closes when the check opens.
      expect(flat(s)).not.toContain('listening for peers and clients');
      expectFits(s);
      // ↓ at the last entry stays there; ↑ (k) goes back.
      await press(s.stdin, KEYS.down, 'k');
      expect(s.frame()).toMatch(/› etcd\.service/);
      // esc closes; the list is back and the keys are the main screen's again.
      await press(s.stdin, KEYS.esc);
      expect(s.frame()).not.toContain('Why: kube-master-01');
      expect(s.frame()).toMatch(/ › [✓✗⊘○…?] kube-master-01/);
      expectFits(s);
    }, 30_000);

  it('? lists e; without an explainer e says so on the flash line; an error is shown, not a crash', async () => {
    const s = await open([100, 30]);
    await waitFor(() => s.frame().includes('healthy'), 'the first answers', s.frame);
    await press(s.stdin, '?');
    expect(s.frame()).toMatch(/e +explain the selected host: what it is for, each unit and check/);
    await press(s.stdin, KEYS.esc, 'e');
    expect(s.frame()).toContain('explanations are not available here');
    const t = await open([100, 30], async () => {
      throw new Error('no role named kube-master in this build');
    });
    await waitFor(() => t.frame().includes('healthy'), 'the first answers', t.frame);
    await press(t.stdin, 'e');
    await waitFor(() => t.frame().includes('✗ cannot explain etcd-01: no role named kube-master in this build'), 'the error', t.frame);
    await press(t.stdin, 'q');
    expect(t.frame()).not.toContain('cannot explain');
    expect(t.frame()).toContain('kcore-wizard dashboard');
  }, 30_000);
});
