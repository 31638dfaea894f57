// Pure runner logic with an in-memory connector: ordering, barriers, tags, limits, dry runs, recap.
// (The same runner is proven on real hosts in test/integration/engine.test.ts and etcd.test.ts.)
import { describe, expect, it } from 'vitest';
import { limitHosts, runRoles, taskSelected } from '../../src/engine/runner.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { task, TaskFailure, smokeTest, type HostInfo, type Role, type RunContext } from '../../src/engine/task.js';
import type { HostConnection } from '../../src/ssh/types.js';
import { SshError } from '../../src/ssh/errors.js';
import { defaultSpec, plannedHosts } from '../../src/spec/index.js';
import { pkiPaths } from '../../src/pki/paths.js';
import { createArtifactStore } from '../../src/engine/artifacts.js';

const spec = defaultSpec();
const hosts: HostInfo[] = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } }));

function ctx(dryRun = false, signal = new AbortController().signal): RunContext {
  return { spec, workspace: '/nonexistent', hosts, pki: pkiPaths('/nonexistent'), artifacts: createArtifactStore('/nonexistent', 'official'), dryRun, signal, facts: new Map(), hostsOf: (g) => hosts.filter((h) => h.group === g) };
}

const conn = (name: string): HostConnection => ({ target: { name, host: name, port: 22, user: 'core' } }) as HostConnection;

function connector(unreachable: string[] = []) {
  return {
    connection: async (t: { name: string }) => {
      if (unreachable.includes(t.name)) throw new SshError({ kind: 'unreachable', host: t.name, message: `${t.name}: connection refused`, hint: 'is the machine running?' } as never);
      return conn(t.name);
    },
  };
}

function record() {
  const events: EngineEvent[] = [];
  return { events, emit: (e: EngineEvent) => events.push(e), ends: () => events.filter((e): e is Extract<EngineEvent, { type: 'task-end' }> => e.type === 'task-end') };
}

const applied: string[] = [];
const state = new Map<string, number>();
const counter: Role = {
  name: 'counter',
  hosts: (run) => run.hosts,
  tasks: [
    task({
      name: 'set value',
      tags: ['config'],
      gather: async (c) => state.get(c.host.name) ?? 0,
      plan: (_c, v) => (v === 1 ? [] : [`set value ${v} → 1`]),
      apply: async (c) => {
        applied.push(c.host.name);
        state.set(c.host.name, 1);
      },
    }),
    smokeTest('value is 1', async (c) => {
      if (state.get(c.host.name) !== 1) throw new TaskFailure(`value on ${c.host.name} is ${state.get(c.host.name) ?? 0}`);
    }),
  ],
};

describe('task selection', () => {
  it('tags, role names, always and skip-tags', () => {
    expect(taskSelected({ tags: ['test'] }, 'etcd')).toBe(true);
    expect(taskSelected({ tags: ['test'] }, 'etcd', ['test'])).toBe(true);
    expect(taskSelected({ tags: [] }, 'etcd', ['test'])).toBe(false);
    expect(taskSelected({ tags: [] }, 'etcd', ['etcd'])).toBe(true);
    expect(taskSelected({ tags: ['always'] }, 'bootstrap', ['test'])).toBe(true);
    expect(taskSelected({ tags: ['test'] }, 'etcd', undefined, ['test'])).toBe(false);
    expect(taskSelected({ tags: [] }, 'etcd', undefined, ['etcd'])).toBe(false);
  });

  it('limit by host or group, unknown names reported', () => {
    expect(limitHosts(hosts, ['kube-worker']).hosts.map((h) => h.name)).toEqual(['kube-worker-01', 'kube-worker-02']);
    expect(limitHosts(hosts, ['etcd-01', 'nope']).unknown).toEqual(['nope']);
  });
});

