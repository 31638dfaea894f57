/**
 * The engine's typed events. The same stream drives the Ink panels (through the zustand store in
 * src/state), the plain-line log and `--output json`. Events carry no secrets: command lines are
 * redacted before they get here and file contents never do.
 */

/** Ansible's five task statuses. */
export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

/** A host's state in a run. `cancelled` is set when the run was aborted before the host finished. */
export type HostState = 'pending' | 'running' | 'ok' | 'changed' | 'failed' | 'unreachable' | 'cancelled';

export type Phase = 'render' | 'preflight' | 'vagrant-up' | 'ssh-config' | 'converge' | 'test' | 'summary' | 'destroy';

export interface HostRef {
  name: string;
  group: 'etcd' | 'kube-master' | 'kube-worker' | 'local';
  ip: string;
}

export interface Counts {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
}

interface Base {
  /** Milliseconds since the epoch. */
  at: number;
}

export type EngineEvent = Base &
  (
    | { type: 'run-start'; runId: string; hosts: HostRef[]; roles: string[]; dryRun: boolean; tags?: string[]; skipTags?: string[] }
    | { type: 'role-start'; role: string; hosts: string[] }
    | { type: 'role-end'; role: string }
    | { type: 'host-start'; host: string; role: string }
    | { type: 'task-start'; host: string; role: string; task: string; tags: string[] }
    | { type: 'task-output'; host: string; role: string; task: string; stream: 'stdout' | 'stderr'; line: string }
    | {
        type: 'task-end';
        host: string;
        role: string;
        task: string;
        tags: string[];
        status: TaskStatus;
        /** What differed (planned or applied), one line each: "write /etc/etcd/etcd.env (content differs)". */
        changes: string[];
        /** Why it failed or was skipped, in words a person can act on. */
        message?: string;
        /**
         * A dry run found this task blocked (status `failed`): a real run would fail here. The plan went
         * on past it; the host fails at the end of the run.
         */
        wouldFail?: boolean;
        durationMs: number;
      }
    | { type: 'host-end'; host: string; role: string; state: HostState }
    | { type: 'host-key'; host: string; kind: 'recorded' | 'verified' | 'changed-accepted'; fingerprint: string; keyType: string }
    | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; host?: string }
    | { type: 'phase'; phase: Phase; status: 'start' | 'end' | 'failed' | 'skipped'; message?: string }
    | { type: 'process-output'; source: string; machine?: string; stream: 'stdout' | 'stderr'; line: string }
    | {
        type: 'run-end';
        status: 'ok' | 'failed' | 'cancelled';
        recap: Record<string, Counts & { state: HostState }>;
        durationMs: number;
      }
  );

export type EngineEventOf<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

export type EventSink = (event: EngineEvent) => void;

export function emptyCounts(): Counts {
  return { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 };
}

/** Fan one event stream out to several consumers (store, log file, renderer). */
export function fanOut(...sinks: Array<EventSink | undefined>): EventSink {
  const live = sinks.filter((s): s is EventSink => !!s);
  return (e) => {
    for (const s of live) s(e);
  };
}
