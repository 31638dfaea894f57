/**
 * The dashboard's state: the latest health of every host, the last smoke results, what the detail
 * pane shows, and UI state (selection, filter, dialogs, flash). Fed by the poller and by engine events
 * of smoke-test reruns; the Ink UI reads it and calls the actions it is given.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { EngineEvent, TaskStatus } from '../engine/events.js';
import type { HostHealth } from '../health/probe.js';

export interface SmokeResult {
  task: string;
  status: TaskStatus;
  message?: string;
  at: number;
}

export type Dialog = null | { kind: 'help' } | { kind: 'confirm-converge'; host: string; choice: 'cancel' | 'converge' } | { kind: 'pick-unit'; host: string; units: string[]; index: number };

export interface DashboardState {
  cluster: string;
  versions: string;
  intervalMs: number;
  order: string[];
  health: Record<string, HostHealth | undefined>;
  smoke: Record<string, SmokeResult[] | undefined>;
  lastRefresh?: number;
  selected: number;
  filter: string;
  filtering: boolean;
  dialog: Dialog;
  /** What the detail pane shows for the selected host. */
  detail: { kind: 'info' } | { kind: 'journal'; host: string; unit: string; lines: string[] } | { kind: 'run'; title: string; lines: string[]; running: boolean };
  flash: { text: string; tone: 'info' | 'warn' | 'error'; until: number } | null;
  busy: boolean;
}

export type DashboardStore = StoreApi<DashboardState>;

export function createDashboardStore(init: { cluster: string; versions: string; intervalMs: number; hosts: string[] }): DashboardStore {
  return createStore<DashboardState>()(() => ({
    cluster: init.cluster,
    versions: init.versions,
    intervalMs: init.intervalMs,
    order: init.hosts,
    health: {},
    smoke: {},
    selected: 0,
    filter: '',
    filtering: false,
    dialog: null,
    detail: { kind: 'info' },
    flash: null,
    busy: false,
  }));
}

/** Stale: the host's last answer is older than three intervals. */
export function isStale(h: HostHealth | undefined, now: number, intervalMs: number): boolean {
  return !h || now - h.checkedAt > 3 * intervalMs + 1000;
}

export function visibleHosts(s: Pick<DashboardState, 'order' | 'filter' | 'health'>): string[] {
  const f = s.filter.trim().toLowerCase();
  if (!f) return s.order;
  return s.order.filter((n) => n.includes(f) || (s.health[n]?.group ?? '').includes(f) || (s.health[n]?.verdict ?? '').includes(f));
}

/** Record a rerun's engine events: smoke results per host and the lines of the detail pane. */
export function applyRunEvent(store: DashboardStore, e: EngineEvent): void {
  const s = store.getState();
  if (e.type === 'task-end' && e.tags.includes('test')) {
    const prev = s.smoke[e.host] ?? [];
    const next = [...prev.filter((r) => r.task !== e.task), { task: e.task, status: e.status, message: e.message, at: e.at }];
    store.setState({ smoke: { ...s.smoke, [e.host]: next } });
  }
  const line =
    e.type === 'task-end'
      ? `${e.host}  ${e.status === 'ok' ? 'pass' : e.status}  ${e.task}${e.message && e.status !== 'ok' ? `: ${e.message.split('\n')[0]}` : ''}`
      : e.type === 'run-end'
        ? `done: ${e.status} (${(e.durationMs / 1000).toFixed(1)} s)`
        : null;
  const d = store.getState().detail;
  if (line && d.kind === 'run') store.setState({ detail: { ...d, lines: [...d.lines, line].slice(-200), running: e.type !== 'run-end' } });
}
