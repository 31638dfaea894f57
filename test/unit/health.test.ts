// The dashboard's polling logic on a fake clock with fake probes: once at start then every interval,
// never two polls of a host at once when a poll is slower than the interval, a host that hangs or
// refuses never delays the others, paused while a dialog is open, stale after N intervals.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Poller } from '../../src/health/poller.js';
import { createDashboardController, type DashboardEffects } from '../../src/health/actions.js';
import { parseProbe, unreachableHealth, type HostHealth } from '../../src/health/probe.js';
import { isStale } from '../../src/state/dashboard-store.js';
import type { HostInfo } from '../../src/engine/task.js';
import { defaultSpec } from '../../src/spec/index.js';

const HOSTS = ['a', 'b', 'c'];
const never = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));

interface Log {
  starts: Array<{ host: string; at: number }>;
  results: Array<{ host: string; result: string; at: number }>;
}

function makePoller(probe: (h: string, signal: AbortSignal) => Promise<string>, opts: { intervalMs?: number; timeoutMs?: number } = {}) {
  const log: Log = { starts: [], results: [] };
  const p = new Poller<string, string>({
    hosts: HOSTS,
    key: (h) => h,
    intervalMs: opts.intervalMs ?? 2000,
    timeoutMs: opts.timeoutMs,
    probe,
    onStart: (host) => log.starts.push({ host, at: Date.now() }),
    onError: (_h, error) => `error: ${error}`,
    onResult: (host, result) => log.results.push({ host, result, at: Date.now() }),
  });
  return { p, log };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const startsOf = (log: Log, host: string) => log.starts.filter((s) => s.host === host).map((s) => s.at);
const resultsOf = (log: Log, host: string) => log.results.filter((s) => s.host === host);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('poller', () => {
  it('polls every host once at start, then every interval', async () => {
    const { p, log } = makePoller(async (h) => `ok ${h}`);
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.results.map((r) => r.host)).toEqual(HOSTS);
    await vi.advanceTimersByTimeAsync(6000);
    p.stop();
    for (const h of HOSTS) expect(startsOf(log, h).map((t) => t - 1_000_000)).toEqual([0, 2000, 4000, 6000]);
  });

  it('never overlaps a poll slower than the interval: the next starts when it ended', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const perHost = new Map<string, number>();
    let maxPerHost = 0;
    const { p, log } = makePoller(async (h) => {
      inFlight++;
      perHost.set(h, (perHost.get(h) ?? 0) + 1);
      maxInFlight = Math.max(maxInFlight, inFlight);
      maxPerHost = Math.max(maxPerHost, perHost.get(h)!);
      await sleep(h === 'b' ? 7000 : 100); // b: 3.5 intervals per poll
      inFlight--;
      perHost.set(h, perHost.get(h)! - 1);
      return 'ok';
    }, { timeoutMs: 60_000 });
    p.start();
    await vi.advanceTimersByTimeAsync(20_000);
    p.stop();
    expect(maxPerHost).toBe(1);
    expect(maxInFlight).toBe(3);
    // b: started at 0, 7000, 14000 (each right after the previous ended), never stacked.
    expect(startsOf(log, 'b').map((t) => t - 1_000_000)).toEqual([0, 7000, 14000]);
    // a and c kept their 2 s cadence while b was slow.
    expect(startsOf(log, 'a')).toHaveLength(11);
    // `r` while b's poll is under way does not start a second one.
    const before = startsOf(log, 'b').length;
    void p.refreshNow();
    expect(startsOf(log, 'b').length).toBe(before);
  });

  it('a host that hangs never delays the others; it times out on its own', async () => {
    const { p, log } = makePoller((h, signal) => (h === 'b' ? never(signal) : Promise.resolve(`ok ${h}`)), { timeoutMs: 5000 });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.results.map((r) => r.host)).toEqual(['a', 'c']);
    await vi.advanceTimersByTimeAsync(4000);
    // a and c answered at 0, 2000 and 4000 while b hung.
    expect(resultsOf(log, 'a').map((r) => r.at - 1_000_000)).toEqual([0, 2000, 4000]);
    expect(resultsOf(log, 'b')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(resultsOf(log, 'b')).toEqual([{ host: 'b', result: 'error: no answer within 5 s', at: 1_005_000 }]);
    p.stop();
  });

  it('a host that refuses is reported at once and polled again on its schedule', async () => {
    const { p, log } = makePoller((h) => (h === 'c' ? Promise.reject(new Error('connect ECONNREFUSED 10.0.0.3:22\nmore')) : Promise.resolve('ok')));
    p.start();
    await vi.advanceTimersByTimeAsync(2000);
    p.stop();
    expect(resultsOf(log, 'c').map((r) => [r.result, r.at - 1_000_000])).toEqual([
      ['error: connect ECONNREFUSED 10.0.0.3:22', 0],
      ['error: connect ECONNREFUSED 10.0.0.3:22', 2000],
    ]);
    expect(resultsOf(log, 'a')).toHaveLength(2);
  });

  it('pause: no new polls (one under way finishes); resume polls what is due at once', async () => {
    const { p, log } = makePoller(async (h) => {
      await sleep(500);
      return h;
    });
    p.start();
    await vi.advanceTimersByTimeAsync(2100); // second round under way
    p.pause();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(startsOf(log, 'a').map((t) => t - 1_000_000)).toEqual([0, 2000]);
    expect(resultsOf(log, 'a').map((r) => r.at - 1_000_000)).toEqual([500, 2500]); // the poll under way finished
    p.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(startsOf(log, 'a').map((t) => t - 1_000_000)).toEqual([0, 2000, 12_100]);
    p.stop();
  });

  it('stop aborts the probes under way and drops their results', async () => {
    let aborted = 0;
    const { p, log } = makePoller((_h, signal) => {
      signal.addEventListener('abort', () => aborted++);
      return never(signal);
    });
    p.start();
    await vi.advanceTimersByTimeAsync(100);
    p.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(aborted).toBe(3);
    expect(log.results).toEqual([]);
  });

  it('refreshNow without start polls once (dashboard --once) and resolves when every host answered or timed out', async () => {
    const { p, log } = makePoller((h, signal) => (h === 'b' ? never(signal) : Promise.resolve('ok')), { timeoutMs: 3000 });
    let done = false;
    void p.refreshNow().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(2999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.starts).toHaveLength(3); // no loop without start()
  });
});

