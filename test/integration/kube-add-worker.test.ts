// "Adding a worker changes nothing on any other host", with the real engine and the real roles on real
// systemd machines (1 etcd member, 1 master, 1 worker, then a second worker added to kcore.yaml).
// Kubernetes binaries cannot be had here, so the Kubernetes nodes converge as far as the artifacts allow
// (as in kube-converge.test.ts): every certificate, kubeconfig, config and unit is in place, the binary
// tasks stop at their missing artifact. What is proven: after the worker is added, the plan (dry run)
// of every other host is exactly the plan it had before — task by task, change line by change line —
// and a real converge changes nothing on any of them (on etcd-01, which converges fully, the plan is
// empty), while the new worker gets its whole node. The control machine ("local") issues the new
// worker's certificates: that is the PKI on this machine, not another host.
import { readCgroupInfo } from '../../src/vagrant/preflight.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { buildLocalEtcdMirror, type Mirror } from '../support/mirror.js';
import { runConverge } from '../../src/converge/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { saveSpec, type ClusterSpec } from '../../src/spec/index.js';

const LAYOUT = { etcd: 1, 'kube-master': 1, 'kube-worker': 2 };
const NEW = 'kube-worker-02';
const OTHERS = ['etcd-01', 'kube-master-01', 'kube-worker-01'];
type End = Extract<EngineEvent, { type: 'task-end' }>;

let hosts: TestHosts;
let mirror: Mirror;
let before: ClusterSpec;
let after: ClusterSpec;
let ws: string;

async function run(spec: ClusterSpec, dryRun: boolean) {
  await saveSpec(ws, spec);
  const events: EngineEvent[] = [];
  const summary = await runConverge({ workspace: ws, spec, dryRun, skipTags: dryRun ? ['test'] : undefined, signal: new AbortController().signal, emit: (e) => events.push(e) });
  const ends = events.filter((e): e is End => e.type === 'task-end');
  /** Per host: each task's status and planned changes, in order. */
  const per = (h: string) => ends.filter((e) => e.host === h).map((e) => `${e.role} / ${e.task}: ${e.status}${e.wouldFail ? ' (would fail)' : ''}${e.changes.length ? `\n    ${e.changes.join('\n    ')}` : ''}`);
  return { summary, ends, per };
}

beforeAll(async () => {
  const can = await canRunHosts({ systemd: true });
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  mirror = await buildLocalEtcdMirror();
  const plan = layoutHosts(LAYOUT);
  hosts = await startSystemdHosts({ count: plan.length, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet) });
  const cgroupV1 = (await readCgroupInfo()).layout !== 2;
  after = specForHosts(hosts, LAYOUT, (s) => {
    s.kubelet.allowCgroupV1 = cgroupV1;
    s.versions.etcd = mirror.etcdVersion;
    s.artifacts.source = mirror.dir;
  });
  before = structuredClone(after);
  before.groups['kube-worker'].count = 1;
  before.machines = before.machines.filter((m) => m.name !== NEW);
  ws = await workspaceFor(before);
  // The cluster as far as it goes here, then once more so that only what cannot converge is left.
  await run(before, false);
  await run(before, false);
}, 900_000);

afterAll(async () => {
  await hosts?.teardown();
});

describe('adding a worker changes nothing on any other host (real engine, real roles, systemd machines)', () => {
  it('every other host plans exactly what it planned before; etcd-01 plans nothing; the new worker plans its whole node', { timeout: 600_000 }, async () => {
    const a = await run(before, true);
    const b = await run(after, true);
    for (const h of OTHERS) {
      expect(a.per(h).length, h).toBeGreaterThan(0);
      expect(b.per(h).join('\n'), h).toBe(a.per(h).join('\n'));
    }
    expect(b.ends.filter((e) => e.host === 'etcd-01' && (e.status === 'changed' || e.status === 'failed'))).toEqual([]);
    // Nothing of what can converge here is left to do on the others: only what the missing artifacts block.
    // (The master stops in kube-master at its server binaries, so its node part, kube-worker, never ran.)
    for (const [h, role] of [['kube-master-01', 'kube-master'], ['kube-worker-01', 'kube-worker']])
      for (const e of b.ends.filter((x) => x.host === h && x.role === role && /certificates|kubeconfigs|configuration|units|directories/.test(x.task))) expect(e.status, `${h} ${e.task}: ${e.changes.join('; ')}`).toBe('ok');
    const fresh = b.per(NEW).join('\n');
    for (const f of ['/etc/kubernetes/kubelet.kubeconfig', '/etc/kubernetes/pki/kubelet.key', '/etc/systemd/system/kubelet.service']) expect(fresh).toContain(`create ${f}`);
  });

  it('a real converge with the new worker changes nothing on the others and sets up the new one', { timeout: 600_000 }, async () => {
    const c = await run(after, false);
    const changed = c.ends.filter((e) => OTHERS.includes(e.host) && e.status === 'changed').map((e) => `${e.host} ${e.task}: ${e.changes.join('; ')}`);
    expect(changed).toEqual([]);
    expect(c.ends.some((e) => e.host === NEW && e.task === 'node kubeconfigs' && e.status === 'changed')).toBe(true);
    const k = await hosts.exec(NEW, 'stat -c "%n %a" /etc/kubernetes/kubelet.kubeconfig /etc/kubernetes/pki/kubelet.key');
    expect(k.stdout).toBe('/etc/kubernetes/kubelet.kubeconfig 600\n/etc/kubernetes/pki/kubelet.key 600\n');
  });
});
