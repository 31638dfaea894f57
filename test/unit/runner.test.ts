// Pure runner logic with an in-memory connector: ordering, barriers, tags, limits, dry runs, recap.
// (The same runner is proven on real hosts in test/integration/engine.test.ts and etcd.test.ts.)
import { describe, expect, it } from 'vitest';
import { limitHosts, runRoles, taskSelected } from '../../src/engine/runner.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { blocked, probeTask, smokeProbe, task, TaskFailure, smokeTest, type HostInfo, type Role, type RunContext } from '../../src/engine/task.js';
import { batchScript, splitBatch } from '../../src/engine/ops.js';
import { spawnSync } from 'node:child_process';
import type { HostConnection } from '../../src/ssh/types.js';
import { SshError } from '../../src/ssh/errors.js';
import { createJsonRenderer, createPlainRenderer } from '../../src/output/plain.js';
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

  it('a firstAvailable role runs on the first of its hosts still in the run (add-ons from master-02 when master-01 is down)', async () => {
    const ran: string[] = [];
    const probe: Role = { name: 'probe', hosts: (run) => run.hosts, tasks: [task({ name: 'probe', gather: async () => undefined })] };
    const one: Role = {
      name: 'one',
      hosts: (run) => run.hosts,
      firstAvailable: true,
      tasks: [task({ name: 'one task', gather: async (c) => void ran.push(c.host.name) })],
    };
    await runRoles({ roles: [probe, one], run: ctx(), connector: connector(), emit: () => undefined });
    expect(ran).toEqual(['etcd-01']);
    ran.length = 0;
    // etcd-01 unreachable in the first role: the next of the list takes over.
    const s = await runRoles({ roles: [probe, one], run: ctx(), connector: connector(['etcd-01']), emit: () => undefined });
    expect(ran).toEqual(['kube-master-01']);
    expect(s.failedHosts).toEqual(['etcd-01']);
    ran.length = 0;
    // --limit still applies: the first host inside it.
    await runRoles({ roles: [probe, one], run: ctx(), connector: connector(), emit: () => undefined, limit: ['kube-worker-02'] });
    expect(ran).toEqual(['kube-worker-02']);
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

describe('blocked tasks ("would fail here")', () => {
  // gather blocks on the first master, plan blocks on the first worker; each host also has a task after it
  // and a later role, so the tests see what runs past the blocker.
  function roles(calls: string[]): Role[] {
    return [
      {
        name: 'first',
        hosts: (run) => run.hosts.filter((h) => h.group !== 'etcd'),
        tasks: [
          task({
            name: 'needs an artifact',
            gather: async (c) => {
              calls.push(`gather ${c.host.name}`);
              if (c.host.name === 'kube-master-01') throw blocked('kubernetes-server 1.37.1 is not available: not in SHA256SUMS', 'put it in the mirror', ['install /opt/bin/kube-apiserver: ARTIFACT MISSING']);
              return c.host.name;
            },
            plan: (c, name) => {
              if (name === 'kube-worker-01') throw blocked('kube-worker-01 lacks runc: containerd needs runc', 'apt-get install runc');
              return [`write ${name}`];
            },
            apply: async (c) => void calls.push(`apply ${c.host.name}`),
          }),
          task({ name: 'after it', gather: async (c) => void calls.push(`after ${c.host.name}`), plan: (c) => [`more on ${c.host.name}`], apply: async () => undefined }),
          task({ name: 'sees unapplied', gather: async (c) => void calls.push(`unapplied ${c.host.name} ${c.unapplied()}`) }),
        ],
      },
      { name: 'later', hosts: (run) => run.hosts, tasks: [task({ name: 'later task', gather: async (c) => void calls.push(`later ${c.host.name}`) })] },
    ];
  }

  it('a dry run reports "would fail here", plans the host\'s other tasks and later roles, and fails the host at the end', async () => {
    const calls: string[] = [];
    const r = record();
    const s = await runRoles({ roles: roles(calls), run: ctx(true), connector: connector(), emit: r.emit });
    const master = r.ends().filter((e) => e.host === 'kube-master-01');
    expect(master.map((e) => [e.role, e.task, e.status, e.wouldFail ?? false])).toEqual([
      ['first', 'needs an artifact', 'failed', true],
      ['first', 'after it', 'changed', false],
      ['first', 'sees unapplied', 'ok', false],
      ['later', 'later task', 'ok', false],
    ]);
    expect(master[0]).toMatchObject({ message: 'kubernetes-server 1.37.1 is not available: not in SHA256SUMS\n  → put it in the mirror', changes: ['install /opt/bin/kube-apiserver: ARTIFACT MISSING'] });
    // blocked in plan, the same way
    expect(r.ends().find((e) => e.host === 'kube-worker-01' && e.task === 'needs an artifact')).toMatchObject({ status: 'failed', wouldFail: true, changes: [], message: 'kube-worker-01 lacks runc: containerd needs runc\n  → apt-get install runc' });
    expect(calls).toContain('later kube-worker-01');
    // what a dry run planned but did not apply counts (the blocked task counts once, with its changes)
    expect(calls).toContain('unapplied kube-master-01 2');
    expect(calls).toContain('unapplied kube-worker-02 2');
    expect(calls.filter((c) => c.startsWith('apply'))).toEqual([]);
    // the host fails at the end of the run, and its role's host-end already says so
    expect(s.status).toBe('failed');
    expect(s.failedHosts.sort()).toEqual(['kube-master-01', 'kube-worker-01']);
    expect(s.recap['kube-master-01']).toMatchObject({ state: 'failed', failed: 1, changed: 1, ok: 2 });
    expect(s.recap['kube-worker-02']).toMatchObject({ state: 'changed', failed: 0 });
    expect(r.events.filter((e) => e.type === 'host-end' && e.host === 'kube-master-01').map((e) => (e as { state: string }).state)).toEqual(['failed', 'failed']);
  });

  it('a real run fails the blocked task with its message and stops that host', async () => {
    const calls: string[] = [];
    const r = record();
    const s = await runRoles({ roles: roles(calls), run: ctx(), connector: connector(), emit: r.emit });
    expect(r.ends().filter((e) => e.host === 'kube-master-01').map((e) => [e.task, e.status, e.message, e.wouldFail])).toEqual([
      ['needs an artifact', 'failed', 'kubernetes-server 1.37.1 is not available: not in SHA256SUMS\n  → put it in the mirror', undefined],
    ]);
    expect(r.ends().filter((e) => e.host === 'kube-worker-01').map((e) => [e.task, e.status])).toEqual([['needs an artifact', 'failed']]);
    expect(calls.filter((c) => /kube-master-01|kube-worker-01/.test(c))).toEqual(['gather kube-master-01', 'gather kube-worker-01']);
    expect(calls).toEqual(expect.arrayContaining(['apply kube-worker-02', 'unapplied kube-worker-02 0', 'later kube-worker-02', 'later etcd-01']));
    expect(s.failedHosts.sort()).toEqual(['kube-master-01', 'kube-worker-01']);
  });

  it('a plain failure in a dry run still stops the host (only a blocked task is planned past)', async () => {
    const calls: string[] = [];
    const role: Role = {
      name: 'plain',
      hosts: (run) => run.hostsOf('etcd'),
      tasks: [
        task({ name: 'fails', gather: async () => { throw new TaskFailure('etcd-01 answers nonsense'); } }),
        task({ name: 'next', gather: async () => void calls.push('next') }),
      ],
    };
    const s = await runRoles({ roles: [role], run: ctx(true), connector: connector(), emit: () => undefined });
    expect(calls).toEqual([]);
    expect(s.recap['etcd-01']).toMatchObject({ state: 'failed', failed: 1 });
  });
});

describe('stop at the first failure, tags and limit', () => {
  it('a host stops at its first failed task while the other hosts do every task', async () => {
    const calls: string[] = [];
    const role: Role = {
      name: 'steps',
      hosts: (run) => run.hosts,
      tasks: ['a', 'b', 'c'].map((n) =>
        task({
          name: n,
          gather: async (c) => {
            calls.push(`${n} ${c.host.name}`);
            if (n === 'b' && c.host.name === 'etcd-01') throw new TaskFailure('b broke');
          },
        }),
      ),
    };
    const s = await runRoles({ roles: [role], run: ctx(), connector: connector(), emit: () => undefined });
    expect(calls.filter((c) => c.endsWith('etcd-01'))).toEqual(['a etcd-01', 'b etcd-01']);
    expect(calls.filter((c) => c.endsWith('kube-worker-02'))).toEqual(['a kube-worker-02', 'b kube-worker-02', 'c kube-worker-02']);
    expect(s.recap['etcd-01']).toMatchObject({ state: 'failed', ok: 1, failed: 1 });
  });

  it('--tags, --skip-tags and --limit choose the tasks and hosts a run touches; a dry run skips smoke tests', async () => {
    const calls: string[] = [];
    const mk = (name: string, tags?: string[]) => task({ name, tags, gather: async (c) => void calls.push(`${name} ${c.host.name}`) });
    const role: Role = { name: 'tagged', hosts: (run) => run.hosts, tasks: [mk('facts', ['always']), mk('config', ['config']), mk('other'), smokeTest('check', async (c) => void calls.push(`check ${c.host.name}`))] };
    const r = record();
    await runRoles({ roles: [role], run: ctx(), connector: connector(), emit: r.emit, tags: ['config'], limit: ['kube-worker'] });
    expect(calls.sort()).toEqual(['config kube-worker-01', 'config kube-worker-02', 'facts kube-worker-01', 'facts kube-worker-02']);
    expect(r.events[0]).toMatchObject({ type: 'run-start', hosts: [{ name: 'kube-worker-01' }, { name: 'kube-worker-02' }] });
    calls.length = 0;
    await runRoles({ roles: [role], run: ctx(), connector: connector(), emit: () => undefined, skipTags: ['config'], limit: ['etcd-01'] });
    expect(calls).toEqual(['facts etcd-01', 'other etcd-01', 'check etcd-01']);
    calls.length = 0;
    await runRoles({ roles: [role], run: ctx(true), connector: connector(), emit: () => undefined, limit: ['etcd-01'] });
    expect(calls).toEqual(['facts etcd-01', 'config etcd-01', 'other etcd-01']);
  });
});

describe('roles that need other roles', () => {
  const gathered: string[] = [];
  const masters = (failOn: string[], blockOn: string[] = []): Role => ({
    name: 'kube-master',
    hosts: (run) => run.hostsOf('kube-master'),
    tasks: [
      task({
        name: 'api server',
        gather: async (c) => {
          if (failOn.includes(c.host.name)) throw new TaskFailure(`${c.host.name}: kube-apiserver did not start`);
          if (blockOn.includes(c.host.name)) throw blocked(`${c.host.name}: kubernetes-server missing`);
        },
      }),
    ],
  });
  // `needs` on one task (the local role's API check) and on a whole role (add-ons).
  const local: Role = {
    name: 'kubectl',
    local: true,
    serves: ['kube-master'],
    hosts: () => [],
    tasks: [task({ name: 'kubeconfig', gather: async () => void gathered.push('kubeconfig') }), task({ name: 'wait for /readyz', needs: ['kube-master'], gather: async () => void gathered.push('kubectl') })],
  };
  const addons: Role = { name: 'addons', hosts: (run) => run.hostsOf('kube-worker'), needs: ['kube-master'], tasks: [task({ name: 'coredns', gather: async (c) => void gathered.push(`addons ${c.host.name}`) })] };
  const spec2 = (() => {
    const s = defaultSpec();
    s.groups['kube-master'].count = 2;
    return s;
  })();
  const hosts2: HostInfo[] = plannedHosts(spec2).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } }));
  const ctx2 = (dryRun = false): RunContext => ({ ...ctx(dryRun), spec: spec2, hosts: hosts2, hostsOf: (g) => hosts2.filter((h) => h.group === g) });

  it('when every master failed, the roles that need one are skipped at once, naming the failed hosts; the run fails', async () => {
    gathered.length = 0;
    const r = record();
    const t0 = Date.now();
    const s = await runRoles({ roles: [masters(['kube-master-01', 'kube-master-02']), local, addons], run: ctx2(), connector: connector(), emit: r.emit });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(gathered).toEqual(['kubeconfig']);
    const why = 'skipped: needs kube-master on at least one host, and kube-master failed on kube-master-01, kube-master-02';
    expect(r.ends().filter((e) => e.status === 'skipped').map((e) => [e.host, e.role, e.task, e.message])).toEqual([
      ['local', 'kubectl', 'wait for /readyz', why],
      ['kube-worker-01', 'addons', 'addons: prerequisites', why],
      ['kube-worker-02', 'addons', 'addons: prerequisites', why],
    ]);
    expect(s.status).toBe('failed');
    expect(s.failedHosts.sort()).toEqual(['kube-master-01', 'kube-master-02']);
    expect(s.recap.local).toMatchObject({ state: 'ok', skipped: 1 });
  });

  it('one master that succeeded is enough; a master that failed in an earlier role is named with it', async () => {
    gathered.length = 0;
    await runRoles({ roles: [masters(['kube-master-01']), local, addons], run: ctx2(), connector: connector(), emit: () => undefined });
    expect(gathered.sort()).toEqual(['addons kube-worker-01', 'addons kube-worker-02', 'kubeconfig', 'kubectl']);

    gathered.length = 0;
    const r = record();
    const early: Role = { name: 'bootstrap', hosts: (run) => run.hosts, tasks: [task({ name: 'facts', gather: async (c) => { if (c.host.name === 'kube-master-01') throw new TaskFailure('no facts'); } })] };
    await runRoles({ roles: [early, masters(['kube-master-02']), local], run: ctx2(), connector: connector(), emit: r.emit });
    expect(gathered).toEqual(['kubeconfig']);
    expect(r.ends().find((e) => e.role === 'kubectl' && e.status === 'skipped')?.message).toBe('skipped: needs kube-master on at least one host, and kube-master failed on kube-master-01 (in bootstrap), kube-master-02');
  });

  it('a dry run whose masters would block still plans the roles that need them; a needed role not in the run is not checked', async () => {
    gathered.length = 0;
    const s = await runRoles({ roles: [masters([], ['kube-master-01', 'kube-master-02']), local, addons], run: ctx2(true), connector: connector(), emit: () => undefined });
    expect(gathered.sort()).toEqual(['addons kube-worker-01', 'addons kube-worker-02', 'kubeconfig', 'kubectl']);
    expect(s.failedHosts.sort()).toEqual(['kube-master-01', 'kube-master-02']);

    gathered.length = 0;
    await runRoles({ roles: [masters(['kube-master-01', 'kube-master-02']), addons], run: ctx2(), connector: connector(), emit: () => undefined, limit: ['kube-worker'] });
    expect(gathered.sort()).toEqual(['addons kube-worker-01', 'addons kube-worker-02']);
  });
});

