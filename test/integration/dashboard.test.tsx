// The dashboard against real systemd machines running the etcd role (3-member TLS cluster from the
// local mirror): rendered with ink-testing-library, every host healthy; a stopped etcd shows failing
// within two polls of that host and recovers when started; `s` on that host reruns its smoke tests and
// the results reach the detail pane; `l` shows the real journal. Then `dashboard --once --output json`
// on the same hosts: exit 0 healthy, 1 with one member stopped. Last, the real command full screen in a
// real terminal (tmux): alternate screen entered, left on `q` and on Ctrl+C, cursor shown, cooked mode.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { buildLocalEtcdMirror } from '../support/mirror.js';
import { runConverge } from '../../src/converge/run.js';
import { openDashboard, type DashboardController } from '../../src/health/actions.js';
import type { HealthReport } from '../../src/health/report.js';
import { dashboardElement } from '../../src/ui/dashboard/run.js';
import { dashboardCommand } from '../../src/commands/dashboard.js';
import { parseCommandArgs } from '../../src/commands/args.js';
import type { ClusterSpec } from '../../src/spec/index.js';

// Masters and workers are in the spec (it needs one of each) but not started: the dashboard watches --limit etcd.
const LAYOUT = { etcd: 3, 'kube-master': 1, 'kube-worker': 1 };
const ETCD = layoutHosts(LAYOUT).filter((h) => h.group === 'etcd');
const INTERVAL_MS = 1000;

