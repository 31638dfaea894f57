/**
 * The dashboard header's cluster line, against a controller on fake effects (no SSH; the real cluster
 * read is proven in test/integration/api-failover.test.ts): which master the cluster reads went through
 * (the first master: ✓; another: ! a failover; none: ✗), the nodes it read, and certificates expiring
 * within 30 days (!) or expired (✗), still there at 80 columns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createDashboardController, type DashboardController, type DashboardEffects } from '../../src/health/actions.js';
import { parseProbe } from '../../src/health/probe.js';
import type { HostInfo } from '../../src/engine/task.js';
import type { ApiView, CertsView } from '../../src/state/dashboard-store.js';
import { defaultSpec } from '../../src/spec/index.js';
import { startDashboard, type DashboardHandle } from '../../src/ui/dashboard/run.js';
import { FakeStdin, SizedStdout, cells, press, settle, stripAnsi, waitFor as waitUntil } from './harness.js';

const waitFor = (check: () => boolean, what: string, frame: () => string, ms = 10_000) => waitUntil(check, what, frame, ms);

function host(name: string, group: HostInfo['group'], octet: number): HostInfo {
  return { name, group, index: 1, ip: `10.0.0.${octet}`, sshAddress: '127.0.0.1', sshPort: 22, memory: 1, cpus: 1, target: { name, host: '127.0.0.1', port: 22, user: 'x' } };
}
const HOSTS = [host('kube-master-01', 'kube-master', 111), host('kube-master-02', 'kube-master', 112), host('kube-worker-01', 'kube-worker', 121)];
const spec = defaultSpec({ name: 'demo' });
spec.groups['kube-master'].count = 2;

interface Fake {
  api: Omit<ApiView, 'checkedAt' | 'first'>;
  certs: CertsView;
  refused: Set<string>;
  /** The master order each cluster read was asked to try. */
  reads: string[][];
}

const upUnits = (h: HostInfo) => (h.group === 'kube-master' ? ['kube-apiserver'] : ['kubelet']).map((u) => `U Id=${u}.service\nU LoadState=loaded\nU ActiveState=active\nU SubState=running`).join('\nU \n') + '\n';

function effects(fake: Fake): DashboardEffects {
  return {
    probe: (h) => (fake.refused.has(h.name) ? Promise.reject(new Error(`connect ECONNREFUSED ${h.ip}:22`)) : Promise.resolve(parseProbe(h, upUnits(h), Date.now(), 5))),
    async clusterRead(masters) {
      fake.reads.push(masters.map((m) => m.name));
      return { ...fake.api, first: 'kube-master-01', checkedAt: Date.now() };
    },
    loadCerts: async () => fake.certs,
    converge: () => Promise.reject(new Error('not in this test')),
    journal: async () => [],
    readCommands: async () => [],
    loadSmoke: async () => ({}),
    saveSmoke: async (u) => u,
    close: async () => undefined,
  };
}

const sessions: Array<{ handle: DashboardHandle; controller: DashboardController }> = [];

async function open(fake: Fake, cols = 120) {
  const controller = createDashboardController({ spec, hosts: HOSTS, effects: effects(fake), intervalMs: 60_000 });
  const stdin = new FakeStdin();
  const stdout = new SizedStdout(cols, 24);
  let handle!: DashboardHandle;
  await act(async () => {
    await controller.start();
    handle = startDashboard({
      store: controller.store,
      runStore: controller.runStore,
      actions: controller.actions,
      stdin: stdin as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: new SizedStdout(80, 24) as unknown as NodeJS.WriteStream,
      env: {},
      testMode: true,
    });
  });
  await settle();
  sessions.push({ handle, controller });
  const frame = () => stripAnsi(stdout.lastFrame());
  return { stdin, frame, header: () => frame().split('\n')[0]!, controller };
}

afterEach(async () => {
  for (const s of sessions.splice(0))
    await act(async () => {
      s.handle.instance.unmount();
      await s.controller.close();
    });
});

const healthyNodes = { total: 3, ready: 3, notReady: [] };
const noCerts: CertsView = { warnDays: 30, total: 22, expiring: [] };

