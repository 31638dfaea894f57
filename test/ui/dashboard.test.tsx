/**
 * The dashboard walked by keys against a controller on fake effects (the same wiring the command uses,
 * without SSH): hosts by role with glyphs, selection, details, reruns streaming into the detail pane,
 * the reconverge confirmation defaulting to Cancel, the journal with its unit picker, the filter,
 * the help generated from the key map, esc never quitting, stale and unreachable hosts, fitting the
 * terminal, and the refusal off a terminal.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createDashboardController, type DashboardController, type DashboardEffects } from '../../src/health/actions.js';
import { parseProbe, type HostHealth } from '../../src/health/probe.js';
import type { HostInfo } from '../../src/engine/task.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { GroupName } from '../../src/spec/schema.js';
import { defaultSpec } from '../../src/spec/index.js';
import { startDashboard, type DashboardHandle } from '../../src/ui/dashboard/run.js';
import { DASHBOARD_KEYMAP } from '../../src/ui/dashboard/keymap.js';
import { dashboardCommand } from '../../src/commands/dashboard.js';
import { FakeStdin, KEYS, SizedStdout, cells, press, settle, stripAnsi, typeText, wait, waitFor as waitUntil } from './harness.js';

/** The harness's wait, with room for a loaded machine (2 cores shared with real-host tests). */
const waitFor = (check: () => boolean, what: string, frame: () => string, ms = 10_000) => waitUntil(check, what, frame, ms);

type Mode = 'healthy' | 'down' | 'hang' | 'refuse' | 'bare';

const UNIT_LINES: Record<GroupName, string[]> = {
  etcd: ['etcd'],
  'kube-master': ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy', 'flanneld'],
  'kube-worker': ['containerd', 'kubelet', 'kube-proxy', 'flanneld'],
};

function output(group: GroupName, mode: Mode): string {
  const block = (u: string, i: number) => {
    const load = mode === 'bare' ? 'not-found' : 'loaded';
    const active = mode === 'bare' || (mode === 'down' && i === 0) ? 'inactive' : 'active';
    return `U Id=${u}.service\nU LoadState=${load}\nU ActiveState=${active}\nU SubState=${active === 'active' ? 'running' : 'dead'}`;
  };
  let out = UNIT_LINES[group].map(block).join('\nU \n') + '\n';
  if (group === 'etcd' && mode !== 'bare') out += mode === 'down' ? 'E - the etcd service is not running\n' : 'E 0 https://10.0.0.101:2379 is healthy: successfully committed proposal: took = 2ms\n';
  return out;
}

function host(name: string, group: GroupName, octet: number): HostInfo {
  return { name, group, index: 1, ip: `10.0.0.${octet}`, sshAddress: '127.0.0.1', sshPort: 22, memory: 1, cpus: 1, target: { name, host: '127.0.0.1', port: 22, user: 'x' } };
}

const HOSTS = [host('etcd-01', 'etcd', 101), host('etcd-02', 'etcd', 102), host('kube-master-01', 'kube-master', 111), host('kube-worker-01', 'kube-worker', 121)];

interface Fake {
  modes: Record<string, Mode>;
  probes: string[];
  converges: Array<{ tags?: string[]; limit: string[] }>;
  journals: Array<{ host: string; unit: string }>;
  /** Resolves the converge under way. */
  finishRun?: () => void;
}

