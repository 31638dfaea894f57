// Kept connections, started early: a converge begins every host's SSH handshake at once, when the run
// starts, not when the first role that needs the host comes; a host that cannot be reached is reported by
// the role that needs it (as a `connect` failure, at once, without a second round of attempts), never as an
// unhandled rejection. Real sshd hosts (network namespaces).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';
import { runConverge } from '../../src/converge/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { task, type Role } from '../../src/engine/task.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import type { ClusterSpec } from '../../src/spec/index.js';

const LAYOUT = { etcd: 1, 'kube-master': 1, 'kube-worker': 2 };
const FIRST_ROLE_MS = 3000;

let hosts: TestHosts;
let spec: ClusterSpec;
let ws: string;

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const plan = layoutHosts(LAYOUT);
  hosts = await startSshHosts({ count: plan.length, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet) });
  // kube-worker-02's sshd is on 22; the spec says 2222, where nothing listens: refused, at once.
  spec = specForHosts(hosts, LAYOUT, (s) => {
    s.machines = s.machines.map((m) => (m.name === 'kube-worker-02' ? { ...m, port: 2222 } : m));
  });
  ws = await workspaceFor(spec);
});

afterAll(async () => {
  await hosts?.teardown();
  if (ws) rmSync(ws, { recursive: true, force: true });
});

const firstRole: Role = {
  name: 'first',
  hosts: (run) => run.hostsOf('etcd'),
  tasks: [task({ name: 'slow look', gather: () => new Promise<void>((r) => setTimeout(r, FIRST_ROLE_MS)) })],
};
const secondRole: Role = {
  name: 'second',
  hosts: (run) => run.hosts,
  tasks: [task({ name: 'look', gather: async (ctx) => void (await ctx.conn.run('true')) })],
};

describe('handshakes start with the run', () => {
  it('every host is connected while the first role still runs on etcd only; the unreachable one is reported by the role that needs it, at once', async () => {
    const events: EngineEvent[] = [];
    const summary = await runConverge({ workspace: ws, spec, roles: [firstRole, secondRole], signal: new AbortController().signal, emit: (e) => events.push(e) });
    const firstEnd = events.find((e) => e.type === 'task-end' && e.role === 'first')!;
    const keys = events.filter((e): e is Extract<EngineEvent, { type: 'host-key' }> => e.type === 'host-key');
    // Host keys are checked in the handshake: all three reachable hosts' before the first role ended.
    expect(keys.map((k) => k.host).sort()).toEqual(['etcd-01', 'kube-master-01', 'kube-worker-01']);
    for (const k of keys) expect(k.at, k.host).toBeLessThan(firstEnd.at);
    expect(events[0]!.type).toBe('run-start');

    const start = events.find((e) => e.type === 'host-start' && e.role === 'second' && e.host === 'kube-worker-02')!;
    const connect = events.find((e): e is Extract<EngineEvent, { type: 'task-end' }> => e.type === 'task-end' && e.host === 'kube-worker-02')!;
    expect(connect).toMatchObject({ role: 'second', task: 'connect', status: 'unreachable' });
    expect(connect.message).toMatch(/2222/);
    expect(connect.message!.match(/after 3 attempts/g)).toHaveLength(1);
    // The early attempt's outcome is used: no new round of attempts (with backoff) once the role comes.
    expect(connect.at - start.at).toBeLessThan(500);
    expect(summary.failedHosts).toEqual(['kube-worker-02']);
    for (const h of ['etcd-01', 'kube-master-01', 'kube-worker-01']) expect(summary.recap[h]!.state).toBe('ok');
  });
});
