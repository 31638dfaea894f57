// The runner's pure logic with an in-memory connector, aimed at what test/unit/runner.test.ts left
// unguarded (found by `npm run test:mutation`): tag selection with several tags, --limit by group, how SSH
// errors are classified, connect failures, the local pseudo-host, cancellation, event payloads, the host
// state ranking, the parallelism cap and durations. The same runner is proven on real hosts in
// test/integration/engine.test.ts.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOCAL_HOST, limitHosts, runRoles, taskSelected } from '../../src/engine/runner.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { Blocked, probeTask, task, smokeTest, TaskFailure, type HostInfo, type Role, type RunContext, type Task } from '../../src/engine/task.js';
import { ArtifactError } from '../../src/engine/artifacts.js';
import type { HostConnection } from '../../src/ssh/types.js';
import { SshError, type SshErrorKind } from '../../src/ssh/errors.js';
import { defaultSpec, plannedHosts } from '../../src/spec/index.js';
import { pkiPaths } from '../../src/pki/paths.js';
import { createArtifactStore } from '../../src/engine/artifacts.js';

const spec = defaultSpec();
const hosts: HostInfo[] = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } }));
const names = hosts.map((h) => h.name);

function ctx(opts: { dryRun?: boolean; signal?: AbortSignal } = {}): RunContext {
  return {
    spec,
    workspace: '/nonexistent',
    hosts,
    pki: pkiPaths('/nonexistent'),
    artifacts: createArtifactStore('/nonexistent', 'official'),
    dryRun: opts.dryRun ?? false,
    signal: opts.signal ?? new AbortController().signal,
    facts: new Map(),
    hostsOf: (g) => hosts.filter((h) => h.group === g),
  };
}

const conn = (name: string): HostConnection => ({ target: { name, host: name, port: 22, user: 'core' } }) as HostConnection;
const connector = (fail: Record<string, unknown> = {}) => ({
  connection: async (t: { name: string }) => {
    if (t.name in fail) throw fail[t.name];
    return conn(t.name);
  },
});
const sshError = (kind: SshErrorKind, message: string, hint?: string) => new SshError({ kind, host: 'h', message, ...(hint ? { hint } : {}) });

function record() {
  const events: EngineEvent[] = [];
  return {
    events,
    emit: (e: EngineEvent) => void events.push(e),
    of: <T extends EngineEvent['type']>(type: T) => events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type),
  };
}

const role = (name: string, tasks: Task<never>[] | Task<any>[], extra: Partial<Role> = {}): Role => ({ name, hosts: (run) => run.hosts, tasks, ...extra }); // eslint-disable-line @typescript-eslint/no-explicit-any
const okTask = (name: string, tags?: string[]) => task({ name, ...(tags ? { tags } : {}), gather: async () => undefined });
const changeTask = (name: string, onHosts?: string[]) =>
  task({ name, gather: async (c) => c.host.name, plan: (_c, h) => (!onHosts || onHosts.includes(h) ? [`change ${h}`] : []), apply: async () => undefined });
const throwing = (name: string, e: unknown, on?: string) =>
  task({
    name,
    gather: async (c) => {
      if (!on || c.host.name === on) throw e;
    },
  });

describe('taskSelected with several tags', () => {
  it('--tags selects a task carrying any one of them; --skip-tags drops a task carrying any one', () => {
    expect(taskSelected({ tags: ['config', 'certs'] }, 'etcd', ['certs'])).toBe(true);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', ['nope', 'certs'])).toBe(true);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', ['nope', 'other'])).toBe(false);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', undefined, ['nope', 'certs'])).toBe(false);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', undefined, ['nope', 'other'])).toBe(true);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', ['certs'], ['etcd'])).toBe(false);
  });

  it('an empty --tags selects everything; a task without tags still has its role name', () => {
    expect(taskSelected({ tags: ['certs'] }, 'etcd', [])).toBe(true);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', [], [])).toBe(true);
    expect(taskSelected({}, 'etcd', ['etcd'])).toBe(true);
    expect(taskSelected({}, 'etcd', ['certs'])).toBe(false);
    expect(taskSelected({ tags: ['certs'] }, 'etcd', ['certs'])).toBe(true);
    expect(taskSelected({}, 'etcd', undefined, ['etcd'])).toBe(false);
    expect(taskSelected({ tags: ['always'] }, 'facts', ['certs'], ['other'])).toBe(true);
  });
});

describe('limitHosts', () => {
  it('no or an empty limit: every host, nothing unknown', () => {
    expect(limitHosts(hosts)).toEqual({ hosts, unknown: [] });
    expect(limitHosts(hosts, [])).toEqual({ hosts, unknown: [] });
  });

  it('a group name is known and selects its hosts; host and group names mix', () => {
    expect(limitHosts(hosts, ['etcd'])).toEqual({ hosts: hosts.filter((h) => h.group === 'etcd'), unknown: [] });
    const r = limitHosts(hosts, ['kube-worker', 'kube-master-01', 'nope']);
    expect(r.hosts.map((h) => h.name)).toEqual(['kube-master-01', 'kube-worker-01', 'kube-worker-02']);
    expect(r.unknown).toEqual(['nope']);
  });
});