describe('plain and JSON output of a blocked task', () => {
  it('a dry run prints WOULD FAIL with the reason and hint; JSON carries wouldFail', async () => {
    const role: Role = {
      name: 'bins',
      hosts: (run) => run.hostsOf('etcd'),
      tasks: [task({ name: 'etcd binaries', gather: async () => { throw blocked('etcd 3.6.5 is not available: not in SHA256SUMS', 'put it in the mirror', ['install /opt/bin/etcd: ARTIFACT MISSING']); } })],
    };
    let text = '';
    let json = '';
    const plain = createPlainRenderer((s) => void (text += s));
    const lines = createJsonRenderer((s) => void (json += s));
    await runRoles({ roles: [role], run: ctx(true), connector: connector(), emit: (e) => (plain(e), lines(e)) });
    expect(text).toMatch(/\n {3}etcd-01 +WOULD FAIL +etcd binaries\n +- install \/opt\/bin\/etcd: ARTIFACT MISSING\n +etcd 3\.6\.5 is not available: not in SHA256SUMS\n +→ put it in the mirror\n/);
    expect(text).toMatch(/etcd-01 +failed +ok=0 changed=0 failed=1/);
    const end = json.split('\n').filter(Boolean).map((l) => JSON.parse(l) as EngineEvent).find((e) => e.type === 'task-end');
    expect(end).toMatchObject({ status: 'failed', wouldFail: true, changes: ['install /opt/bin/etcd: ARTIFACT MISSING'] });

    text = '';
    await runRoles({ roles: [role], run: ctx(), connector: connector(), emit: plain });
    expect(text).toMatch(/etcd-01 +FAILED +etcd binaries/);
    expect(text).not.toContain('WOULD FAIL');
  });
});