function fakeEffects(fake: Fake): DashboardEffects {
  return {
    probe(h, signal) {
      fake.probes.push(h.name);
      const mode = fake.modes[h.name] ?? 'healthy';
      if (mode === 'hang') return new Promise<HostHealth>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
      if (mode === 'refuse') return Promise.reject(new Error(`connect ECONNREFUSED ${h.ip}:22`));
      return Promise.resolve(parseProbe(h, output(h.group, mode), Date.now(), 12));
    },
    async converge(o) {
      fake.converges.push({ tags: o.tags, limit: o.limit });
      const at = Date.now();
      const emit = (e: Record<string, unknown>) => o.emit({ at, ...e } as EngineEvent);
      emit({ type: 'run-start', runId: 'run-1', hosts: o.limit.map((n) => ({ name: n, group: HOSTS.find((h) => h.name === n)!.group, ip: '10.0.0.1' })), roles: ['etcd'], dryRun: false, tags: o.tags });
      for (const n of o.limit) {
        emit({ type: 'host-start', host: n, role: 'etcd' });
        emit({ type: 'task-end', host: n, role: 'etcd', task: 'etcd: member healthy over TLS', tags: ['test'], status: 'ok', changes: [], durationMs: 3 });
      }
      await new Promise<void>((r) => (fake.finishRun = r));
      for (const n of o.limit) {
        emit({ type: 'task-end', host: n, role: 'etcd', task: 'etcd: put/get round trip', tags: ['test'], status: n === 'etcd-02' ? 'failed' : 'ok', message: n === 'etcd-02' ? 'put/get through etcd-02 failed: context deadline exceeded' : undefined, changes: [], durationMs: 3 });
        emit({ type: 'host-end', host: n, role: 'etcd', state: n === 'etcd-02' ? 'failed' : 'ok' });
      }
      const failed = o.limit.filter((n) => n === 'etcd-02');
      emit({ type: 'run-end', status: failed.length ? 'failed' : 'ok', recap: {}, durationMs: 5 });
      return { runId: 'run-1', status: failed.length ? 'failed' : 'ok', recap: {}, changed: 0, failedHosts: failed, durationMs: 5 };
    },
    async journal(h, unit) {
      fake.journals.push({ host: h.name, unit });
      return Array.from({ length: 60 }, (_, i) => `Nov 26 21:00:${String(i).padStart(2, '0')} ${h.name} ${unit}[123]: line ${i + 1}`);
    },
    readCommands: async (name) => [{ at: '2026-11-26T20:00:01.000Z', text: `[sudo] exit=0 12ms: systemctl restart etcd on ${name}` }],
    loadSmoke: async () => ({}),
    saveSmoke: async (u) => u,
    close: async () => undefined,
  };
}

interface Session {
  stdin: FakeStdin;
  stdout: SizedStdout;
  handle: DashboardHandle;
  controller: DashboardController;
  fake: Fake;
  frame(): string;
  code?: number;
}

const sessions: Session[] = [];

async function open(opts: { modes?: Record<string, Mode>; size?: [number, number]; intervalMs?: number; timeoutMs?: number; staleAfter?: number; flashMs?: number } = {}): Promise<Session> {
  const fake: Fake = { modes: { ...opts.modes }, probes: [], converges: [], journals: [] };
  const controller = createDashboardController({ spec: defaultSpec({ name: 'demo' }), hosts: HOSTS, effects: fakeEffects(fake), intervalMs: opts.intervalMs ?? 60_000, timeoutMs: opts.timeoutMs, staleAfter: opts.staleAfter });
  const stdin = new FakeStdin();
  const [cols, rows] = opts.size ?? [100, 30];
  const stdout = new SizedStdout(cols, rows);
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
      flashMs: opts.flashMs,
    });
  });
  await settle();
  const s: Session = { stdin, stdout, handle, controller, fake, frame: () => stripAnsi(stdout.lastFrame()) };
  void handle.done.then((c) => (s.code = c));
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

/** The row of a host in the list. */
const row = (s: Session, name: string) => s.frame().split('\n').find((l) => new RegExp(`^ [› ] [✓✗⊘○…?] ${name} `).test(l)) ?? '';

function expectFits(s: Session) {
  const lines = s.frame().split('\n');
  expect(lines.length).toBeLessThanOrEqual(s.stdout.rows - 1);
  for (const l of lines) expect(cells(l)).toBeLessThanOrEqual(s.stdout.columns);
}

