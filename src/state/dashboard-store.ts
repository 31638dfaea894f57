/**
 * The dashboard's state: the latest health of every host (from the poller), the last smoke results,
 * what the detail pane shows (host info, a unit's journal, a rerun's results) and the UI state
 * (selection, filter, dialogs, flash). A zustand vanilla store: the Ink UI reads it and calls its
 * methods for UI-only changes; side effects (SSH, runs, files) go through src/health/actions.ts.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { GroupName } from '../spec/schema.js';
import type { HostHealth, HostRef } from '../health/probe.js';
import type { HostSmoke, LoggedCommand, SmokeMap } from '../health/smoke.js';
import type { NodesView } from '../health/api-master.js';

/** A host's status on screen: the probe's verdict, or `pending` before the first answer. */
export type HostStatus = 'pending' | HostHealth['verdict'];

export type Dialog =
  | null
  | { kind: 'help' }
  /** Reconverge a host; `choice` starts on cancel (destructive actions default to Cancel). */
  | { kind: 'confirm'; action: 'reconverge' | 'quit'; host?: string; choice: 'cancel' | 'ok' }
  | { kind: 'pick-unit'; host: string; units: string[]; index: number };

export type Pane = 'info' | 'journal' | 'run';

export interface JournalView {
  host: string;
  unit: string;
  lines: string[];
  loading: boolean;
  error?: string;
}

export interface RunInfo {
  id: number;
  title: string;
  kind: 'smoke' | 'reconverge';
  hosts: string[];
  status: 'running' | 'ok' | 'failed' | 'cancelled';
  startedAt: number;
  endedAt?: number;
  /** Why the run could not start or stopped (not a host's failure: those are in the run store). */
  error?: string;
}

export interface Flash {
  id: number;
  text: string;
  tone: 'info' | 'warn' | 'error';
}

/**
 * The dashboard's cluster-wide read (the admin credentials, on a master): which master's API server it
 * went through (the first whose /readyz answers), the ones passed over and why, and what it read.
 */
export interface ApiView {
  /** The master whose API server answered; null when none did. */
  master: string | null;
  server?: string;
  /** The first master of the spec (a choice other than it is a failover, shown as a warning). */
  first: string;
  passed: Array<{ name: string; problem: string }>;
  /** The master the read ran on over SSH (the first one reachable). */
  via?: string;
  nodes?: NodesView;
  /** Why there is no answer at all (no master reachable over SSH, or the read failed). */
  error?: string;
  checkedAt: number;
}

/** A certificate of the workspace that expires within the warning window (or has expired). */
export interface CertWarning {
  file: string;
  subject: string;
  daysLeft: number;
}

export interface CertsView {
  /** Days before expiry that count as a warning. */
  warnDays: number;
  /** How many certificates the workspace has. */
  total: number;
  expiring: CertWarning[];
  error?: string;
}

export interface DashboardData {
  cluster: string;
  versions: { kubernetes: string; etcd: string };
  intervalMs: number;
  /** A host's answer older than this many intervals is shown as stale. */
  staleAfter: number;
  hosts: HostRef[];
  health: Record<string, HostHealth | undefined>;
  /** The last cluster-wide read; null before the first (or when no master is watched). */
  api: ApiView | null;
  /** The workspace's certificates close to expiry; null before they were read. */
  certs: CertsView | null;
  /** Hosts whose poll is under way. */
  polling: Record<string, boolean | undefined>;
  paused: boolean;
  smoke: SmokeMap;
  commands: Record<string, LoggedCommand[] | undefined>;
  selected: string | undefined;
  /** `list`: host list and detail side by side; `detail`: the detail pane alone, full width. */
  view: 'list' | 'detail';
  pane: Pane;
  journal: JournalView | null;
  run: RunInfo | null;
  filter: string;
  filtering: boolean;
  dialog: Dialog;
  flash: Flash | null;
}

export interface DashboardMethods {
  setHealth(h: HostHealth): void;
  setApi(a: ApiView | null): void;
  setCerts(c: CertsView | null): void;
  setPolling(host: string, on: boolean): void;
  setPaused(on: boolean): void;
  setSmoke(update: SmokeMap, replace?: boolean): void;
  setCommands(host: string, commands: LoggedCommand[]): void;
  setJournal(j: JournalView | null): void;
  setRun(r: RunInfo | null): void;
  /** Select a host by name (ignored when unknown). */
  select(name: string): void;
  /** Move the selection among the visible hosts. */
  move(delta: number): void;
  setView(v: DashboardData['view']): void;
  setPane(p: Pane): void;
  startFilter(): void;
  editFilter(f: (s: string) => string): void;
  /** Leave typing; `keep` false clears the filter. */
  endFilter(keep: boolean): void;
  openDialog(d: Exclude<Dialog, null>): void;
  updateDialog(d: Exclude<Dialog, null>): void;
  closeDialog(): void;
  flashMessage(text: string, tone?: Flash['tone']): void;
  clearFlash(id: number): void;
}