describe('how errors are reported', () => {
  const cases: Array<[string, unknown, 'failed' | 'unreachable', string]> = [
    ['unreachable', sshError('unreachable', 'refused', 'is it running?'), 'unreachable', 'refused\n  → is it running?'],
    ['auth', sshError('auth', 'denied'), 'unreachable', 'denied'],
    ['host-key', sshError('host-key', 'key changed'), 'unreachable', 'key changed'],
    ['connect timeout', sshError('timeout', 'Connect timed out after 10 s'), 'unreachable', 'Connect timed out after 10 s'],
    ['command timeout', sshError('timeout', 'command timed out'), 'failed', 'command timed out'],
    ['command failed', sshError('command-failed', 'exit 1', 'see stderr'), 'failed', 'exit 1\n  → see stderr'],
    ['task failure', new TaskFailure('bad', 'fix it'), 'failed', 'bad\n  → fix it'],
    ['artifact error', new ArtifactError('/x', 'artifacts.lock', 'artifact /x missing'), 'failed', 'artifact /x missing'],
    ['internal error', new Error('oops'), 'failed', 'internal error: oops'],
    ['not an Error', 'text', 'failed', 'internal error: text'],
  ];
  for (const [what, e, status, message] of cases)
    it(`a task that throws ${what}: ${status}, the host stops`, async () => {
      const r = record();
      const s = await runRoles({ roles: [role('one', [throwing('t1', e, 'etcd-01'), okTask('t2')]), role('two', [okTask('t3')])], run: ctx(), connector: connector(), emit: r.emit });
      const end = r.of('task-end').find((x) => x.host === 'etcd-01' && x.task === 't1')!;
      expect(end).toMatchObject({ status, message });
      expect(r.of('task-end').filter((x) => x.host === 'etcd-01').map((x) => x.task)).toEqual(['t1']);
      expect(r.of('host-end').filter((x) => x.host === 'etcd-01')).toEqual([expect.objectContaining({ role: 'one', state: status })]);
      expect(s.recap['etcd-01']).toMatchObject({ state: status, [status]: 1, ok: 0 });
      expect(s.failedHosts).toEqual(['etcd-01']);
      expect(s.status).toBe('failed');
      expect(s.recap['kube-worker-01']).toMatchObject({ state: 'ok', ok: 3 });
    });

  it('a failed connect: unreachable for any SSH error, failed otherwise; the host gets no later roles', async () => {
    const r = record();
    const s = await runRoles({
      roles: [role('one', [okTask('t1')]), role('two', [okTask('t2')])],
      run: ctx(),
      connector: connector({ 'etcd-01': sshError('command-failed', 'channel refused', 'retry'), 'kube-worker-01': new Error('no agent') }),
      emit: r.emit,
    });
    const connects = r.of('task-end').filter((e) => e.task === 'connect');
    expect(connects).toEqual([
      expect.objectContaining({ host: 'etcd-01', role: 'one', tags: [], status: 'unreachable', changes: [], message: 'channel refused\n  → retry' }),
      expect.objectContaining({ host: 'kube-worker-01', role: 'one', tags: [], status: 'failed', changes: [], message: 'internal error: no agent' }),
    ]);
    for (const c of connects) expect(c.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.of('host-end').filter((e) => e.host === 'etcd-01' || e.host === 'kube-worker-01')).toEqual([
      expect.objectContaining({ host: 'etcd-01', role: 'one', state: 'unreachable' }),
      expect.objectContaining({ host: 'kube-worker-01', role: 'one', state: 'failed' }),
    ]);
    expect(s.recap['etcd-01']).toMatchObject({ state: 'unreachable', unreachable: 1, failed: 0, ok: 0 });
    expect(s.recap['kube-worker-01']).toMatchObject({ state: 'failed', failed: 1, unreachable: 0, ok: 0 });
    expect(r.of('host-start').filter((e) => e.role === 'two').map((e) => e.host)).toEqual(['kube-master-01', 'kube-worker-02']);
    expect(s.failedHosts.sort()).toEqual(['etcd-01', 'kube-worker-01']);
  });
});

