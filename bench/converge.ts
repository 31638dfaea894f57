/**
 * Converge benchmark: first converge and no-op converge wall times.
 *  - the etcd role on 3 systemd machines (real etcd, TLS, systemd), when they can run here;
 *  - the engine itself on 4 and 30 light sshd hosts: facts + a role keeping 8 files per host.
 * Run: npx vite-node bench/converge.ts [--light-only]
 * Target: a no-op converge of 4 hosts under 1 s.
 */
import { randomBytes } from 'node:crypto';
import { filesTask, directoryTask } from '../src/engine/ops.js';
import { runConverge } from '../src/converge/run.js';
import type { Role } from '../src/engine/task.js';
import { bootstrapRole } from '../src/roles/bootstrap/index.js';
import { ROLES } from '../src/roles/index.js';
import * as testHosts from '../test/hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor, type Layout } from '../test/support/cluster.js';
import { buildLocalEtcdMirror } from '../test/support/mirror.js';
import { removeScratch } from '../test/support/scratch.js';

const payload = randomBytes(64 * 1024).toString('base64');
const facts: Role = { ...bootstrapRole, tasks: [bootstrapRole.tasks[0]!] };
const filesRole: Role = {
  name: 'files',
  hosts: (run) => run.hosts,
  tasks: [
    directoryTask('bench directory', [{ path: '/opt/kcore-bench', mode: 0o755 }]),
    filesTask('bench files', (ctx) =>
      Array.from({ length: 8 }, (_, i) => ({ path: `/opt/kcore-bench/f${i}`, content: `${ctx.host.name} ${i}\n${payload}`, mode: 0o644 })),
    ),
  ],
};

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

function layoutFor(n: number): Layout {
  const per = (g: number) => Math.floor(n / 3) + (g < n % 3 ? 1 : 0);
  return { etcd: per(0), 'kube-master': per(1), 'kube-worker': per(2) };
}

async function light(n: number) {
  // Machines listed by address (provider `existing`): 30 hosts exceed the Vagrant IP plan's 9 per group,
  // which the engine does not need.
  const names = Array.from({ length: n }, (_, i) => `host-${String(i + 1).padStart(2, '0')}`);
  const groups = ['etcd', 'kube-master', 'kube-worker'] as const;
  const [hosts, bootMs] = await timed(() => testHosts.startSshHosts({ count: n, names }));
  try {
    const layout = layoutFor(n);
    const spec = specForHosts(hosts, layout, (s) => {
      s.machines = hosts.hosts.map((h, i) => ({ name: h.name, address: h.ip, group: groups[i % 3]!, port: 22 }));
    });
    const ws = await workspaceFor(spec);
    const tasks = new Map<string, number[]>();
    const run = () =>
      runConverge({
        workspace: ws,
        spec,
        roles: [facts, filesRole],
        signal: new AbortController().signal,
        emit: (e) => {
          if (e.type === 'task-end') tasks.set(e.task, [...(tasks.get(e.task) ?? []), e.durationMs]);
        },
      });
    const [first, firstMs] = await timed(run);
    tasks.clear();
    const [noop, noopMs] = await timed(run);
    const per = [...tasks].map(([t, d]) => `${t} ${Math.round(d.reduce((a, b) => a + b, 0) / d.length)} ms`).join(', ');
    if (first.status !== 'ok' || noop.status !== 'ok' || noop.changed !== 0) throw new Error(`unexpected result: ${first.status}/${noop.status}/${noop.changed} changed`);
    console.log(`light  ${String(n).padStart(2)} hosts  boot ${(bootMs / 1000).toFixed(1)} s  first converge ${firstMs.toFixed(0)} ms (${first.changed} changed)  no-op converge ${noopMs.toFixed(0)} ms  (mean per task: ${per})`);
  } finally {
    await hosts.teardown();
    await removeScratch();
  }
}

async function etcd() {
  const start = (testHosts as Record<string, unknown>).startSystemdHosts as typeof testHosts.startSshHosts | undefined;
  if (!start) {
    console.log('etcd    3 hosts  skipped: systemd test hosts are not available in this build');
    return;
  }
  const layout = { etcd: 3, 'kube-master': 1, 'kube-worker': 1 };
  const plan = layoutHosts(layout).filter((h) => h.group === 'etcd');
  const mirror = await buildLocalEtcdMirror();
  const hosts = await start({ count: 3, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet) });
  try {
    const spec = specForHosts(hosts, layout, (s) => {
      s.versions.etcd = mirror.etcdVersion;
      s.artifacts.source = mirror.dir;
    });
    const ws = await workspaceFor(spec);
    const run = (tags?: string[]) => runConverge({ workspace: ws, spec, roles: ROLES, limit: ['etcd'], tags, signal: new AbortController().signal, emit: () => undefined });
    const [first, firstMs] = await timed(() => run());
    const [noop, noopMs] = await timed(() => run());
    const [, smokeMs] = await timed(() => run(['test']));
    const [noSmoke, noSmokeMs] = await timed(() => runConverge({ workspace: ws, spec, roles: ROLES, limit: ['etcd'], skipTags: ['test'], signal: new AbortController().signal, emit: () => undefined }));
    if (first.status !== 'ok' || noop.changed !== 0 || noSmoke.changed !== 0) throw new Error(`unexpected: ${first.status}, ${noop.changed} changed on rerun`);
    console.log(`etcd    3 hosts  first converge ${(firstMs / 1000).toFixed(1)} s (${first.changed} changed, incl. PKI)  no-op converge ${noopMs.toFixed(0)} ms (with smoke tests)  no-op without smoke tests ${noSmokeMs.toFixed(0)} ms  smoke tests alone ${smokeMs.toFixed(0)} ms`);
  } finally {
    await hosts.teardown();
    await removeScratch();
  }
}

const lightOnly = process.argv.includes('--light-only');
for (const n of [4, 30]) await light(n);
if (!lightOnly) await etcd();