describe('runner', () => {
  it('dry run plans without applying; a real run applies; a rerun changes nothing', async () => {
    state.clear();
    applied.length = 0;
    const dry = record();
    const s1 = await runRoles({ roles: [counter], run: ctx(true), connector: connector(), emit: dry.emit, skipTags: ['test'] });
    expect(s1.changed).toBe(4);
    expect(applied).toEqual([]);
    expect(dry.ends().map((e) => e.changes)).toEqual(Array(4).fill(['set value 0 → 1']));

    const r2 = record();
    const s2 = await runRoles({ roles: [counter], run: ctx(), connector: connector(), emit: r2.emit });
    expect(s2.status).toBe('ok');
    expect(applied.sort()).toEqual(hosts.map((h) => h.name).sort());
    expect(Object.values(s2.recap).map((r) => [r.state, r.changed, r.ok])).toEqual(Array(4).fill(['changed', 1, 1]));

    const s3 = await runRoles({ roles: [counter], run: ctx(), connector: connector(), emit: () => undefined });
    expect(s3.changed).toBe(0);
    expect(Object.values(s3.recap).every((r) => r.state === 'ok')).toBe(true);
  });

  it('roles are barriers; a failed host gets no later roles; unreachable hosts are reported', async () => {
    const order: string[] = [];
    const mk = (name: string, failOn?: string): Role => ({
      name,
      hosts: (run) => run.hosts,
      tasks: [
        task({
          name: `${name} task`,
          gather: async (c) => {
            order.push(`${name}:${c.host.name}`);
            await new Promise((r) => setTimeout(r, c.host.name.endsWith('01') ? 20 : 1));
            if (c.host.name === failOn) throw new TaskFailure('boom');
          },
        }),
      ],
    });
    const r = record();
    const s = await runRoles({ roles: [mk('one', 'kube-worker-01'), mk('two')], run: ctx(), connector: connector(['etcd-01']), emit: r.emit });
    const lastOne = Math.max(...order.map((o, i) => (o.startsWith('one:') ? i : -1)));
    const firstTwo = order.findIndex((o) => o.startsWith('two:'));
    expect(lastOne).toBeLessThan(firstTwo);
    expect(order.filter((o) => o.startsWith('two:')).sort()).toEqual(['two:kube-master-01', 'two:kube-worker-02']);
    expect(s.status).toBe('failed');
    expect(s.failedHosts.sort()).toEqual(['etcd-01', 'kube-worker-01']);
    expect(s.recap['etcd-01']).toMatchObject({ state: 'unreachable', unreachable: 1 });
    expect(r.ends().find((e) => e.host === 'etcd-01')).toMatchObject({ task: 'connect', status: 'unreachable', message: 'etcd-01: connection refused\n  → is the machine running?' });
    expect(r.events.at(-1)).toMatchObject({ type: 'run-end', status: 'failed' });
  });

  it('verify runs after a change only (not on a dry run); a failed verify fails the task and stops the host', async () => {
    const calls: string[] = [];
    const role: Role = {
      name: 'verified',
      hosts: (run) => run.hostsOf('etcd'),
      tasks: [
        task({
          name: 'converged already',
          gather: async () => 'same',
          plan: () => [],
          apply: async () => void calls.push('apply unchanged'),
          verify: async () => void calls.push('verify unchanged'),
        }),
        task({
          name: 'start service',
          gather: async () => 'stopped',
          plan: () => ['start service'],
          apply: async () => void calls.push('apply'),
          verify: async () => {
            calls.push('verify');
            throw new TaskFailure('service did not come up within 5 s');
          },
        }),
        task({ name: 'after', gather: async () => void calls.push('after') }),
      ],
    };
    const dry = record();
    await runRoles({ roles: [role], run: ctx(true), connector: connector(), emit: dry.emit });
    expect(calls).toEqual(['after']);
    calls.length = 0;
    const r = record();
    const s = await runRoles({ roles: [role], run: ctx(), connector: connector(), emit: r.emit });
    expect(calls).toEqual(['apply', 'verify']);
    expect(r.ends().map((e) => [e.task, e.status, e.message])).toEqual([
      ['converged already', 'ok', undefined],
      ['start service', 'failed', 'service did not come up within 5 s'],
    ]);
    expect(s.status).toBe('failed');
    expect(s.recap['etcd-01']).toMatchObject({ state: 'failed', failed: 1, ok: 1 });
  });

  it('skipped tasks and internal errors are reported as such', async () => {
    const role: Role = {
      name: 'odd',
      hosts: (run) => run.hostsOf('etcd'),
      tasks: [
        task({ name: 'skipped', skip: () => 'not on this OS', gather: async () => undefined }),
        task({ name: 'bug', gather: async () => { throw new TypeError('x is undefined'); } }),
      ],
    };
    const r = record();
    const s = await runRoles({ roles: [role], run: ctx(), connector: connector(), emit: r.emit });
    expect(r.ends().map((e) => [e.task, e.status, e.message])).toEqual([
      ['skipped', 'skipped', 'not on this OS'],
      ['bug', 'failed', 'internal error: x is undefined'],
    ]);
    expect(s.recap['etcd-01']).toMatchObject({ skipped: 1, failed: 1, state: 'failed' });
  });
});