describe('dashboard screen', () => {
  it('shows the cluster, versions, hosts healthy x/y and the hosts grouped by role with a glyph and a word', async () => {
    const s = await open({ modes: { 'etcd-02': 'down', 'kube-worker-01': 'refuse' } });
    await waitFor(() => s.frame().includes('hosts healthy 2/4'), 'the first answers', s.frame);
    const f = s.frame();
    expect(f).toContain('kcore-wizard dashboard');
    expect(f).toMatch(/demo +Kubernetes \S+ · etcd \S+/);
    expect(f).toMatch(/refreshed \d+ s ago/);
    expect(f).toMatch(/ etcd \(2\)[^\n]*\n › ✓ etcd-01 +healthy/);
    expect(row(s, 'etcd-02')).toMatch(/✗ etcd-02 +failing/);
    expect(f).toMatch(/ masters \(1\)[^\n]*\n {3}✓ kube-master-01 +healthy/);
    expect(f).toMatch(/ workers \(1\)[^\n]*\n {3}⊘ kube-worker-01 +unreachable/);
    // The detail pane of the selected host.
    expect(f).toMatch(/✓ etcd-01 +etcd · 10\.0\.0\.101 +healthy/);
    expect(f).toMatch(/Units\n?.*✓ etcd +active \(running\)/);
    expect(f).toContain('etcd member');
    expect(f).toContain('Last smoke tests  none recorded yet (s runs them)');
    expect(f).toContain(`${new Date('2026-11-26T20:00:01.000Z').toTimeString().slice(0, 8)} [sudo] exit=0 12ms: systemctl restart`); // local time
    expect(f).toMatch(/ ↑↓\/jk select {2}enter details {2}s smoke {2}S all {2}c converge {2}l journal {2}.*\? help {2}q quit$/);
    expectFits(s);
  });

  it('fits 80×24 and 200×60, and below 70 columns shows the list alone (enter for details)', async () => {
    for (const size of [
      [80, 24],
      [200, 60],
    ] as Array<[number, number]>) {
      const s = await open({ size });
      await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
      expectFits(s);
    }
    const narrow = await open({ size: [60, 20] });
    await waitFor(() => narrow.frame().includes('hosts healthy 4/4'), 'answers', narrow.frame);
    expect(narrow.frame()).not.toContain('Units');
    await press(narrow.stdin, KEYS.enter);
    expect(narrow.frame()).toContain('Units');
    expectFits(narrow);
  });

  it('the status glyphs differ without colour: ✓ ✗ ⊘ ○ …', async () => {
    const s = await open({ modes: { 'etcd-01': 'healthy', 'etcd-02': 'down', 'kube-master-01': 'bare', 'kube-worker-01': 'hang' }, timeoutMs: 60_000 });
    await waitFor(() => row(s, 'kube-master-01').includes('not installed'), 'answers', s.frame);
    expect(row(s, 'etcd-01')).toContain('✓ etcd-01');
    expect(row(s, 'etcd-02')).toContain('✗ etcd-02');
    expect(row(s, 'kube-master-01')).toMatch(/○ kube-master-01 +not installed/);
    expect(row(s, 'kube-worker-01')).toMatch(/… kube-worker-01 +checking/);
  });

  it('a host whose last answer is too old shows stale; a hung host turns unreachable after its timeout', async () => {
    const s = await open({ intervalMs: 500, timeoutMs: 4000, staleAfter: 2 });
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    s.fake.modes['etcd-02'] = 'hang';
    await waitFor(() => row(s, 'etcd-02').includes('? etcd-02'), 'etcd-02 stale', s.frame, 10_000);
    expect(row(s, 'etcd-02')).toMatch(/\? etcd-02 +stale/);
    expect(row(s, 'etcd-01')).toMatch(/✓ etcd-01 +healthy/); // the others keep answering
    expect(s.frame()).toMatch(/\? 1 stale/);
    await waitFor(() => row(s, 'etcd-02').includes('unreachable'), 'etcd-02 unreachable', s.frame, 15_000);
    await press(s.stdin, 'j');
    expect(s.frame()).toContain('! no answer within 4 s');
  }, 40_000);
});