describe('batched probes', () => {
  // The batch script is plain POSIX sh: run it here with /bin/sh, as the hosts' sudo sh -c would.
  const sh = (script: string) => {
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status ?? -1 };
  };

  it('frames each probe\'s stdout, stderr and exit status; an exit ends only its own probe; a cut-off part is missing', () => {
    const script = batchScript(['echo a; echo oops >&2; exit 3', 'printf "no newline"', 'cat <<X\nhello\nX\n# a comment last'], 'n0nce');
    const r = sh(script);
    expect(r.exitCode).toBe(0);
    expect(splitBatch(r.stdout, r.stderr, 3, 'n0nce')).toEqual([
      { stdout: 'a\n', stderr: 'oops\n', exitCode: 3 },
      { stdout: 'no newline', stderr: '', exitCode: 0 },
      { stdout: 'hello\n', stderr: '', exitCode: 0 },
    ]);
    // Output that only looks like a marker (another nonce) does not split a part.
    const lookalike = sh(batchScript(["echo '@@kcore-probe-other end 0 0'; echo '@@kcore-probe-other done 0' >&2"], 'n1'));
    expect(splitBatch(lookalike.stdout, lookalike.stderr, 1, 'n1')).toEqual([{ stdout: '@@kcore-probe-other end 0 0\n', stderr: '@@kcore-probe-other done 0\n', exitCode: 0 }]);
    const cut = r.stdout.slice(0, r.stdout.indexOf('@@kcore-probe-n0nce end 1'));
    expect(splitBatch(cut, r.stderr, 3, 'n0nce').map((p) => p?.exitCode ?? null)).toEqual([3, null, null]);
  });

  it('a role\'s probes on a host run in one exec; after an applied change the rest are probed again; each keeps its verdict', async () => {
    const execs: string[][] = [];
    const files = new Map<string, string>();
    const localConn = (name: string) =>
      ({
        target: { name, host: name, port: 22, user: 'core' },
        exec: async (script: string, o: { sudo?: boolean }) => {
          execs.push([name, o.sudo ? 'sudo' : 'user', script]);
          // Each probe prints the state this fake host is in.
          const r = sh(script.replace(/STATE\(([a-z]+)\)/g, (_m, k: string) => `echo ${files.get(`${name}:${k}`) ?? 'none'}`));
          return { ...r, durationMs: 1 };
        },
      }) as unknown as HostConnection;
    const seen: string[] = [];
    const probeOf = (k: string, want: string) =>
      probeTask({
        name: `${k} is ${want}`,
        probe: () => ({ script: `STATE(${k})`, parse: (o) => o.stdout.trim() }),
        plan: (c, have) => (seen.push(`${c.host.name} ${k}=${have}`), have === want ? [] : [`set ${k} to ${want}`]),
        apply: async (c) => void files.set(`${c.host.name}:${k}`, want),
      });
    const role: Role = {
      name: 'probed',
      hosts: (run) => run.hostsOf('etcd'),
      tasks: [
        probeOf('a', '1'),
        probeOf('b', '1'),
        probeTask({ name: 'skipped one', skip: () => 'not here', probe: () => ({ script: 'echo never', parse: () => undefined }) }),
        // Not the text of a's own probe: that one would run once for both (next test).
        smokeProbe('a is still 1', (c) => ({ script: 'STATE(a); true', parse: (o) => { if (o.stdout.trim() !== '1') throw new TaskFailure(`a on ${c.host.name} is ${o.stdout.trim()}`, 'set it'); } })),
        smokeProbe('b is 2 (fails)', (c) => ({ script: 'STATE(b); echo why >&2; exit 4', parse: (o) => { throw new TaskFailure(`b on ${c.host.name}: exit ${o.exitCode}, ${o.stderr.trim()}`); } })),
      ],
    };
    const conn2 = { connection: async (t: { name: string }) => localConn(t.name) };
    files.set('etcd-01:b', '1');
    const r = record();
    await runRoles({ roles: [role], run: ctx(), connector: conn2, emit: r.emit });
    // First batch: a, b and both smoke probes (not the skipped one). a changed: b is probed again, and
    // the smoke probes wait for their turn (one batch of both), after every change of the role.
    expect(execs.map((e) => [e[1], (e[2]!.match(/STATE\(/g) ?? []).length, e[2]!.includes('echo never')])).toEqual([
      ['sudo', 4, false],
      ['sudo', 1, false],
      ['sudo', 2, false],
    ]);
    expect(seen).toEqual(['etcd-01 a=none', 'etcd-01 b=1']);
    expect(r.ends().map((e) => [e.task, e.status, e.message])).toEqual([
      ['a is 1', 'changed', undefined],
      ['b is 1', 'ok', undefined],
      ['skipped one', 'skipped', 'not here'],
      ['a is still 1', 'ok', undefined],
      ['b is 2 (fails)', 'failed', 'b on etcd-01: exit 4, why'],
    ]);
    // A no-op run: one exec.
    execs.length = 0;
    await runRoles({ roles: [role], run: ctx(), connector: conn2, emit: () => undefined });
    expect(execs).toHaveLength(1);
  });

  it('probes with the same script run it once in the batch, and each reads the output with its own verdict', async () => {
    const execs: string[] = [];
    const conn = {
      connection: async (t: { name: string }) =>
        ({
          target: { name: t.name, host: t.name, port: 22, user: 'core' },
          exec: async (script: string) => (execs.push(script), { ...sh(script), durationMs: 1 }),
        }) as unknown as HostConnection,
    };
    const shared = 'echo ran-once >> /dev/null; echo x=1; echo y=2';
    const field = (o: { stdout: string }, k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(o.stdout)?.[1];
    const role: Role = {
      name: 'shared',
      hosts: (run) => run.hostsOf('etcd'),
      tasks: [
        smokeProbe('x is 1', () => ({ script: shared, parse: (o) => { if (field(o, 'x') !== '1') throw new TaskFailure('x is not 1'); } })),
        smokeProbe('on its own', () => ({ script: 'echo z', parse: (o) => { if (o.stdout.trim() !== 'z') throw new TaskFailure('no z'); } })),
        smokeProbe('y is 3 (fails)', () => ({ script: shared, parse: (o) => { throw new TaskFailure(`y is ${field(o, 'y')}`); } })),
      ],
    };
    const r = record();
    await runRoles({ roles: [role], run: ctx(), connector: conn, emit: r.emit });
    expect(execs).toHaveLength(1);
    expect(execs[0]!.split(shared).length - 1).toBe(1);
    expect(execs[0]).toContain('echo z');
    expect(r.ends().map((e) => [e.task, e.status, e.message])).toEqual([
      ['x is 1', 'ok', undefined],
      ['on its own', 'ok', undefined],
      ['y is 3 (fails)', 'failed', 'y is 2'],
    ]);
  });

  describe('read ahead: the first batch of a role also asks what the host\'s next role\'s probes ask', () => {
    // A fake host: STATE(k) prints the value of k on it; every exec is recorded with the keys it asked.
    const three = hosts.slice(0, 3).map((h) => h.name);
    const setup = () => {
      const execs: Array<{ host: string; asked: string[] }> = [];
      const files = new Map<string, string>();
      const connector2 = {
        connection: async (t: { name: string }) =>
          ({
            target: { name: t.name, host: t.name, port: 22, user: 'core' },
            exec: async (script: string) => {
              execs.push({ host: t.name, asked: [...script.matchAll(/STATE\(([a-z]+)\)/g)].map((m) => m[1]!) });
              return { ...sh(script.replace(/STATE\(([a-z]+)\)/g, (_m, k: string) => `echo ${files.get(`${t.name}:${k}`) ?? 'none'}`)), durationMs: 1 };
            },
          }) as unknown as HostConnection,
      };
      const seen: string[] = [];
      const probeOf = (k: string, want: string, extra: Partial<ReturnType<typeof probeTask<string>>> = {}) =>
        probeTask<string>({
          name: `${k} is ${want}`,
          probe: () => ({ script: `STATE(${k})`, parse: (o) => o.stdout.trim() }),
          plan: (c, have) => (seen.push(`${c.host.name} ${k}=${have}`), have === want ? [] : [`set ${k} to ${want}`]),
          apply: async (c) => void files.set(`${c.host.name}:${k}`, want),
          ...extra,
        });
      const kept: string[] = [];
      const first: Role = {
        name: 'first',
        hosts: (run) => run.hosts.slice(0, 3),
        // Like the bootstrap's facts: what it gathered is kept for the later roles.
        tasks: [probeOf('a', '1', { keep: (c, v) => void (kept.push(`${c.host.name} a=${v}`), c.run.facts.set(c.host.name, { arch: v } as never)) })],
      };
      let localChanges = false;
      const local: Role = {
        name: 'local',
        local: true,
        hosts: () => [],
        tasks: [task({ name: 'maybe change', gather: async () => localChanges, plan: (_c, yes) => (yes ? ['change something'] : []), apply: async () => void files.set('etcd-01:b', 'changed-meanwhile') })],
      };
      const second: Role = {
        name: 'second',
        hosts: (run) => run.hosts.slice(0, 3),
        tasks: [
          probeOf('b', '1'),
          // Needs what `first` kept: cannot be prepared before it ran, so it is probed at its turn.
          probeTask<string>({ name: 'needs the facts', probe: (c) => ({ script: `STATE(c${c.facts().arch === '1' ? '' : 'x'})`, parse: (o) => o.stdout.trim() }), plan: (c, v) => (seen.push(`${c.host.name} c=${v}`), []) }),
          smokeProbe('b is still 1', (c) => ({ script: 'STATE(b); true', parse: (o) => { if (o.stdout.trim() !== '1') throw new TaskFailure(`b on ${c.host.name} is ${o.stdout.trim()}`); } })),
        ],
      };
      for (const h of three) for (const k of ['a', 'b', 'c']) files.set(`${h}:${k}`, '1');
      return { execs, files, seen, kept, roles: [first, local, second], connector: connector2, setLocalChanges: (v: boolean) => void (localChanges = v) };
    };

    it('a no-op run: the next role\'s probes ride in the first role\'s exec; only the one that needs its facts waits for its turn', async () => {
      const t = setup();
      const r = record();
      const summary = await runRoles({ roles: t.roles, run: ctx(), connector: t.connector, emit: r.emit });
      expect(summary.status).toBe('ok');
      expect(t.execs.filter((e) => e.host === 'etcd-01').map((e) => e.asked)).toEqual([['a', 'b', 'b'], ['c']]);
      expect(t.kept).toEqual(three.map((h) => `${h} a=1`));
      for (const h of three) expect(t.execs.filter((e) => e.host === h), h).toHaveLength(2);
      expect(t.seen.filter((l) => l.startsWith('etcd-01'))).toEqual(['etcd-01 a=1', 'etcd-01 b=1', 'etcd-01 c=1']);
      expect(r.ends().filter((e) => e.host === 'etcd-01').map((e) => [e.role, e.task, e.status])).toEqual([
        ['first', 'a is 1', 'ok'],
        ['second', 'b is 1', 'ok'],
        ['second', 'needs the facts', 'ok'],
        ['second', 'b is still 1', 'ok'],
      ]);
    });

    it('anything changed in between (here the local role): what was read ahead is dropped and probed again, so nothing acts on it', async () => {
      const t = setup();
      t.setLocalChanges(true);
      const r = record();
      await runRoles({ roles: t.roles, run: ctx(), connector: t.connector, emit: r.emit });
      // etcd-01's b was changed by the local role after the first batch read it: the second role sees the new value.
      expect(t.execs.filter((e) => e.host === 'etcd-01').map((e) => e.asked)).toEqual([['a', 'b', 'b'], ['b', 'c', 'b'], ['c'], ['b']]);
      expect(t.seen.filter((l) => l.startsWith('etcd-01'))).toEqual(['etcd-01 a=1', 'etcd-01 b=changed-meanwhile', 'etcd-01 c=1']);
      expect(r.ends().filter((e) => e.host === 'etcd-01' && e.role === 'second').map((e) => [e.task, e.status])).toEqual([
        ['b is 1', 'changed'],
        ['needs the facts', 'ok'],
        ['b is still 1', 'ok'],
      ]);
    });

    it('a change on one host in the first role: what every host read ahead is dropped', async () => {
      const t = setup();
      t.files.set(`${three[1]}:a`, '0');
      await runRoles({ roles: t.roles, run: ctx(), connector: t.connector, emit: () => undefined });
      // The second host's first batch read ahead (a was not applied yet), but its change started a new epoch: every host probes the second role again.
      // (The second host kept a=0, what it gathered before applying a: its facts-dependent probe asks cx.)
      for (const h of three) expect(t.execs.filter((e) => e.host === h).at(-1)!.asked, h).toEqual(['b', h === three[1] ? 'cx' : 'c', 'b']);
    });

    it('a local role reads ahead once every host of the role before it has sent its batch, with the tasks this run selected', async () => {
      const t = setup();
      const order: string[] = [];
      const wrapped = {
        connection: async (target: { name: string }) => {
          const c = await t.connector.connection(target);
          return {
            ...c,
            exec: async (script: string, o: never) => {
              order.push(`exec ${target.name}`);
              const res = await c.exec(script, o);
              await new Promise((done) => setTimeout(done, 30));
              order.push(`answer ${target.name}`);
              return res;
            },
          } as HostConnection;
        },
      };
      const local = t.roles[1]!;
      const seenTasks: string[][] = [];
      const withAhead: Role = { ...local, readAhead: (_run, tasks) => void (order.push('read ahead'), seenTasks.push(tasks.map((x) => x.name))) };
      const r = record();
      await runRoles({ roles: [t.roles[0]!, withAhead, t.roles[2]!], run: ctx(), connector: wrapped, emit: (e) => (e.type === 'role-start' && order.push(`start ${e.role}`), r.emit(e)) });
      // While the hosts are still to answer: before any answer came.
      expect(order.slice(0, 5)).toEqual(['start first', ...three.map((h) => `exec ${h}`), 'read ahead']);
      expect(order.indexOf('start local')).toBeGreaterThan(order.indexOf(`answer ${three[2]}`));
      expect(seenTasks).toEqual([['maybe change']]);
      // A host that never sends (unreachable) does not hold it back.
      order.length = 0;
      seenTasks.length = 0;
      const down = { connection: async (target: { name: string }) => { if (target.name === three[0]) throw new SshError({ kind: 'unreachable', host: target.name, message: 'refused' } as never); return wrapped.connection(target); } };
      await runRoles({ roles: [t.roles[0]!, withAhead, t.roles[2]!], run: ctx(), connector: down, emit: (e) => void (e.type === 'role-start' && order.push(`start ${e.role}`)) });
      expect(order.slice(0, 4)).toEqual(['start first', ...three.slice(1).map((h) => `exec ${h}`), 'read ahead']);
    });

    it('a task can say its failure better (the facts: sudo asking for a password), also for the error of a batch its probe rode in', async () => {
      const failing = {
        connection: async (t: { name: string }) =>
          ({ target: { name: t.name, host: t.name, port: 22, user: 'core' }, exec: async () => { throw new SshError({ kind: 'sudo', host: t.name, message: 'sudo: a password is required' } as never); } }) as unknown as HostConnection,
      };
      const role: Role = {
        name: 'facts',
        hosts: (run) => run.hostsOf('etcd'),
        tasks: [probeTask({ name: 'facts', probe: () => ({ script: 'true', parse: () => undefined }), failure: (c, e) => new TaskFailure(`${c.host.name}: ${(e as Error).message}, in words`, 'allow it') })],
      };
      const r = record();
      await runRoles({ roles: [role], run: ctx(), connector: failing, emit: r.emit });
      expect(r.ends().map((e) => [e.host, e.status, e.message])[0]).toEqual(['etcd-01', 'failed', 'etcd-01: sudo: a password is required, in words\n  → allow it']);
    });
  });
});