let hosts: TestHosts;
let spec: ClusterSpec;
let ws: string;
let dash: DashboardController | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, frame: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${frame()}`);
    await sleep(50);
  }
}

/** The host's row in the list (not the detail pane's title). */
const row = (frame: string, name: string) => frame.split('\n').find((l) => new RegExp(`^ [› ] [✓✗⊘○…?] ${name} `).test(l)) ?? '';

async function once(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const { values, positionals } = parseCommandArgs(dashboardCommand, ['--dir', ws, '--limit', 'etcd', '--once', ...args]);
  const code = await dashboardCommand.run({
    values: values as Record<string, string | boolean | undefined>,
    positionals,
    stdout: { write: (s: string) => ((stdout += s), true), isTTY: false },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: { isTTY: false },
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  const can = await canRunHosts({ systemd: true });
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const mirror = await buildLocalEtcdMirror();
  hosts = await startSystemdHosts({ count: ETCD.length, names: ETCD.map((h) => h.name), ips: ETCD.map((h) => h.octet) });
  spec = specForHosts(hosts, LAYOUT, (s) => {
    s.versions.etcd = mirror.etcdVersion;
    s.artifacts.source = mirror.dir;
  });
  ws = await workspaceFor(spec);
  const r = await runConverge({ workspace: ws, spec, limit: ['etcd'], signal: new AbortController().signal, emit: () => undefined });
  if (r.status !== 'ok') throw new Error(`etcd converge failed: ${JSON.stringify(r.recap)}`);
});

afterAll(async () => {
  await dash?.close();
  await hosts?.teardown();
});

describe('dashboard on 3 real etcd machines', () => {
  it('healthy; a stopped member fails within two polls and recovers; s reruns its smoke tests into the detail pane; l shows its journal', async () => {
    dash = await openDashboard({ workspace: ws, spec, limit: ['etcd'], intervalMs: INTERVAL_MS });
    const d = dash;
    const ui = render(dashboardElement(d, { stdout: { columns: 100, rows: 30 } }));
    const frame = () => ui.lastFrame() ?? '';
    try {
      const t0 = Date.now();
      await d.start();
      await until('3/3 healthy', () => frame().includes('hosts healthy 3/3'), frame);
      const first = Date.now() - t0;
      for (const h of ETCD) expect(row(frame(), h.name)).toMatch(new RegExp(`✓ ${h.name} +healthy`));
      expect(frame()).toMatch(/Units\s[^\n]*\n?.*✓ etcd +active \(running\)/);
      expect(frame()).toMatch(/✓ etcd member +https:\/\/[\d.]+:2379 is healthy/);
      // Round trips: the first poll (SSH connect + sudo probe + poll), then warm ones.
      const cold = ETCD.map((h) => d.store.getState().health[h.name]!.durationMs);
      await until('two more polls', () => ETCD.every((h) => d.poller.pollCount(h.name) >= 3), frame);
      const warm = ETCD.map((h) => d.store.getState().health[h.name]!.durationMs);
      console.log(`dashboard: first screen 3/3 healthy after ${first} ms; probe round trip per host cold ${cold.join('/')} ms, warm ${warm.join('/')} ms`);

      await hosts.exec('etcd-02', 'systemctl stop etcd');
      const stoppedAt = Date.now();
      const polls0 = d.poller.pollCount('etcd-02');
      await until('etcd-02 failing', () => d.store.getState().health['etcd-02']?.verdict === 'failing', frame, 15_000);
      const polls = d.poller.pollCount('etcd-02') - polls0;
      expect(polls).toBeLessThanOrEqual(2);
      await until('the screen shows it', () => /✗ etcd-02 +failing/.test(row(frame(), 'etcd-02')), frame, 5000);
      expect(frame()).toContain('hosts healthy 2/3');
      expect(row(frame(), 'etcd-01')).toMatch(/✓ etcd-01 +healthy/);
      console.log(`etcd-02 stopped → failing on screen after ${Date.now() - stoppedAt} ms (${polls} poll(s) of that host)`);
      ui.stdin.write('j');
      await until('etcd-02 selected', () => /› ✗ etcd-02/.test(frame()), frame, 5000);
      // A poll during the stop may see it "deactivating"; the next one sees it stopped.
      await until('etcd-02 stopped in the detail pane', () => frame().includes('! etcd is inactive'), frame, 5000);
      expect(frame()).toMatch(/✗ etcd +inactive \(dead\)/);

      await hosts.exec('etcd-02', 'systemctl start etcd');
      await until('etcd-02 healthy again', () => d.store.getState().health['etcd-02']?.verdict === 'healthy', frame, 30_000);
      await until('3/3 again', () => frame().includes('hosts healthy 3/3'), frame, 5000);

      // `s` on etcd-02: its smoke tests (tag test, limit etcd-02) through the engine, into the detail pane.
      ui.stdin.write('s');
      await until('the rerun ends', () => ['ok', 'failed', 'cancelled'].includes(d.store.getState().run?.status ?? ''), frame, 120_000);
      expect(d.store.getState().run).toMatchObject({ title: 'smoke tests on etcd-02', status: 'ok', hosts: ['etcd-02'] });
      await until('the results on screen', () => frame().includes('smoke tests on etcd-02  passed'), frame, 5000);
      for (const t of ['etcd: member healthy over TLS', 'etcd: member list equals the spec', 'etcd: put/get round trip', 'etcd: a client without a certificate is refused'])
        expect(frame()).toContain(`✓ pass  ${t}`);
      console.log(frame());
      // Kept as the host's last smoke results, in the store and the workspace.
      expect(d.store.getState().smoke['etcd-02']!.results.filter((r) => r.role === 'etcd').map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
      const saved = JSON.parse(await readFile(path.join(ws, '.kcore', 'last-smoke.json'), 'utf8')) as { hosts: Record<string, unknown> };
      expect(Object.keys(saved.hosts)).toContain('etcd-02');
      ui.stdin.write('\x1b');
      await until('back to the host info', () => /Last smoke tests +\d+ s ago: \d+ passed, 0 failed/.test(frame()), frame, 5000);
      // The command the rerun ran on etcd-02, from its command log: one batch (the facts and the etcd smoke tests'
      // one curl command, roles/etcd/api.ts), shown last however many fit.
      const logged = (await readFile(path.join(ws, '.kcore', 'logs', 'etcd-02.log'), 'utf8')).split('\n').filter((l) => /^\d{4}-/.test(l));
      expect(logged.at(-1)).toMatch(/ \[sudo\] exit=0 \d+ms: printf '%s\\n' '@@kcore-probe-[0-9a-f]+ out 0'/);
      const newest = logged.at(-1)!.replace(/^\S+ /, '').slice(0, 40);
      await until('last commands', () => new RegExp(`Last commands[^\\n]*\\n(.*\\n)*.*${newest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(frame()), frame, 5000);

      // `l`: etcd hosts have one unit, so its journal comes at once (real journalctl over SSH).
      ui.stdin.write('l');
      await until('the journal', () => /journalctl -u etcd -n 50 +on etcd-02 +\d+ lines/.test(frame()), frame, 15_000);
      expect(frame()).toMatch(/etcd\[\d+\]|Started|Stopped/);
    } finally {
      ui.unmount();
      await d.close();
      dash = undefined;
    }
  });

  it('dashboard --once --output json: exit 0 when every member is healthy, 1 with one stopped', async () => {
    const t0 = Date.now();
    const ok = await once('--output', 'json');
    const ms = Date.now() - t0;
    if (ok.code !== 0) console.log(ok.stdout, ok.stderr);
    expect(ok.code).toBe(0);
    const r = JSON.parse(ok.stdout) as HealthReport;
    expect(r).toMatchObject({ version: 1, cluster: 'test', healthy: true, counts: { total: 3, healthy: 3, failing: 0, unreachable: 0 } });
    expect(r.hosts.map((h) => [h.name, h.status, h.checks.etcd?.ok])).toEqual(ETCD.map((h) => [h.name, 'healthy', true]));
    expect(r.hosts.find((h) => h.name === 'etcd-02')!.lastSmoke).toMatchObject({ failed: 0 });
    console.log(`dashboard --once --output json on 3 hosts: ${ms} ms`);

    await hosts.exec('etcd-03', 'systemctl stop etcd');
    try {
      const bad = await once('--output', 'json');
      expect(bad.code).toBe(1);
      const b = JSON.parse(bad.stdout) as HealthReport;
      expect(b.healthy).toBe(false);
      expect(b.counts).toMatchObject({ healthy: 2, failing: 1 });
      expect(b.hosts.find((h) => h.name === 'etcd-03')).toMatchObject({ status: 'failing', problems: ['etcd is inactive'], units: [{ name: 'etcd', installed: true, active: 'inactive' }] });
      const text = await once();
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/etcd-03 +etcd +✗ failing +etcd:inactive/);
      expect(text.stdout).toContain('2/3 hosts healthy, 1 failing');
    } finally {
      await hosts.exec('etcd-03', 'systemctl start etcd');
    }
  });
});

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TMUX = '/usr/bin/tmux';
const VITE_NODE = path.join(REPO, 'node_modules', '.bin', 'vite-node');