export type DashboardState = DashboardData & DashboardMethods;
export type DashboardStore = StoreApi<DashboardState>;

export interface DashboardInit {
  cluster: string;
  versions: { kubernetes: string; etcd: string };
  intervalMs: number;
  staleAfter?: number;
  hosts: HostRef[];
  smoke?: SmokeMap;
}

export const GROUP_ORDER: readonly GroupName[] = ['etcd', 'kube-master', 'kube-worker'];

export function statusOf(h: HostHealth | undefined): HostStatus {
  return h ? h.verdict : 'pending';
}

/** Stale: the host's last answer is older than `staleAfter` intervals (or it never answered that long). */
export function isStale(h: HostHealth | undefined, now: number, s: Pick<DashboardData, 'intervalMs' | 'staleAfter'>): boolean {
  return !!h && now - h.checkedAt > s.staleAfter * s.intervalMs;
}

/** The hosts the filter lets through, in role order (names, groups, statuses and IPs match). */
export function visibleHosts(s: Pick<DashboardData, 'hosts' | 'filter' | 'health'>): HostRef[] {
  const f = s.filter.trim().toLowerCase();
  const ordered = GROUP_ORDER.flatMap((g) => s.hosts.filter((h) => h.group === g));
  if (!f) return ordered;
  return ordered.filter((h) => h.name.toLowerCase().includes(f) || h.group.includes(f) || h.ip.includes(f) || statusOf(s.health[h.name]).includes(f));
}

/** Hosts healthy / total, for the header and `--once`. */
export function healthCounts(s: Pick<DashboardData, 'hosts' | 'health'>): Record<HostStatus, number> & { total: number } {
  const c = { total: s.hosts.length, pending: 0, healthy: 0, failing: 0, unreachable: 0, 'not-installed': 0 };
  for (const h of s.hosts) c[statusOf(s.health[h.name])]++;
  return c;
}

/** The last smoke results of a host, or undefined. */
export function lastSmoke(s: Pick<DashboardData, 'smoke'>, host: string): HostSmoke | undefined {
  return s.smoke[host];
}

let flashIds = 0;

export function createDashboardStore(init: DashboardInit): DashboardStore {
  return createStore<DashboardState>()((set, get) => {
    // Keep the selection on a visible host after the filter or the host list changed.
    const fixSelection = (next: Partial<DashboardData>): Partial<DashboardData> => {
      const merged = { ...get(), ...next };
      const vis = visibleHosts(merged);
      if (vis.length && !vis.some((h) => h.name === merged.selected)) return { ...next, selected: vis[0]!.name };
      return next;
    };
    return {
      cluster: init.cluster,
      versions: init.versions,
      intervalMs: init.intervalMs,
      staleAfter: init.staleAfter ?? 3,
      hosts: init.hosts,
      health: {},
      api: null,
      certs: null,
      polling: {},
      paused: false,
      smoke: init.smoke ?? {},
      commands: {},
      selected: visibleHosts({ hosts: init.hosts, filter: '', health: {} })[0]?.name,
      view: 'list',
      pane: 'info',
      journal: null,
      run: null,
      filter: '',
      filtering: false,
      dialog: null,
      flash: null,

      setHealth: (h) => set((s) => ({ health: { ...s.health, [h.name]: h } })),
      setApi: (api) => set({ api }),
      setCerts: (certs) => set({ certs }),
      setPolling: (host, on) => set((s) => (!!s.polling[host] === on ? {} : { polling: { ...s.polling, [host]: on } })),
      setPaused: (on) => set((s) => (s.paused === on ? {} : { paused: on })),
      setSmoke: (update, replace) => set((s) => ({ smoke: replace ? update : { ...s.smoke, ...update } })),
      setCommands: (host, commands) => set((s) => ({ commands: { ...s.commands, [host]: commands } })),
      setJournal: (journal) => set({ journal }),
      setRun: (run) => set({ run }),
      select: (name) => {
        if (get().hosts.some((h) => h.name === name)) set({ selected: name });
      },
      move: (delta) => {
        const vis = visibleHosts(get());
        if (!vis.length) return;
        const i = vis.findIndex((h) => h.name === get().selected);
        const next = Math.min(vis.length - 1, Math.max(0, (i < 0 ? 0 : i) + delta));
        set({ selected: vis[next]!.name });
      },
      setView: (view) => set({ view }),
      setPane: (pane) => set({ pane }),
      startFilter: () => set({ filtering: true }),
      editFilter: (f) => set((s) => fixSelection({ filter: f(s.filter) })),
      endFilter: (keep) => set((s) => fixSelection({ filtering: false, filter: keep ? s.filter : '' })),
      openDialog: (dialog) => set({ dialog }),
      updateDialog: (dialog) => set((s) => (s.dialog && s.dialog.kind === dialog.kind ? { dialog } : {})),
      closeDialog: () => set({ dialog: null }),
      flashMessage: (text, tone = 'info') => set({ flash: { id: ++flashIds, text, tone } }),
      clearFlash: (id) => set((s) => (s.flash?.id === id ? { flash: null } : {})),
    };
  });
}