describe('the local pseudo-host', () => {
  const local = (serves?: Role['serves']): Role => ({ name: 'pki', hosts: () => [], local: true, ...(serves ? { serves } : {}), tasks: [okTask('make certs')] });

  it('a local role adds the local host first; it runs with no SSH connection', async () => {
    const r = record();
    let used = 0;
    const s = await runRoles({ roles: [local(), role('one', [okTask('t')])], run: ctx(), connector: { connection: async (t) => (used++, conn(t.name)) }, emit: r.emit });
    expect(r.of('run-start')[0]!.hosts[0]).toEqual({ name: LOCAL_HOST, group: 'local', ip: '127.0.0.1' });
    expect(Object.keys(s.recap)).toEqual([LOCAL_HOST, ...names]);
    expect(s.recap[LOCAL_HOST]).toMatchObject({ state: 'ok', ok: 1 });
    expect(used).toBe(4);
  });

  it('a local role that serves masters is left out when --limit has no master, kept when it has one', async () => {
    const r = record();
    const s = await runRoles({ roles: [local(['kube-master']), role('one', [okTask('t')])], run: ctx(), connector: connector(), emit: r.emit, limit: ['etcd'] });
    expect(Object.keys(s.recap)).toEqual(['etcd-01']);
    expect(r.of('role-start').map((e) => e.role)).toEqual(['one']);
    const r2 = record();
    const s2 = await runRoles({ roles: [local(['kube-master']), role('one', [okTask('t')])], run: ctx(), connector: connector(), emit: r2.emit, limit: ['etcd', 'kube-master-01'] });
    expect(Object.keys(s2.recap)).toEqual([LOCAL_HOST, 'etcd-01', 'kube-master-01']);
    expect(r2.of('role-start').map((e) => [e.role, e.hosts])).toEqual([
      ['pki', [LOCAL_HOST]],
      ['one', ['etcd-01', 'kube-master-01']],
    ]);
  });

  it('no local role: no local host; a local role whose tasks are all deselected: none either', async () => {
    const s = await runRoles({ roles: [role('one', [okTask('t')])], run: ctx(), connector: connector(), emit: () => undefined });
    expect(Object.keys(s.recap)).toEqual(names);
    const s2 = await runRoles({ roles: [local(), role('one', [okTask('t', ['x'])])], run: ctx(), connector: connector(), emit: () => undefined, tags: ['x'] });
    expect(Object.keys(s2.recap)).toEqual(names);
  });

  it('a failed local role stops every host', async () => {
    const r = record();
    const bad: Role = { name: 'pki', hosts: () => [], local: true, tasks: [throwing('make certs', new TaskFailure('no openssl'))] };
    const s = await runRoles({ roles: [bad, role('one', [okTask('t')])], run: ctx(), connector: connector(), emit: r.emit });
    expect(r.of('host-start').map((e) => e.host)).toEqual([LOCAL_HOST]);
    expect(s.recap[LOCAL_HOST]!.state).toBe('failed');
    expect(r.of('log').map((e) => e.message)).toEqual([`one: not run: ${names.map((n) => `${n} failed (in pki)`).join(', ')}`]);
  });
});

describe('roles and tasks a run leaves out', () => {
  it('a role with no selected task is dropped: not announced, not started', async () => {
    const r = record();
    await runRoles({ roles: [role('one', [okTask('a', ['x'])]), role('two', [okTask('b', ['y'])])], run: ctx(), connector: connector(), emit: r.emit, tags: ['y'] });
    expect(r.of('run-start')[0]!.roles).toEqual(['two']);
    expect(r.of('role-start').map((e) => e.role)).toEqual(['two']);
  });

  it('a dry run skips smoke tests on top of --skip-tags; a real run with --skip-tags keeps them', async () => {
    const roles = [role('one', [okTask('a', ['x']), okTask('b'), smokeTest('check', async () => undefined)])];
    const dry = record();
    await runRoles({ roles, run: ctx({ dryRun: true }), connector: connector(), emit: dry.emit, skipTags: ['x'], limit: ['etcd-01'] });
    expect(dry.of('task-end').map((e) => e.task)).toEqual(['b']);
    const dry2 = record();
    await runRoles({ roles, run: ctx({ dryRun: true }), connector: connector(), emit: dry2.emit, limit: ['etcd-01'] });
    expect(dry2.of('task-end').map((e) => e.task)).toEqual(['a', 'b']);
    const real = record();
    await runRoles({ roles, run: ctx(), connector: connector(), emit: real.emit, skipTags: ['x'], limit: ['etcd-01'] });
    expect(real.of('task-end').map((e) => e.task)).toEqual(['b', 'check']);
    // A role of smoke tests only is dropped from a dry run.
    const dry3 = record();
    await runRoles({ roles: [role('smoke', [smokeTest('check', async () => undefined)])], run: ctx({ dryRun: true }), connector: connector(), emit: dry3.emit });
    expect(dry3.of('run-start')[0]!.roles).toEqual([]);
  });
});