describe('stale', () => {
  const h = (at: number): HostHealth => parseProbe({ name: 'etcd-01', group: 'etcd', ip: '10.0.0.101' }, '', at, 5);
  it('is stale when the last answer is older than N intervals', () => {
    const s = { intervalMs: 2000, staleAfter: 3 };
    expect(isStale(h(0), 6000, s)).toBe(false);
    expect(isStale(h(0), 6001, s)).toBe(true);
    expect(isStale(h(0), 4001, { intervalMs: 2000, staleAfter: 2 })).toBe(true);
    expect(isStale(undefined, 1e9, s)).toBe(false); // never answered: pending, not stale
  });
});

// The controller on fakes: the same wiring the command uses, with the poller driven by the store.
function hostInfo(name: string): HostInfo {
  return { name, group: 'etcd', index: 1, ip: `10.0.0.${name.length}`, sshAddress: '127.0.0.1', sshPort: 22, memory: 1, cpus: 1, target: { name, host: '127.0.0.1', port: 22, user: 'x' } };
}

function fakeEffects(over: Partial<DashboardEffects> = {}): DashboardEffects {
  return {
    probe: async (h) => parseProbe(h, 'U Id=etcd.service\nU LoadState=loaded\nU ActiveState=active\nU SubState=running\n', Date.now(), 1),
    converge: async () => ({ runId: 'r', status: 'ok', recap: {}, changed: 0, failedHosts: [], durationMs: 1 }),
    journal: async () => [],
    readCommands: async () => [],
    loadSmoke: async () => ({}),
    saveSmoke: async (u) => u,
    close: async () => undefined,
    ...over,
  };
}

