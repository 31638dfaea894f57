/**
 * The dashboard's side effects behind plain functions: the poller (one SSH pool for the dashboard's
 * life), smoke-test reruns and reconverges through the engine (events → a run store and the smoke
 * results), a unit's journal over SSH, the commands last run on a host. The UI never opens connections
 * or runs processes: it reads the stores and calls these actions. The real effects are injected
 * (`sshEffects`), so tests drive the same controller with fakes.
 */
import path from 'node:path';
import { KNOWN_HOSTS_FILE, runConverge, type RunSummary } from '../converge/run.js';
import type { EngineEvent } from '../engine/events.js';
import { resolveHosts } from '../converge/inventory.js';
import { limitHosts } from '../engine/runner.js';
import type { HostInfo } from '../engine/task.js';
import { UsageError } from '../spec/errors.js';
import type { ClusterSpec } from '../spec/schema.js';
import { SshPool } from '../ssh/pool.js';
import { shellQuote } from '../ssh/quote.js';
import { createRunStore, type RunStore } from '../state/run-store.js';
import { createDashboardStore, type ApiView, type CertsView, type DashboardStore } from '../state/dashboard-store.js';
import { listCertificates } from '../pki/list.js';
import { clusterReadScript, mastersOf, parseClusterRead, parseNodeList, READYZ_TIMEOUT_S } from './api-master.js';
import { Poller, defaultTimeoutMs, firstLine } from './poller.js';
import { isInstalled, probeHost, UNITS, unreachableHealth, type HostHealth, type HostRef } from './probe.js';
import { loadLastSmoke, readLastCommands, saveLastSmoke, smokeCollector, type LoggedCommand, type SmokeMap } from './smoke.js';

export const DEFAULT_INTERVAL_MS = 2000;
export const JOURNAL_LINES = 50;
/** A certificate expiring within this many days is a warning in the header (as in `kcore-wizard certs`). */
export const CERT_WARN_DAYS = 30;
/** What the dashboard reads cluster-wide: the Nodes, as the API server sees them. */
export const NODES_PATH = '/api/v1/nodes';

/** What the UI may ask for. Every method is safe to call at any time and never throws. */
export interface DashboardActions {
  /** Poll every host now (`r`). */
  refresh(): void;
  /** Rerun the smoke tests (tag `test`) on one host or on every host of the dashboard. */
  rerunSmoke(host: string | 'all'): void;
  /** Converge one host again (every role, no tags). */
  reconverge(host: string): void;
  /** `journalctl -u <unit> -n 50` of a host, into the store's journal view. */
  journal(host: string, unit: string): void;
  /** Reload the commands last run on a host (from its command log). */
  loadCommands(host: string): void;
  /** The units the `l` key offers for a host: its role units that are installed (all of them when unknown). */
  unitsOf(host: string): string[];
  /** Cancel a rerun in progress. */
  cancelRun(): void;
}

/** The outside world, injected. */
export interface DashboardEffects {
  probe(host: HostInfo, signal: AbortSignal): Promise<HostHealth>;
  converge(opts: { tags?: string[]; limit: string[]; signal: AbortSignal; emit: (e: EngineEvent) => void }): Promise<RunSummary>;
  journal(host: HostInfo, unit: string, signal: AbortSignal): Promise<string[]>;
  readCommands(host: string): Promise<LoggedCommand[]>;
  loadSmoke(): Promise<SmokeMap>;
  saveSmoke(update: SmokeMap): Promise<SmokeMap>;
  /**
   * The cluster-wide read through the first master whose /readyz answers, tried from the masters in the
   * order given (the first reachable over SSH runs the choice). Absent: no cluster read.
   */
  clusterRead?(masters: HostInfo[], signal: AbortSignal): Promise<ApiView>;
  /** The workspace's certificates close to expiry (local files). Absent: not shown. */
  loadCerts?(): Promise<CertsView>;
  close(): Promise<void>;
}

export interface DashboardController {
  store: DashboardStore;
  runStore: RunStore;
  actions: DashboardActions;
  poller: Poller<HostInfo, HostHealth>;
  /** The cluster-wide read's loop (one "host": the cluster), when the dashboard watches a master. */
  apiPoller?: Poller<{ name: string }, ApiView>;
  hosts: HostInfo[];
  /** Load the saved smoke results (`start` does it too). */
  loadSaved(): Promise<void>;
  /** Load the saved smoke results and start polling. */
  start(): Promise<void>;
  /** Stop polling, cancel a rerun, close connections. */
  close(): Promise<void>;
}

