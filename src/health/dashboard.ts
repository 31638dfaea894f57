/**
 * The dashboard's side effects, behind plain functions the UI calls: the poller (one SSH pool for
 * the dashboard's life), smoke-test reruns and reconverges through the engine, a unit's journal, the
 * commands last run on a host. The UI never opens connections itself.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runConverge } from '../engine/converge.js';
import { KNOWN_HOSTS_FILE, LOG_DIR } from '../engine/converge.js';
import { resolveHosts } from '../engine/inventory.js';
import type { HostInfo } from '../engine/task.js';
import type { ClusterSpec } from '../spec/schema.js';
import { SshPool } from '../ssh/pool.js';
import { shellQuote } from '../ssh/quote.js';
import { applyRunEvent, createDashboardStore, type DashboardStore } from '../state/dashboard-store.js';
import { Poller } from './poller.js';
import { probeHost, unreachable, type HostHealth } from './probe.js';

export interface DashboardActions {
  refresh(): Promise<void>;
  pause(): void;
  resume(): void;
  rerunSmoke(host: string | 'all'): Promise<void>;
  reconverge(host: string): Promise<void>;
  journal(host: string, unit: string): Promise<void>;
  /** The last commands run on a host (from the workspace's command log). */
  lastCommands(host: string, n?: number): Promise<string[]>;
  close(): Promise<void>;
}

export interface Dashboard {
  store: DashboardStore;
  actions: DashboardActions;
  hosts: HostInfo[];
  poller: Poller<HostInfo, HostHealth>;
}

export async function createDashboard(opts: { workspace: string; spec: ClusterSpec; intervalMs: number; signal?: AbortSignal }): Promise<Dashboard> {
  const { workspace, spec } = opts;
  const hosts = await resolveHosts(workspace, spec);
  const store = createDashboardStore({
    cluster: spec.name,
    versions: `Kubernetes ${spec.versions.kubernetes} · etcd ${spec.versions.etcd}`,
    intervalMs: opts.intervalMs,
    hosts: hosts.map((h) => h.name),
  });
  const pool = new SshPool({ knownHostsPath: path.join(workspace, KNOWN_HOSTS_FILE), connectTimeoutMs: Math.max(3000, opts.intervalMs), retries: 0 });
  const ref = (h: HostInfo) => ({ name: h.name, group: h.group, ip: h.ip });
  const poller = new Poller<HostInfo, HostHealth>({
    hosts,
    intervalMs: opts.intervalMs,
    probe: async (h, signal) => probeHost(await pool.connection(h.target, signal), ref(h), signal, Math.max(3000, opts.intervalMs)),
    onError: (h, error, ms) => unreachable(ref(h), error, Date.now(), ms),
    onResult: (h, r) => store.setState((s) => ({ health: { ...s.health, [h.name]: r } })),
    onCycle: ({ endedAt }) => store.setState({ lastRefresh: endedAt }),
  });

  const run = async (title: string, limit: string[], tags?: string[]) => {
    if (store.getState().busy) {
      store.setState({ flash: { text: 'a run is already going on', tone: 'warn', until: Date.now() + 3000 } });
      return;
    }
    store.setState({ busy: true, detail: { kind: 'run', title, lines: [], running: true } });
    try {
      const summary = await runConverge({ workspace, spec, tags, limit, signal: opts.signal ?? new AbortController().signal, emit: (e) => applyRunEvent(store, e) });
      store.setState({ flash: { text: `${title}: ${summary.status === 'ok' ? 'passed' : summary.status}`, tone: summary.status === 'ok' ? 'info' : 'error', until: Date.now() + 5000 } });
    } catch (e) {
      store.setState({ flash: { text: `${title}: ${(e as Error).message.split('\n')[0]}`, tone: 'error', until: Date.now() + 8000 } });
    } finally {
      store.setState({ busy: false });
      void poller.refreshNow();
    }
  };

  const actions: DashboardActions = {
    refresh: () => poller.refreshNow(),
    pause: () => poller.pause(),
    resume: () => poller.resume(),
    rerunSmoke: (host) => run(host === 'all' ? 'smoke tests on every host' : `smoke tests on ${host}`, host === 'all' ? [] : [host], ['test']),
    reconverge: (host) => run(`converge ${host}`, [host]),
    async journal(host, unit) {
      const h = hosts.find((x) => x.name === host);
      if (!h) return;
      store.setState({ detail: { kind: 'journal', host, unit, lines: ['…'] } });
      try {
        const conn = await pool.connection(h.target);
        const r = await conn.exec(`journalctl -u ${shellQuote(unit)} -n 50 --no-pager -o short-iso 2>&1`, { sudo: true, timeoutMs: 10_000 });
        store.setState({ detail: { kind: 'journal', host, unit, lines: r.stdout.split('\n').filter(Boolean) } });
      } catch (e) {
        store.setState({ detail: { kind: 'journal', host, unit, lines: [`could not read the journal: ${(e as Error).message.split('\n')[0]}`] } });
      }
    },
    async lastCommands(host, n = 8) {
      try {
        const text = await readFile(path.join(workspace, LOG_DIR, `${host}.log`), 'utf8');
        return text.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT/.test(l)).slice(-n);
      } catch {
        return [];
      }
    },
    async close() {
      poller.stop();
      await pool.closeAll();
    },
  };
  return { store, actions, hosts, poller };
}

/** One snapshot for `dashboard --once`: every host probed once. */
export async function snapshot(opts: { workspace: string; spec: ClusterSpec; timeoutMs?: number }): Promise<{ healthy: boolean; hosts: HostHealth[] }> {
  const d = await createDashboard({ workspace: opts.workspace, spec: opts.spec, intervalMs: opts.timeoutMs ?? 5000 });
  try {
    await d.poller.refreshNow();
    const h = d.store.getState().health;
    const hosts = d.hosts.map((x) => h[x.name]!).filter(Boolean);
    return { healthy: hosts.every((x) => x.verdict === 'healthy'), hosts };
  } finally {
    await d.actions.close();
  }
}