describe('dashboard in a real terminal (tmux) on the same hosts', () => {
  let dir = '';
  let sock = '';
  const tmux = (...args: string[]) => execFileSync(TMUX, ['-S', sock, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'dash');
  async function waitFor(what: string | RegExp, ms = 30_000): Promise<string> {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      last = screen();
      if (typeof what === 'string' ? last.includes(what) : what.test(last)) return last;
      await sleep(150);
    }
    throw new Error(`timed out waiting for ${String(what)}; the screen:\n${last}`);
  }

  beforeAll(async () => {
    if (!existsSync(TMUX) || !existsSync(VITE_NODE)) throw new Error('tmux and node_modules/.bin/vite-node are needed for this test (apt-get install tmux; npm ci)');
    dir = await mkdtemp(path.join(tmpdir(), 'kcw-dash-tty-'));
    sock = path.join(dir, 'sock');
    // The command itself, as the CLI runs it (its registration in src/commands/index.ts is the lead's).
    await writeFile(
      path.join(dir, 'entry.ts'),
      [
        `import { dashboardCommand } from ${JSON.stringify(path.join(REPO, 'src/commands/dashboard.js'))};`,
        `import { parseCommandArgs } from ${JSON.stringify(path.join(REPO, 'src/commands/args.js'))};`,
        'const { values, positionals } = parseCommandArgs(dashboardCommand, process.argv.slice(2));',
        'const code = await dashboardCommand.run({ values: values as never, positionals, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd(), signal: new AbortController().signal });',
        'process.exit(code);',
        '',
      ].join('\n'),
    );
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'dash', '-x', '120', '-y', '36', 'env', 'PS1=$ ', 'TERM=xterm-256color', 'bash', '--norc', '--noprofile');
    await waitFor(/^\$ ?$/m, 10_000);
  });

  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const start = () => tmux('send-keys', '-t', 'dash', `clear; ${VITE_NODE} --root ${REPO} ${path.join(dir, 'entry.ts')} --dir ${ws} --limit etcd --interval 1; echo "DASH-EXITED rc=$?"`, 'Enter');
  const flag = (f: string) => tmux('display', '-p', '-t', 'dash', `#{${f}}`).trim();

  it('full screen: healthy hosts, help, a reconverge cancelled by default; q and Ctrl+C leave the alternate screen', async () => {
    start();
    let s = await waitFor('hosts healthy 3/3', 180_000);
    expect(flag('alternate_on')).toBe('1');
    console.log(s);
    expect(s.split('\n')[0]).toMatch(/^ kcore-wizard dashboard {2}test {2}Kubernetes .*✓ hosts healthy 3\/3/);
    tmux('send-keys', '-t', 'dash', 'j');
    await waitFor(/› ✓ etcd-02/);
    tmux('send-keys', '-t', 'dash', 'c');
    await waitFor('Converge etcd-02 again?');
    tmux('send-keys', '-t', 'dash', 'Enter');
    s = await waitFor(/Units/);
    expect(s).not.toContain('Converge etcd-02 again?');
    tmux('send-keys', '-t', 'dash', '?');
    await waitFor('Dashboard keys');
    tmux('send-keys', '-t', 'dash', 'Escape');
    await waitFor(/Units/);
    tmux('send-keys', '-t', 'dash', 'q');
    s = await waitFor('DASH-EXITED rc=0');
    expect(flag('alternate_on')).toBe('0');
    expect(flag('cursor_flag')).toBe('1');
    expect(s).not.toContain('hosts healthy');

    start();
    await waitFor('hosts healthy 3/3', 180_000);
    tmux('send-keys', '-t', 'dash', 'C-c');
    s = await waitFor('DASH-EXITED rc=130');
    expect(flag('alternate_on')).toBe('0');
    expect(flag('cursor_flag')).toBe('1');
    tmux('send-keys', '-t', 'dash', 'stty -a | tr -s " ;" "\\n\\n" | grep -x -e icanon -e echo | sort | tr "\\n" " "; echo STTY-DONE', 'Enter');
    await waitFor(/echo icanon STTY-DONE/);
  });
});