describe('events and recap', () => {
  it('the payloads of run-start, role-start/end, host-start/end, task-start/end and run-end, in order', async () => {
    const r = record();
    const s = await runRoles({
      roles: [role('one', [changeTask('c1'), okTask('o1', ['config'])])],
      run: ctx({ dryRun: true }),
      connector: connector(),
      emit: r.emit,
      tags: ['one'],
      skipTags: ['nothing'],
      limit: ['etcd-01'],
    });
    const at = expect.any(Number);
    expect(r.events).toEqual([
      { type: 'run-start', at, runId: s.runId, hosts: [{ name: 'etcd-01', group: 'etcd', ip: hosts[0]!.ip }], roles: ['one'], dryRun: true, tags: ['one'], skipTags: ['nothing'] },
      { type: 'role-start', at, role: 'one', hosts: ['etcd-01'] },
      { type: 'host-start', at, host: 'etcd-01', role: 'one' },
      { type: 'task-start', at, host: 'etcd-01', role: 'one', task: 'c1', tags: [] },
      { type: 'task-end', at, host: 'etcd-01', role: 'one', task: 'c1', tags: [], status: 'changed', changes: ['change etcd-01'], message: undefined, durationMs: expect.any(Number) },
      { type: 'task-start', at, host: 'etcd-01', role: 'one', task: 'o1', tags: ['config'] },
      { type: 'task-end', at, host: 'etcd-01', role: 'one', task: 'o1', tags: ['config'], status: 'ok', changes: [], message: undefined, durationMs: expect.any(Number) },
      { type: 'host-end', at, host: 'etcd-01', role: 'one', state: 'changed' },
      { type: 'role-end', at, role: 'one' },
      { type: 'run-end', at, status: 'ok', recap: s.recap, durationMs: s.durationMs },
    ]);
    expect(s.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.recap).toEqual({ 'etcd-01': { ok: 1, changed: 1, failed: 0, skipped: 0, unreachable: 0, state: 'changed' } });
    expect(s.changed).toBe(1);
  });

  it('a host keeps its worst state across roles: changed in one role, ok in the next stays changed', async () => {
    const r = record();
    const s = await runRoles({ roles: [role('one', [changeTask('c', ['etcd-01'])]), role('two', [okTask('o')])], run: ctx(), connector: connector(), emit: r.emit });
    expect(s.recap['etcd-01']!.state).toBe('changed');
    expect(s.recap['kube-master-01']!.state).toBe('ok');
    expect(r.of('host-end').filter((e) => e.host === 'etcd-01').map((e) => e.state)).toEqual(['changed', 'ok']);
    expect(s.changed).toBe(1);
    // A dry run's blocked host: failed at the end, even after a later role that was fine.
    const s2 = await runRoles({
      roles: [role('one', [task({ name: 'b', gather: async (c) => (c.host.name === 'etcd-01' ? Promise.reject(new Blocked('no binary')) : undefined) })]), role('two', [changeTask('c')])],
      run: ctx({ dryRun: true }),
      connector: connector(),
      emit: () => undefined,
    });
    expect(s2.recap['etcd-01']).toMatchObject({ state: 'failed', changed: 1 });
    expect(s2.recap['kube-master-01']).toMatchObject({ state: 'changed', changed: 1 });
    expect(s2.status).toBe('failed');
  });

  it('durations are measured, not summed with the clock', async () => {
    const r = record();
    const t0 = Date.now();
    const s = await runRoles({
      roles: [role('one', [task({ name: 'slow', gather: () => new Promise((res) => setTimeout(res, 40)) })])],
      run: ctx(),
      connector: connector(),
      emit: r.emit,
      limit: ['etcd-01'],
    });
    const took = Date.now() - t0;
    expect(s.durationMs).toBeGreaterThanOrEqual(35);
    expect(s.durationMs).toBeLessThanOrEqual(took);
    const end = r.of('task-end')[0]!;
    expect(end.durationMs).toBeGreaterThanOrEqual(35);
    expect(end.durationMs).toBeLessThanOrEqual(took);
    expect(r.of('run-end')[0]!.durationMs).toBe(s.durationMs);
  });
});

describe('hosts in parallel', () => {
  async function peak(maxHosts?: number) {
    let now = 0;
    let max = 0;
    const t = task({
      name: 'busy',
      gather: async () => {
        max = Math.max(max, ++now);
        await new Promise((res) => setTimeout(res, 30));
        now--;
      },
    });
    const s = await runRoles({ roles: [role('one', [t])], run: ctx(), connector: connector(), emit: () => undefined, ...(maxHosts === undefined ? {} : { maxHosts }) });
    expect(s.status).toBe('ok');
    return max;
  }
  it('at most maxHosts at a time; all of them by default; 0 or less means one', async () => {
    expect(await peak(2)).toBe(2);
    expect(await peak()).toBe(4);
    expect(await peak(0)).toBe(1);
    expect(await peak(-3)).toBe(1);
  });
});