export interface DashboardOptions {
  spec: ClusterSpec;
  hosts: HostInfo[];
  effects: DashboardEffects;
  intervalMs?: number;
  timeoutMs?: number;
  staleAfter?: number;
  now?: () => number;
}

const ref = (h: HostRef): HostRef => ({ name: h.name, group: h.group, ip: h.ip });

/**
 * The masters to run the cluster read from, in the spec's order but those whose last probe found them
 * unreachable last: a dead host costs an SSH connect timeout, a live one with a dead API server does
 * not (the choice on it asks every master's /readyz). Pure.
 */
export function clusterReadOrder(masters: readonly HostInfo[], health: Record<string, HostHealth | undefined>): HostInfo[] {
  const up = masters.filter((m) => health[m.name]?.reachable !== false);
  return [...up, ...masters.filter((m) => !up.includes(m))];
}

export function createDashboardController(opts: DashboardOptions): DashboardController {
  const { spec, hosts, effects } = opts;
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const store = createDashboardStore({
    cluster: spec.name,
    versions: { kubernetes: spec.versions.kubernetes, etcd: spec.versions.etcd },
    intervalMs,
    staleAfter: opts.staleAfter,
    hosts: hosts.map(ref),
  });
  const runStore = createRunStore();
  const s = () => store.getState();
  const masters = hosts.filter((h) => h.group === 'kube-master');
  const firstMaster = mastersOf(spec)[0]?.name ?? '';
  const clusterRead = effects.clusterRead;
  const apiPoller =
    clusterRead && masters.length
      ? new Poller<{ name: string }, ApiView>({
          hosts: [{ name: 'cluster' }],
          key: (h) => h.name,
          intervalMs,
          // It may try a second master after the first did not answer over SSH.
          timeoutMs: 2 * (opts.timeoutMs ?? defaultTimeoutMs(intervalMs)),
          now,
          probe: (_h, signal) => clusterRead(clusterReadOrder(masters, s().health), signal),
          onError: (_h, error) => ({ master: null, first: firstMaster, passed: [], error, checkedAt: now() }),
          onResult: (_h, r) => s().setApi(r),
        })
      : undefined;
  const loadCerts = async () => {
    if (!effects.loadCerts) return;
    try {
      const c = await effects.loadCerts();
      if (!closed) s().setCerts(c);
    } catch (e) {
      if (!closed) s().setCerts({ warnDays: CERT_WARN_DAYS, total: 0, expiring: [], error: firstLine(e) });
    }
  };

  const poller = new Poller<HostInfo, HostHealth>({
    hosts,
    key: (h) => h.name,
    intervalMs,
    timeoutMs: opts.timeoutMs,
    now,
    probe: (h, signal) => effects.probe(h, signal),
    onStart: (h) => s().setPolling(h.name, true),
    onError: (h, error, ms) => unreachableHealth(ref(h), error, now(), ms),
    onResult: (h, r) => {
      s().setPolling(h.name, false);
      s().setHealth(r);
    },
  });

  // Paused while a dialog is open: the screen behind it is not being read, and a dialog's choice
  // should not race a redraw.
  const unsubscribe = store.subscribe((next, prev) => {
    if (!!next.dialog === !!prev.dialog) return;
    if (next.dialog) {
      poller.pause();
      apiPoller?.pause();
    } else {
      poller.resume();
      apiPoller?.resume();
    }
    s().setPaused(poller.paused);
  });

  let runAc: AbortController | undefined;
  let runIds = 0;
  let closed = false;
  const journalAc = { current: undefined as AbortController | undefined };

  const loadCommands = (host: string) => {
    effects.readCommands(host).then(
      (c) => !closed && s().setCommands(host, c),
      () => undefined,
    );
  };

  const run = (kind: 'smoke' | 'reconverge', limit: string[], title: string) => {
    if (s().run?.status === 'running') {
      s().flashMessage(`${s().run!.title} is still running: wait for it (or esc cancels it)`, 'warn');
      return;
    }
    const id = ++runIds;
    const ac = new AbortController();
    runAc = ac;
    runStore.getState().reset();
    s().setRun({ id, title, kind, hosts: limit, status: 'running', startedAt: now() });
    s().setPane('run');
    s().flashMessage(`${title}…`);
    const smoke = smokeCollector();
    const emit = (e: EngineEvent) => {
      if (closed) return;
      runStore.getState().apply(e);
      smoke.add(e);
      if (e.type === 'task-end' && e.tags.includes('test')) {
        const results = smoke.of(e.host);
        if (results) s().setSmoke({ [e.host]: { at: e.at, results } });
      }
    };
    effects
      .converge({ tags: kind === 'smoke' ? ['test'] : undefined, limit, signal: ac.signal, emit })
      .then(
        async (summary) => {
          const update = smoke.finish(now());
          if (Object.keys(update).length) {
            try {
              s().setSmoke(await effects.saveSmoke(update), true);
            } catch {
              s().setSmoke(update);
            }
          }
          if (closed) return;
          s().setRun({ ...s().run!, status: summary.status, endedAt: now() });
          const failed = summary.failedHosts.length;
          s().flashMessage(
            summary.status === 'ok' ? `${title}: passed` : summary.status === 'cancelled' ? `${title}: cancelled` : `${title}: failed on ${failed ? summary.failedHosts.join(', ') : 'a host'}`,
            summary.status === 'ok' ? 'info' : summary.status === 'cancelled' ? 'warn' : 'error',
          );
        },
        (e: unknown) => {
          if (closed) return;
          s().setRun({ ...s().run!, status: 'failed', endedAt: now(), error: firstLine(e) });
          s().flashMessage(`${title}: ${firstLine(e)}`, 'error');
        },
      )
      .finally(() => {
        if (runAc === ac) runAc = undefined;
        if (closed) return;
        for (const h of limit) loadCommands(h);
        void poller.refreshNow(limit);
        void apiPoller?.refreshNow();
      });
  };

  const actions: DashboardActions = {
    refresh() {
      s().flashMessage('refreshing every host');
      void poller.refreshNow();
      void apiPoller?.refreshNow();
      void loadCerts();
      const sel = s().selected;
      if (sel) loadCommands(sel);
    },
    rerunSmoke(host) {
      const all = host === 'all';
      if (!all && !hosts.some((h) => h.name === host)) return;
      run('smoke', all ? hosts.map((h) => h.name) : [host], all ? 'smoke tests on every host' : `smoke tests on ${host}`);
    },
    reconverge(host) {
      if (!hosts.some((h) => h.name === host)) return;
      run('reconverge', [host], `converge ${host}`);
    },
    journal(host, unit) {
      const h = hosts.find((x) => x.name === host);
      if (!h) return;
      journalAc.current?.abort();
      const ac = new AbortController();
      journalAc.current = ac;
      s().setJournal({ host, unit, lines: [], loading: true });
      s().setPane('journal');
      effects.journal(h, unit, ac.signal).then(
        (lines) => !closed && !ac.signal.aborted && s().setJournal({ host, unit, lines, loading: false }),
        (e: unknown) => !closed && !ac.signal.aborted && s().setJournal({ host, unit, lines: [], loading: false, error: firstLine(e) }),
      );
    },
    loadCommands,
    unitsOf(host) {
      const h = hosts.find((x) => x.name === host);
      if (!h) return [];
      const health = s().health[host];
      const installed = health?.units.filter(isInstalled).map((u) => u.name) ?? [];
      return installed.length ? installed : [...UNITS[h.group]];
    },
    cancelRun() {
      runAc?.abort(new Error('cancelled from the dashboard'));
    },
  };

  return {
    store,
    runStore,
    actions,
    poller,
    apiPoller,
    hosts,
    async loadSaved() {
      try {
        s().setSmoke(await effects.loadSmoke(), true);
      } catch {
        /* no saved results */
      }
      await loadCerts();
    },
    async start() {
      await this.loadSaved();
      poller.start();
      apiPoller?.start();
      const sel = s().selected;
      if (sel) loadCommands(sel);
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      poller.stop();
      apiPoller?.stop();
      journalAc.current?.abort();
      runAc?.abort(new Error('the dashboard closed'));
      await effects.close();
    },
  };
}

