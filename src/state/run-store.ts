/**
 * The run store: a zustand vanilla store fed by engine events. The Ink panels, the wizard and the
 * dashboard read it; nothing here talks to hosts or processes.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { emptyCounts, type Counts, type EngineEvent, type HostRef, type HostState, type Phase, type TaskStatus } from '../engine/events.js';

export const OUTPUT_LINES_KEPT = 8;

export interface HostView extends HostRef {
  state: HostState;
  role?: string;
  task?: string;
  counts: Counts;
  startedAt?: number;
  endedAt?: number;
  /** The last lines of output (task output and failures), newest last. */
  lines: string[];
  /** The failure message, when the host failed. */
  error?: string;
  /** Per-task results, in order, for the summary and smoke-test tables. */
  results: Array<{ role: string; task: string; status: TaskStatus; tags: string[]; message?: string; changes: string[] }>;
}

export interface RunState {
  runId?: string;
  dryRun: boolean;
  roles: string[];
  currentRole?: string;
  hosts: Record<string, HostView>;
  hostOrder: string[];
  phases: Partial<Record<Phase, 'start' | 'end' | 'failed' | 'skipped'>>;
  /** Output of local processes (vagrant), per machine; '' for lines that name no machine. */
  processLines: Record<string, string[]>;
  log: Array<{ level: 'info' | 'warn' | 'error'; message: string; host?: string; at: number }>;
  status: 'idle' | 'running' | 'ok' | 'failed' | 'cancelled';
  startedAt?: number;
  endedAt?: number;
  apply(event: EngineEvent): void;
  applyMany(events: EngineEvent[]): void;
  reset(): void;
}

const push = (lines: string[], line: string, max = OUTPUT_LINES_KEPT) => {
  const next = lines.length >= max ? lines.slice(lines.length - max + 1) : lines.slice();
  next.push(line);
  return next;
};

function initial(): Omit<RunState, 'apply' | 'applyMany' | 'reset'> {
  return { dryRun: false, roles: [], hosts: {}, hostOrder: [], phases: {}, processLines: {}, log: [], status: 'idle' };
}

/** Pure reducer: the next state for one event (exported for tests and for replaying recorded runs). */
export function reduce(s: Omit<RunState, 'apply' | 'applyMany' | 'reset'>, e: EngineEvent): Partial<RunState> {
  const host = (name: string, f: (h: HostView) => HostView): Partial<RunState> => {
    const h = s.hosts[name];
    if (!h) return {};
    return { hosts: { ...s.hosts, [name]: f(h) } };
  };
  switch (e.type) {
    case 'run-start': {
      const hosts: Record<string, HostView> = {};
      for (const r of e.hosts) {
        const prev = s.hosts[r.name];
        hosts[r.name] = { ...r, state: 'pending', counts: emptyCounts(), lines: prev?.lines ?? [], results: [] };
      }
      return { runId: e.runId, dryRun: e.dryRun, roles: e.roles, hosts, hostOrder: e.hosts.map((h) => h.name), status: 'running', startedAt: e.at, endedAt: undefined, currentRole: undefined };
    }
    case 'role-start':
      return { currentRole: e.role };
    case 'role-end':
      return {};
    case 'host-start':
      // A new role: the previous role's last task no longer describes what the host does.
      return host(e.host, (h) => ({ ...h, state: h.state === 'pending' || h.state === 'ok' || h.state === 'changed' ? 'running' : h.state, role: e.role, task: undefined, startedAt: h.startedAt ?? e.at }));
    case 'task-start':
      return host(e.host, (h) => ({ ...h, role: e.role, task: e.task }));
    case 'task-output':
      return host(e.host, (h) => ({ ...h, lines: push(h.lines, e.line) }));
    case 'task-end':
      return host(e.host, (h) => ({
        ...h,
        counts: { ...h.counts, [e.status]: h.counts[e.status] + 1 },
        lines: e.status === 'failed' || e.status === 'unreachable' ? push(h.lines, `${e.task}: ${e.message ?? e.status}`) : h.lines,
        error: e.status === 'failed' || e.status === 'unreachable' ? (e.message ?? e.status) : h.error,
        results: [...h.results, { role: e.role, task: e.task, status: e.status, tags: e.tags, message: e.message, changes: e.changes }],
      }));
    case 'host-end':
      return host(e.host, (h) => ({ ...h, state: e.state, task: undefined, endedAt: e.at }));
    case 'host-key':
      return { log: [...s.log, { level: 'info', message: `${e.host}: host key ${e.kind} (${e.keyType} ${e.fingerprint})`, host: e.host, at: e.at }] };
    case 'log':
      return { log: [...s.log, { level: e.level, message: e.message, host: e.host, at: e.at }] };
    case 'phase':
      return { phases: { ...s.phases, [e.phase]: e.status } };
    case 'process-output': {
      const key = e.machine ?? '';
      return { processLines: { ...s.processLines, [key]: push(s.processLines[key] ?? [], e.line) } };
    }
    case 'run-end': {
      const hosts = { ...s.hosts };
      for (const [name, r] of Object.entries(e.recap)) {
        const h = hosts[name];
        if (h) hosts[name] = { ...h, state: r.state, task: undefined, endedAt: h.endedAt ?? e.at };
      }
      return { status: e.status, endedAt: e.at, hosts, currentRole: undefined };
    }
  }
}

export type RunStore = StoreApi<RunState>;

export function createRunStore(): RunStore {
  return createStore<RunState>()((set, get) => ({
    ...initial(),
    apply: (e) => set(reduce(get(), e)),
    applyMany: (events) => {
      let s: Omit<RunState, 'apply' | 'applyMany' | 'reset'> = get();
      for (const e of events) s = { ...s, ...reduce(s, e) };
      set(s);
    },
    reset: () => set(initial()),
  }));
}