describe('cancellation', () => {
  it('aborted before the start: no host starts, every host is cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = record();
    const s = await runRoles({ roles: [role('one', [okTask('t')])], run: ctx({ signal: ac.signal }), connector: connector(), emit: r.emit });
    expect(s.status).toBe('cancelled');
    expect(r.of('role-start')).toEqual([]);
    expect(r.of('host-end')).toEqual([]);
    expect(Object.values(s.recap).map((x) => x.state)).toEqual(Array(4).fill('cancelled'));
    expect(r.of('run-end')[0]!.status).toBe('cancelled');
  });

  it('aborted during a task: that task is not reported failed, no later task or host runs, in-flight hosts end cancelled, a failed host stays failed', async () => {
    const ac = new AbortController();
    const r = record();
    const started: string[] = [];
    const t1 = task({
      name: 't1',
      gather: async (c) => {
        started.push(c.host.name);
        if (c.host.name === 'etcd-01') throw new TaskFailure('broken');
        if (c.host.name === 'kube-master-01') {
          ac.abort();
          throw new Error('aborted underneath');
        }
      },
    });
    const s = await runRoles({ roles: [role('one', [t1, okTask('t2')]), role('two', [okTask('t3')])], run: ctx({ signal: ac.signal }), connector: connector(), emit: r.emit, maxHosts: 1 });
    expect(started).toEqual(['etcd-01', 'kube-master-01']);
    expect(r.of('task-end').map((e) => [e.host, e.task, e.status])).toEqual([['etcd-01', 't1', 'failed']]);
    expect(r.of('host-start').map((e) => e.host)).toEqual(['etcd-01', 'kube-master-01']);
    expect(r.of('host-end').map((e) => [e.host, e.role, e.state])).toEqual([
      ['etcd-01', 'one', 'failed'],
      ['kube-master-01', 'one', 'cancelled'],
    ]);
    expect(r.of('role-start').map((e) => e.role)).toEqual(['one']);
    expect(Object.fromEntries(Object.entries(s.recap).map(([k, v]) => [k, v.state]))).toEqual({ 'etcd-01': 'failed', 'kube-master-01': 'cancelled', 'kube-worker-01': 'cancelled', 'kube-worker-02': 'cancelled' });
    expect(s.status).toBe('cancelled');
    expect(s.failedHosts).toEqual(['etcd-01']);
  });

  it('aborted between tasks: the next task does not start', async () => {
    const ac = new AbortController();
    const r = record();
    const t1 = task({ name: 't1', gather: async () => void ac.abort() });
    await runRoles({ roles: [role('one', [t1, okTask('t2')])], run: ctx({ signal: ac.signal }), connector: connector(), emit: r.emit, limit: ['etcd-01'] });
    expect(r.of('task-start').map((e) => e.task)).toEqual(['t1']);
    expect(r.of('host-end')).toEqual([expect.objectContaining({ host: 'etcd-01', role: 'one', state: 'cancelled' })]);
  });

  it('a host whose last task completes after the abort ends once, as it ended: no second host-end "cancelled"', async () => {
    const ac = new AbortController();
    const r = record();
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    // etcd-01's only task ignores the signal and completes after it; kube-master-01's task is the one aborted.
    const t = task({
      name: 't',
      gather: async (c) => {
        if (c.host.name === 'etcd-01') return gate;
        ac.abort();
        release();
        throw new Error('aborted underneath');
      },
    });
    const s = await runRoles({ roles: [role('one', [t]), role('two', [okTask('u')])], run: ctx({ signal: ac.signal }), connector: connector(), emit: r.emit, limit: ['etcd-01', 'kube-master-01'] });
    expect(r.of('host-end').map((e) => [e.host, e.role, e.state]).sort()).toEqual([
      ['etcd-01', 'one', 'ok'],
      ['kube-master-01', 'one', 'cancelled'],
    ]);
    expect(r.of('role-start').map((e) => e.role)).toEqual(['one']);
    // The run was cancelled: no host completed the run, whatever its last role said.
    expect(Object.fromEntries(Object.entries(s.recap).filter(([k]) => k === 'etcd-01' || k === 'kube-master-01').map(([k, v]) => [k, v.state]))).toEqual({ 'etcd-01': 'cancelled', 'kube-master-01': 'cancelled' });
  });

  it('a connect that fails because the run was aborted is not reported as a failure', async () => {
    const ac = new AbortController();
    const r = record();
    const s = await runRoles({
      roles: [role('one', [okTask('t')])],
      run: ctx({ signal: ac.signal }),
      connector: {
        connection: async () => {
          ac.abort();
          throw sshError('aborted', 'aborted');
        },
      },
      emit: r.emit,
      limit: ['etcd-01'],
    });
    expect(r.of('task-end')).toEqual([]);
    expect(s.recap['etcd-01']).toMatchObject({ state: 'cancelled', unreachable: 0, failed: 0 });
    expect(s.failedHosts).toEqual([]);
  });
});