describe('dashboard header: the API server the reads go through, and certificates close to expiry', () => {
  it('names the first master with ✓, then, after master-01 is passed over, master-02 with ! (a failover)', async () => {
    const fake: Fake = { api: { master: 'kube-master-01', server: 'https://10.0.0.111:6443', passed: [], via: 'kube-master-01', nodes: healthyNodes }, certs: noCerts, refused: new Set(), reads: [] };
    const s = await open(fake);
    await waitFor(() => s.header().includes("API kube"), 'the first cluster read', s.frame);
    expect(s.header()).toMatch(/✓ API kube-master-01 · nodes Ready 3\/3 {2}✓ hosts healthy 3\/3/);
    expect(s.header()).not.toMatch(/cert/);

    // master-01's host stops answering SSH and its API server is passed over: the next read is tried from
    // master-02 first, and goes through master-02.
    fake.refused.add('kube-master-01');
    fake.api = { master: 'kube-master-02', server: 'https://10.0.0.112:6443', passed: [{ name: 'kube-master-01', problem: 'connection refused' }], via: 'kube-master-02', nodes: { total: 3, ready: 2, notReady: ['kube-master-01 (NodeStatusUnknown)'] } };
    await press(s.stdin, 'r');
    await waitFor(() => s.header().includes('hosts healthy 2/3'), 'master-01 unreachable', s.frame);
    await press(s.stdin, 'r');
    await waitFor(() => s.header().includes('API kube-master-02'), 'the read through master-02', s.frame);
    expect(s.header()).toMatch(/! API kube-master-02 · nodes Ready 2\/3/);
    expect(fake.reads.at(-1)).toEqual(['kube-master-02', 'kube-master-01']);
  });

  it('says when no master answers', async () => {
    const fake: Fake = { api: { master: null, passed: [{ name: 'kube-master-01', problem: 'refused' }, { name: 'kube-master-02', problem: 'refused' }], via: 'kube-master-01' }, certs: noCerts, refused: new Set(), reads: [] };
    const s = await open(fake);
    await waitFor(() => s.header().includes('API'), 'the first cluster read', s.frame);
    expect(s.header()).toContain('✗ API: no master answers');
  });

  it('a certificate expiring within 30 days is a warning; an expired one an error; both fit 80 columns', async () => {
    const one: CertsView = { warnDays: 30, total: 22, expiring: [{ file: 'etcd/etcd-01.crt', subject: 'CN=etcd-01', daysLeft: 12 }] };
    const fake: Fake = { api: { master: 'kube-master-01', server: 'https://10.0.0.111:6443', passed: [], nodes: healthyNodes }, certs: one, refused: new Set(), reads: [] };
    const wide = await open({ ...fake }, 160);
    await waitFor(() => wide.header().includes('cert'), 'the certificates', wide.frame);
    expect(wide.header()).toContain('! cert etcd/etcd-01.crt expires in 12 d  ✓ API kube-master-01 · nodes Ready 3/3  ✓ hosts healthy 3/3');
    const s = await open(fake, 80);
    await waitFor(() => s.header().includes('cert'), 'the certificates', s.frame);
    // At 80 columns the short form, with the hosts' count and the API server still there.
    expect(s.header()).toContain('! 1 cert expires in 12 d  ✓ API kube-master-01  ✓ hosts healthy 3/3');
    for (const l of s.frame().split('\n')) expect(cells(l)).toBeLessThanOrEqual(80);

    fake.certs = { warnDays: 30, total: 22, expiring: [...one.expiring, { file: 'apiserver.crt', subject: 'CN=kube-apiserver', daysLeft: 3 }] };
    await press(s.stdin, 'r');
    await waitFor(() => s.header().includes('2 certs'), 'two expiring', s.frame);
    expect(s.header()).toContain('! 2 certs expire within 30 d');

    fake.certs = { warnDays: 30, total: 22, expiring: [{ file: 'apiserver.crt', subject: 'CN=kube-apiserver', daysLeft: -1 }] };
    await press(s.stdin, 'r');
    await waitFor(() => s.header().includes('EXPIRED'), 'expired', s.frame);
    expect(s.header()).toContain('✗ 1 cert EXPIRED');
  });
});