/** The hosts of a workspace the dashboard watches (`--limit` keeps some hosts or groups). */
export async function dashboardHosts(workspace: string, spec: ClusterSpec, opts: { limit?: string[]; sshConfig?: string } = {}): Promise<HostInfo[]> {
  const all = await resolveHosts(workspace, spec, { sshConfig: opts.sshConfig });
  const { hosts, unknown } = limitHosts(all, opts.limit);
  if (unknown.length) throw new UsageError(`--limit ${unknown.join(',')}: no such host or group (hosts: ${all.map((h) => h.name).join(', ')}; groups: etcd, kube-master, kube-worker)`);
  return hosts;
}

/**
 * The real effects: one SSH pool with the workspace's known_hosts (checked like converge does; a
 * changed key is refused and shown as the host's problem), the engine for reruns, the workspace's
 * files for the smoke results and the command logs.
 */
export function sshEffects(opts: { workspace: string; spec: ClusterSpec; intervalMs?: number; timeoutMs?: number; sshConfig?: string }): DashboardEffects {
  const { workspace, spec } = opts;
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs(opts.intervalMs ?? DEFAULT_INTERVAL_MS);
  const pool = new SshPool({
    knownHostsPath: path.join(workspace, KNOWN_HOSTS_FILE),
    connectTimeoutMs: timeoutMs,
    // The poller retries on its own schedule; a connection retrying inside would outlive the poll.
    retries: 0,
    keepaliveIntervalMs: 5000,
  });
  return {
    async probe(h, signal) {
      const conn = await pool.connection(h.target, signal);
      return probeHost(conn, ref(h), { signal, timeoutMs });
    },
    converge: (o) => runConverge({ workspace, spec, sshConfig: opts.sshConfig, ...o }),
    async journal(h, unit, signal) {
      const conn = await pool.connection(h.target, signal);
      const r = await conn.exec(`journalctl -u ${shellQuote(unit)} -n ${JOURNAL_LINES} --no-pager 2>&1`, { sudo: true, signal, timeoutMs: 15_000 });
      const lines = r.stdout.split('\n').filter((l) => l.length > 0);
      if (r.exitCode !== 0 && !lines.length) throw new Error(`journalctl exited with status ${r.exitCode}`);
      return lines;
    },
    async clusterRead(masters, signal) {
      const refs = mastersOf(spec);
      const first = refs[0]?.name ?? '';
      const unreachable: string[] = [];
      for (const m of masters) {
        let stdout: string;
        try {
          const conn = await pool.connection(m.target, signal);
          const r = await conn.exec(clusterReadScript(refs, NODES_PATH), { sudo: true, signal, timeoutMs: (refs.length * (READYZ_TIMEOUT_S + 2) + 8) * 1000 });
          stdout = r.stdout;
        } catch (e) {
          unreachable.push(`${m.name}: ${firstLine(e)}`);
          continue;
        }
        const c = parseClusterRead(refs, stdout);
        const view: ApiView = { master: c.chosen?.name ?? null, server: c.chosen?.server, first, passed: c.passed, via: m.name, checkedAt: Date.now() };
        if (c.chosen && c.body !== null) {
          try {
            view.nodes = parseNodeList(c.body);
          } catch (e) {
            view.error = `GET ${NODES_PATH} through ${c.chosen.name}: ${firstLine(e)}`;
          }
        }
        return view;
      }
      return { master: null, first, passed: [], error: `no master answers over SSH (${unreachable.join('; ')})`, checkedAt: Date.now() };
    },
    async loadCerts() {
      const certs = await listCertificates(workspace);
      return {
        warnDays: CERT_WARN_DAYS,
        total: certs.length,
        expiring: certs.filter((c) => c.subject !== '(unreadable)' && c.daysLeft < CERT_WARN_DAYS).map((c) => ({ file: c.file, subject: c.subject, daysLeft: c.daysLeft })),
      };
    },
    readCommands: (host) => readLastCommands(workspace, host, 12),
    loadSmoke: () => loadLastSmoke(workspace),
    saveSmoke: (update) => saveLastSmoke(workspace, update),
    close: () => pool.closeAll(),
  };
}

/** A dashboard on a workspace's real hosts. */
export async function openDashboard(opts: {
  workspace: string;
  spec: ClusterSpec;
  limit?: string[];
  sshConfig?: string;
  intervalMs?: number;
  timeoutMs?: number;
}): Promise<DashboardController> {
  const hosts = await dashboardHosts(opts.workspace, opts.spec, { limit: opts.limit, sshConfig: opts.sshConfig });
  return createDashboardController({ spec: opts.spec, hosts, intervalMs: opts.intervalMs, timeoutMs: opts.timeoutMs, effects: sshEffects(opts) });
}