describe('what a task sees of the run', () => {
  it('the signal has no listener cap (every command of every host listens on it)', async () => {
    const warned = async (signal: AbortSignal) => {
      const names: string[] = [];
      const onWarning = (w: Error) => void names.push(w.name);
      process.on('warning', onWarning);
      for (let i = 0; i < 12; i++) signal.addEventListener('abort', () => undefined);
      await new Promise((res) => setTimeout(res, 20));
      process.off('warning', onWarning);
      return names.includes('MaxListenersExceededWarning');
    };
    expect(await warned(new AbortController().signal)).toBe(true);
    const ac = new AbortController();
    await runRoles({ roles: [role('one', [okTask('t')])], run: ctx({ signal: ac.signal }), connector: connector(), emit: () => undefined, limit: ['etcd-01'] });
    expect(await warned(ac.signal)).toBe(false);
  });

  it('facts, unapplied changes, handlers per host and streamed output', async () => {
    const seen: string[] = [];
    const run = ctx({ dryRun: true });
    run.facts.set('etcd-01', { os: 'test' } as never);
    const r = record();
    await runRoles({
      roles: [
        role('one', [
          task({
            name: 'plan two',
            gather: async (c) => {
              c.output('to stdout');
              c.output('to stderr', 'stderr');
              if (c.host.name === 'etcd-01') c.notify('restart x');
            },
            plan: () => ['a', 'b'],
          }),
          task({ name: 'blocked', gather: async () => Promise.reject(new Blocked('no binary')) }),
          task({
            name: 'look',
            gather: async (c) => {
              let facts: string;
              try {
                facts = JSON.stringify(c.facts());
              } catch (e) {
                facts = (e as Error).message;
              }
              seen.push(`${c.host.name} unapplied=${c.unapplied()} notified=${c.notified('restart x')} other=${c.notified('restart y')} facts=${facts}`);
            },
          }),
        ]),
      ],
      run,
      connector: connector(),
      emit: r.emit,
      limit: ['etcd-01', 'kube-master-01'],
    });
    expect(seen).toEqual([
      'etcd-01 unapplied=3 notified=true other=false facts={"os":"test"}',
      'kube-master-01 unapplied=3 notified=false other=false facts=no facts for kube-master-01: the bootstrap role did not run on it\n  → run without --tags/--skip-tags that exclude `always`, or converge the bootstrap role first',
    ]);
    expect(r.of('task-output').filter((e) => e.host === 'etcd-01')).toEqual([
      { type: 'task-output', at: expect.any(Number), host: 'etcd-01', role: 'one', task: 'plan two', stream: 'stdout', line: 'to stdout' },
      { type: 'task-output', at: expect.any(Number), host: 'etcd-01', role: 'one', task: 'plan two', stream: 'stderr', line: 'to stderr' },
    ]);
    expect(r.of('task-end').find((e) => e.task === 'blocked')).toMatchObject({ status: 'failed', wouldFail: true, changes: [] });
    expect(r.of('task-end').find((e) => e.task === 'plan two')).not.toHaveProperty('wouldFail');
  });

  it('a probe batch cut short fails that task with the exit status and the last stderr line', async () => {
    const execConn = (name: string) =>
      ({
        target: { name, host: name, port: 22, user: 'core' },
        exec: async () => ({ stdout: '', stderr: 'first\nKilled\n', exitCode: 137, durationMs: 1 }),
      }) as unknown as HostConnection;
    const r = record();
    const s = await runRoles({
      roles: [role('one', [probeTask({ name: 'p', probe: () => ({ script: 'true', parse: () => undefined }) })])],
      run: ctx(),
      connector: { connection: async (t) => execConn(t.name) },
      emit: r.emit,
      limit: ['etcd-01'],
    });
    expect(r.of('task-end')[0]).toMatchObject({ status: 'failed', message: 'the probe for "p" printed no complete result on etcd-01 (exit 137)\n  → Killed' });
    expect(s.status).toBe('failed');
  });
});

describe('host state and probes across roles', () => {
  it('changed in one role, failed in the next: failed', async () => {
    const s = await runRoles({ roles: [role('one', [changeTask('c')]), role('two', [throwing('t', new TaskFailure('no'), 'etcd-01')])], run: ctx(), connector: connector(), emit: () => undefined });
    expect(s.recap['etcd-01']).toMatchObject({ state: 'failed', changed: 1, failed: 1 });
    expect(s.recap['kube-master-01']).toMatchObject({ state: 'changed', changed: 1, ok: 1 });
    expect(s.failedHosts).toEqual(['etcd-01']);
  });

  it('a probe not ready for the first batch is probed at its turn; a task whose needed role failed everywhere is not probed', async () => {
    const scripts: string[] = [];
    const shConn = (name: string) =>
      ({
        target: { name, host: name, port: 22, user: 'core' },
        exec: async (script: string) => {
          scripts.push(script);
          const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
          return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status, durationMs: 1 };
        },
      }) as unknown as HostConnection;
    let ready = false;
    const r = record();
    const s = await runRoles({
      roles: [
        role('gone', [throwing('broken', new TaskFailure('down'))], { hosts: (run) => run.hostsOf('kube-master') }),
        role('one', [
          probeTask({ name: 'get ready', probe: () => ({ script: 'echo READY', parse: () => void (ready = true) }) }),
          probeTask({
            name: 'late',
            probe: () => {
              if (!ready) throw new Error('not yet');
              return { script: 'echo LATE', parse: (o) => o.stdout.trim() };
            },
            plan: (_c, v) => (v === 'LATE' ? [] : ['wrong']),
          }),
          probeTask({ name: 'needs gone', needs: ['gone'], probe: () => ({ script: 'echo NEEDS', parse: () => undefined }) }),
        ], { hosts: (run) => run.hostsOf('etcd') }),
      ],
      run: ctx(),
      connector: { connection: async (t) => shConn(t.name) },
      emit: r.emit,
    });
    expect(r.of('task-end').filter((e) => e.role === 'one').map((e) => [e.task, e.status])).toEqual([
      ['get ready', 'ok'],
      ['late', 'ok'],
      ['needs gone', 'skipped'],
    ]);
    expect(scripts.map((x) => [x.includes('READY'), x.includes('LATE')])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(scripts.some((x) => x.includes('NEEDS'))).toBe(false);
    expect(s.recap['etcd-01']!.state).toBe('ok');
  });
});