describe('dashboard controller', () => {
  it('pauses polling while a dialog is open and turns stale after three intervals; closing it polls at once', async () => {
    const probes: number[] = [];
    const d = createDashboardController({
      spec: defaultSpec({ name: 't' }),
      hosts: [hostInfo('etcd-01')],
      intervalMs: 2000,
      effects: fakeEffects({
        probe: async (h) => {
          probes.push(Date.now() - 1_000_000);
          return parseProbe(h, 'U Id=etcd.service\nU LoadState=loaded\nU ActiveState=active\nU SubState=running\n', Date.now(), 1);
        },
      }),
    });
    await d.start();
    await vi.advanceTimersByTimeAsync(1000);
    const s = () => d.store.getState();
    s().openDialog({ kind: 'help' });
    expect(s().paused).toBe(true);
    await vi.advanceTimersByTimeAsync(6000);
    expect(probes).toEqual([0]);
    expect(isStale(s().health['etcd-01'], Date.now(), s())).toBe(true);
    s().closeDialog();
    expect(s().paused).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(probes).toEqual([0, 7000]);
    expect(isStale(s().health['etcd-01'], Date.now(), s())).toBe(false);
    await d.close();
  });

  it('an unreachable host shows unreachable after its timeout while the others stay current', async () => {
    const d = createDashboardController({
      spec: defaultSpec({ name: 't' }),
      hosts: [hostInfo('etcd-01'), hostInfo('etcd-002')],
      intervalMs: 2000,
      timeoutMs: 5000,
      effects: fakeEffects({ probe: (h, signal) => (h.name === 'etcd-002' ? never(signal) : fakeEffects().probe(h, signal)) }),
    });
    await d.start();
    await vi.advanceTimersByTimeAsync(4000);
    const s = d.store.getState();
    expect(s.health['etcd-01']).toMatchObject({ verdict: 'healthy', checkedAt: 1_004_000 });
    expect(s.health['etcd-002']).toBeUndefined();
    expect(s.polling['etcd-002']).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(d.store.getState().health['etcd-002']).toMatchObject({ verdict: 'unreachable', reachable: false, problems: ['no answer within 5 s'] });
    await d.close();
  });

  it('s reruns the smoke tests of one host: tags test, limit the host; results stream into the run store and the smoke results', async () => {
    let release!: () => void;
    const calls: Array<{ tags?: string[]; limit: string[] }> = [];
    const d = createDashboardController({
      spec: defaultSpec({ name: 't' }),
      hosts: [hostInfo('etcd-01'), hostInfo('etcd-02')],
      effects: fakeEffects({
        async converge(o) {
          calls.push({ tags: o.tags, limit: o.limit });
          const at = Date.now();
          o.emit({ type: 'run-start', at, runId: 'run1', hosts: [{ name: 'etcd-02', group: 'etcd', ip: '10.0.0.2' }], roles: ['etcd'], dryRun: false, tags: ['test'] });
          o.emit({ type: 'task-end', at, host: 'etcd-02', role: 'etcd', task: 'etcd: member healthy over TLS', tags: ['test'], status: 'ok', changes: [], durationMs: 5 });
          await new Promise<void>((r) => (release = r));
          o.emit({ type: 'task-end', at, host: 'etcd-02', role: 'etcd', task: 'etcd: put/get round trip', tags: ['test'], status: 'failed', message: 'put/get failed', changes: [], durationMs: 5 });
          o.emit({ type: 'run-end', at, status: 'failed', recap: {}, durationMs: 10 });
          return { runId: 'run1', status: 'failed', recap: {}, changed: 0, failedHosts: ['etcd-02'], durationMs: 10 };
        },
      }),
    });
    await d.start();
    d.actions.rerunSmoke('etcd-02');
    await vi.advanceTimersByTimeAsync(0);
    const s = () => d.store.getState();
    expect(calls).toEqual([{ tags: ['test'], limit: ['etcd-02'] }]);
    expect(s().run).toMatchObject({ status: 'running', title: 'smoke tests on etcd-02' });
    expect(s().pane).toBe('run');
    expect(s().smoke['etcd-02']!.results.map((r) => r.status)).toEqual(['ok']);
    expect(d.runStore.getState().hosts['etcd-02']!.results).toHaveLength(1);
    // A second run while one is going is refused with a flash.
    d.actions.rerunSmoke('all');
    expect(calls).toHaveLength(1);
    expect(s().flash).toMatchObject({ tone: 'warn' });
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(s().run).toMatchObject({ status: 'failed' });
    expect(s().smoke['etcd-02']!.results.map((r) => r.status)).toEqual(['ok', 'failed']);
    expect(s().flash).toMatchObject({ tone: 'error', text: 'smoke tests on etcd-02: failed on etcd-02' });
    d.actions.reconverge('etcd-01');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls[1]).toEqual({ tags: undefined, limit: ['etcd-01'] });
    await d.close();
  });

  it('journal and units: the installed units, the journal lines into the store', async () => {
    const d = createDashboardController({
      spec: defaultSpec({ name: 't' }),
      hosts: [hostInfo('etcd-01')],
      effects: fakeEffects({ journal: async (h, unit) => [`${h.name} ${unit} line 1`, 'line 2'] }),
    });
    expect(d.actions.unitsOf('etcd-01')).toEqual(['etcd']); // before any answer: the role's units
    d.store.getState().setHealth(unreachableHealth({ name: 'etcd-01', group: 'etcd', ip: '1' }, 'x', 0, 0));
    expect(d.actions.unitsOf('etcd-01')).toEqual(['etcd']);
    d.actions.journal('etcd-01', 'etcd');
    expect(d.store.getState().journal).toMatchObject({ loading: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(d.store.getState().journal).toEqual({ host: 'etcd-01', unit: 'etcd', lines: ['etcd-01 etcd line 1', 'line 2'], loading: false });
    expect(d.store.getState().pane).toBe('journal');
    await d.close();
  });
});