describe('dashboard keys', () => {
  it('j/k and arrows select; enter shows the details full width; esc goes back and never quits', async () => {
    const s = await open();
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 'j');
    expect(s.frame()).toMatch(/› ✓ etcd-02/);
    await press(s.stdin, KEYS.down, KEYS.down);
    expect(s.frame()).toMatch(/› ✓ kube-worker-01/);
    await press(s.stdin, KEYS.down);
    expect(s.frame()).toMatch(/› ✓ kube-worker-01/); // stays on the last
    await press(s.stdin, 'k', KEYS.up);
    expect(s.frame()).toMatch(/› ✓ etcd-02/);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).not.toContain('masters (1)');
    expect(s.frame()).toMatch(/✓ etcd-02 +etcd · 10\.0\.0\.102/);
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('masters (1)');
    for (let i = 0; i < 4; i++) await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('esc goes back; q quits');
    expect(s.code).toBeUndefined();
  });

  it('s reruns the selected host\'s smoke tests: results stream into the detail pane, then the last smoke results', async () => {
    const s = await open({ size: [140, 30] });
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 'j', 's');
    expect(s.fake.converges).toEqual([{ tags: ['test'], limit: ['etcd-02'] }]);
    await waitFor(() => s.frame().includes('✓ pass  etcd: member healthy over TLS'), 'first result', s.frame);
    expect(s.frame()).toMatch(/smoke tests on etcd-02 +running/);
    expect(s.frame()).toContain('x cancel run');
    await act(async () => s.fake.finishRun!());
    await waitFor(() => s.frame().includes('✗ FAIL  etcd: put/get round trip: put/get through etcd-02 failed'), 'second result', s.frame);
    expect(s.frame()).toMatch(/smoke tests on etcd-02 +failed/);
    expect(s.frame()).toContain('✗ smoke tests on etcd-02: failed on etcd-02');
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toMatch(/Last smoke tests +\d+ s ago: 1 passed, 1 failed/);
    expect(s.frame()).toMatch(/✗ etcd: put\/get round trip: put\/get through etcd-02 failed/);
  });

  it('S reruns every host; a second run while one goes is refused with a flash', async () => {
    const s = await open();
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 'S');
    expect(s.fake.converges).toEqual([{ tags: ['test'], limit: ['etcd-01', 'etcd-02', 'kube-master-01', 'kube-worker-01'] }]);
    await press(s.stdin, 's');
    expect(s.fake.converges).toHaveLength(1);
    expect(s.frame()).toContain('smoke tests on every host is still running');
    await act(async () => s.fake.finishRun!());
    await waitFor(() => s.frame().includes('smoke tests on every host  failed'), 'run end', s.frame);
  });

  it('c asks first with Cancel chosen: enter cancels; → then enter converges; polling paused while the dialog is open', async () => {
    const s = await open();
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 'c');
    expect(s.frame()).toContain('Converge etcd-01 again?');
    expect(s.frame()).toContain('[ Cancel ]');
    expect(s.controller.store.getState().paused).toBe(true);
    expect(s.controller.poller.paused).toBe(true);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).not.toContain('Converge etcd-01 again?');
    expect(s.fake.converges).toEqual([]);
    expect(s.controller.poller.paused).toBe(false);
    await press(s.stdin, 'c', KEYS.esc);
    expect(s.fake.converges).toEqual([]);
    expect(s.code).toBeUndefined();
    await press(s.stdin, 'c', KEYS.right);
    expect(s.frame()).toContain('[ Converge ]');
    await press(s.stdin, KEYS.enter);
    expect(s.fake.converges).toEqual([{ tags: undefined, limit: ['etcd-01'] }]);
    await waitFor(() => s.frame().includes('converge etcd-01  running'), 'run pane', s.frame);
    await act(async () => s.fake.finishRun!());
  });

  it('l on a host with one unit shows its journal; on a master it asks which unit first', async () => {
    const s = await open({ size: [120, 30] });
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 'l');
    expect(s.fake.journals).toEqual([{ host: 'etcd-01', unit: 'etcd' }]);
    await waitFor(() => s.frame().includes('line 60'), 'journal', s.frame);
    expect(s.frame()).toMatch(/journalctl -u etcd -n 50 +on etcd-01 +60 lines/);
    expect(s.frame()).not.toContain('etcd[123]: line 1\n'); // the newest lines that fit
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('Units');
    await press(s.stdin, 'j', 'j', 'l');
    expect(s.frame()).toContain('Journal of which unit on kube-master-01?');
    expect(s.frame()).toMatch(/› kube-apiserver/);
    await press(s.stdin, 'j', 'j', KEYS.enter);
    expect(s.fake.journals[1]).toEqual({ host: 'kube-master-01', unit: 'kube-scheduler' });
    await waitFor(() => s.frame().includes('kube-scheduler[123]: line 60'), 'journal', s.frame);
  });

  it('/ filters by name, group or status; enter keeps it, esc clears it', async () => {
    const s = await open({ modes: { 'etcd-02': 'down' } });
    await waitFor(() => s.frame().includes('hosts healthy 3/4'), 'answers', s.frame);
    await press(s.stdin, '/');
    await typeText(s.stdin, 'fail');
    expect(s.frame()).toContain('/fail▌');
    expect(row(s, 'etcd-02')).toContain('› ✗ etcd-02');
    expect(row(s, 'etcd-01')).toBe('');
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('/fail  (1 of 4)');
    await press(s.stdin, 's'); // keys work again after enter
    expect(s.fake.converges).toEqual([{ tags: ['test'], limit: ['etcd-02'] }]);
    await act(async () => s.fake.finishRun!());
    await press(s.stdin, KEYS.esc, KEYS.esc);
    expect(row(s, 'etcd-01')).toContain('etcd-01');
    await press(s.stdin, '/');
    await typeText(s.stdin, 'worker');
    expect(row(s, 'kube-worker-01')).toContain('kube-worker-01');
    expect(row(s, 'kube-master-01')).toBe('');
    await press(s.stdin, KEYS.esc);
    expect(row(s, 'kube-master-01')).toContain('kube-master-01');
  });

  it('? shows every key of the key map; esc closes it; r polls every host now', async () => {
    const s = await open({ size: [100, 40] });
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, '?');
    const f = s.frame();
    expect(f).toContain('Dashboard keys');
    for (const b of DASHBOARD_KEYMAP.filter((x) => !x.quiet)) expect(f).toContain(b.help.slice(0, 40));
    expect(f).toContain('✓ healthy ✗ failing ⊘ unreachable ○ not installed … checking ? stale');
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).not.toContain('Dashboard keys');
    const before = s.fake.probes.length;
    await press(s.stdin, 'r');
    await waitFor(() => s.fake.probes.length === before + 4, 'a poll of every host', s.frame);
    expect(s.frame()).toContain('refreshing every host');
  });

  it('the flash line clears itself', async () => {
    const s = await open({ flashMs: 150 });
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 'r');
    expect(s.frame()).toContain('refreshing every host');
    await wait(300);
    expect(s.frame()).not.toContain('refreshing every host');
  });

  it('q quits (0); during a rerun it asks first with Cancel chosen', async () => {
    const s = await open();
    await waitFor(() => s.frame().includes('hosts healthy 4/4'), 'answers', s.frame);
    await press(s.stdin, 's', 'q');
    expect(s.frame()).toContain('A rerun is in progress');
    await press(s.stdin, KEYS.enter);
    expect(s.code).toBeUndefined();
    await act(async () => s.fake.finishRun!());
    await settle();
    await press(s.stdin, 'q');
    await act(async () => {
      await s.handle.done;
    });
    expect(s.code).toBe(0);
  });

  it('ctrl+c quits with 130', async () => {
    const s = await open();
    await press(s.stdin, KEYS.ctrlC);
    await act(async () => {
      await s.handle.done;
    });
    expect(s.code).toBe(130);
  });
});

describe('dashboard command off a terminal', () => {
  it('refuses without --once, exit 2, naming --once; nothing drawn', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await dashboardCommand.run({
      values: {},
      positionals: ['/nonexistent'],
      stdout: { isTTY: false, write: (x: string) => out.push(x) },
      stderr: { write: (x: string) => err.push(x) },
      stdin: { isTTY: false },
      env: {},
      cwd: '/tmp',
      signal: new AbortController().signal,
    });
    expect(code).toBe(2);
    expect(err.join('')).toBe('kcore-wizard: the dashboard needs a terminal; for scripts run `kcore-wizard dashboard --once` (add `--output json` for JSON)\n');
    expect(out).toEqual([]);
  });
});

describe('docs/dashboard.md', () => {
  it('lists every key of the main screen', () => {
    const doc = readFileSync(new URL('../../docs/dashboard.md', import.meta.url), 'utf8');
    const keys = doc.slice(doc.indexOf('## Keys'), doc.indexOf('## Flags'));
    for (const b of DASHBOARD_KEYMAP.filter((x) => x.scope === 'main' && !x.quiet)) for (const k of b.keys.split('/').filter(Boolean)) expect(keys, b.id).toContain(`\`${k}\``);
    expect(keys).toContain('`/`');
  });
});