describe('more of what the mutation run found', () => {
  it('a role skipped for a failed need: its events and recap, a host not seen before ends ok', async () => {
    const r = record();
    const s = await runRoles({
      roles: [
        role('masters', [throwing('m', new TaskFailure('down'))], { hosts: (run) => run.hostsOf('kube-master') }),
        role('early', [changeTask('c')], { hosts: (run) => run.hostsOf('kube-worker').slice(0, 1) }),
        role('addons', [okTask('a')], { needs: ['masters'], hosts: (run) => run.hostsOf('kube-worker') }),
      ],
      run: ctx(),
      connector: connector(),
      emit: r.emit,
    });
    const why = 'skipped: needs masters on at least one host, and masters failed on kube-master-01';
    const at = expect.any(Number);
    expect(r.events.filter((e) => 'role' in e && e.role === 'addons')).toEqual([
      { type: 'role-start', at, role: 'addons', hosts: ['kube-worker-01', 'kube-worker-02'] },
      { type: 'host-start', at, host: 'kube-worker-01', role: 'addons' },
      { type: 'task-end', at, host: 'kube-worker-01', role: 'addons', task: 'addons: prerequisites', tags: [], status: 'skipped', changes: [], message: why, durationMs: 0 },
      { type: 'host-end', at, host: 'kube-worker-01', role: 'addons', state: 'changed' },
      { type: 'host-start', at, host: 'kube-worker-02', role: 'addons' },
      { type: 'task-end', at, host: 'kube-worker-02', role: 'addons', task: 'addons: prerequisites', tags: [], status: 'skipped', changes: [], message: why, durationMs: 0 },
      { type: 'host-end', at, host: 'kube-worker-02', role: 'addons', state: 'ok' },
      { type: 'role-end', at, role: 'addons' },
    ]);
    expect(s.recap['kube-worker-02']).toMatchObject({ state: 'ok', skipped: 1, ok: 0 });
    expect(s.recap['kube-worker-01']).toMatchObject({ state: 'changed', skipped: 1, changed: 1 });
    expect(s.recap['etcd-01']!.state).toBe('pending');
  });

  it('a role with no host in the run is neither started nor logged; one whose hosts all failed is logged as a warning', async () => {
    const r = record();
    await runRoles({
      roles: [role('one', [throwing('t', new TaskFailure('no'), 'etcd-01')]), role('none', [okTask('x')], { hosts: () => [] }), role('etcd', [okTask('y')], { hosts: (run) => run.hostsOf('etcd') })],
      run: ctx(),
      connector: connector(),
      emit: r.emit,
    });
    expect(r.of('role-start').map((e) => e.role)).toEqual(['one']);
    expect(r.of('log')).toEqual([{ type: 'log', at: expect.any(Number), level: 'warn', message: 'etcd: not run: etcd-01 failed (in one)' }]);
  });

  it('a host keeps the role it first failed in when a failed local role stops every host', async () => {
    const r = record();
    const bad: Role = { name: 'pki', hosts: () => [], local: true, tasks: [throwing('make certs', new TaskFailure('no openssl'))] };
    await runRoles({ roles: [role('one', [throwing('t', new TaskFailure('no'), 'etcd-01')]), bad, role('two', [okTask('x')], { hosts: (run) => run.hostsOf('etcd').concat(run.hostsOf('kube-master')) })], run: ctx(), connector: connector(), emit: r.emit });
    expect(r.of('log').map((e) => e.message)).toEqual(['two: not run: etcd-01 failed (in one), kube-master-01 failed (in pki)']);
  });

  it('an SSH error that mentions "connect" is unreachable only when it is a timeout; failures carry no changes; durations are small', async () => {
    const r = record();
    const s = await runRoles({ roles: [role('one', [throwing('t', sshError('command-failed', 'could not connect to the socket'))])], run: ctx(), connector: connector({ 'etcd-01': new Error('x') }), emit: r.emit });
    expect(s.recap['kube-master-01']!.state).toBe('failed');
    for (const e of r.of('task-end')) {
      expect(e.changes).toEqual([]);
      expect(e.durationMs).toBeLessThan(60_000);
    }
    const r2 = record();
    await runRoles({ roles: [role('one', [okTask('a'), task({ name: 's', skip: () => 'not here', gather: async () => undefined })])], run: ctx(), connector: connector(), emit: r2.emit, limit: ['etcd-01'] });
    expect(r2.of('task-end').map((e) => [e.status, e.changes, e.message, e.durationMs < 60_000])).toEqual([
      ['ok', [], undefined, true],
      ['skipped', [], 'not here', true],
    ]);
  });

  it('cancelled in a later role: only the host working then ends cancelled, with that role', async () => {
    const ac = new AbortController();
    const r = record();
    await runRoles({ roles: [role('one', [okTask('a')]), role('two', [task({ name: 'b', gather: async () => (ac.abort(), Promise.reject(new Error('aborted underneath'))) })])], run: ctx({ signal: ac.signal }), connector: connector(), emit: r.emit, maxHosts: 1 });
    expect(r.of('host-end').map((e) => [e.host, e.role, e.state])).toEqual([...names.map((n) => [n, 'one', 'ok']), ['etcd-01', 'two', 'cancelled']]);
  });

  it('probes are prepared at the first probed task, after the plain tasks before it; a probe already batched is not probed again', async () => {
    const scripts: string[] = [];
    const shConn = (name: string) =>
      ({
        target: { name, host: name, port: 22, user: 'core' },
        exec: async (script: string) => {
          scripts.push(script);
          const x = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
          return { stdout: x.stdout, stderr: x.stderr, exitCode: x.status, durationMs: 1 };
        },
      }) as unknown as HostConnection;
    let ready = false;
    let lateReady = false;
    const seen: string[] = [];
    const echo = (name: string, word: () => string, after?: () => void) =>
      probeTask({ name, probe: () => ({ script: `echo ${word()}`, parse: (o) => (after?.(), o.stdout.trim()) }), plan: (_c, v) => (seen.push(`${name}=${v}`), []) });
    const r = record();
    await runRoles({
      roles: [
        role('one', [
          task({ name: 'plain', gather: async () => void (ready = true) }),
          echo('a', () => (ready ? 'READY' : 'EARLY'), () => void (lateReady = true)),
          probeTask({
            name: 'late',
            probe: () => {
              if (!lateReady) throw new Error('not yet');
              return { script: 'echo LATE', parse: () => undefined };
            },
          }),
          echo('b', () => 'BEE'),
          task({ name: 'plan only', gather: async () => undefined, plan: () => ['something'] }),
          probeTask({
            name: 'never ready',
            probe: () => {
              throw new TaskFailure('no input file');
            },
          }),
        ]),
      ],
      run: ctx(),
      connector: { connection: async (t) => shConn(t.name) },
      emit: r.emit,
      limit: ['etcd-01'],
    });
    expect(seen).toEqual(['a=READY', 'b=BEE']);
    expect(scripts.map((x) => ['READY', 'LATE', 'BEE'].filter((w) => x.includes(`echo ${w}`)))).toEqual([['READY', 'BEE'], ['LATE']]);
    expect(r.of('task-end').map((e) => [e.task, e.status, e.message])).toEqual([
      ['plain', 'ok', undefined],
      ['a', 'ok', undefined],
      ['late', 'ok', undefined],
      ['b', 'ok', undefined],
      ['plan only', 'changed', undefined],
      ['never ready', 'failed', 'no input file'],
    ]);
  });

  it('a local task sees the local host and a connection that refuses to be used', async () => {
    const seen: unknown[] = [];
    const localRole: Role = {
      name: 'pki',
      hosts: () => [],
      local: true,
      tasks: [
        task({
          name: 'look',
          gather: async (c) => {
            seen.push(c.host, c.conn.target, await c.conn.sudoOk());
            for (const call of [() => c.conn.exec('true'), () => c.conn.run('true'), () => c.conn.readFile('/x'), () => c.conn.sha256('/x'), () => c.conn.upload({} as never)])
              seen.push(await call().then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`));
            await c.conn.close();
          },
        }),
      ],
    };
    const s = await runRoles({ roles: [localRole], run: ctx(), connector: connector(), emit: () => undefined });
    const refused = 'TaskFailure: a local role has no SSH connection (internal: the task should not use ctx.conn)';
    expect(seen).toEqual([
      { name: 'local', group: 'etcd', index: 0, ip: '127.0.0.1', sshAddress: '127.0.0.1', sshPort: 0, memory: 0, cpus: 0, target: { name: 'local', host: '127.0.0.1', port: 0, user: spec.ssh.user } },
      { name: 'local', host: '127.0.0.1', port: 0, user: 'local' },
      false,
      refused,
      refused,
      refused,
      refused,
      refused,
    ]);
    expect(Object.keys(s.recap)).toEqual(['local', ...names]);
  });
});
