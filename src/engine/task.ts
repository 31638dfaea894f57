/**
 * The task model. Every task gathers facts (read-only, quick), computes a plan (pure: what differs),
 * applies only that, and verifies it (bounded waits belong there). Gather or plan may find the task
 * blocked (`throw blocked(reason, hint)`: an artifact or a host tool is missing): a real run fails the task
 * with that message; a dry run reports "would fail here", plans the rest and fails the host at the end.
 * Smoke tests are tasks tagged `test` whose gather step is the check. Roles are ordered lists of tasks
 * run on a group of hosts; a role may need another one to have succeeded somewhere first (`needs`).
 */
import type { ClusterSpec, GroupName } from '../spec/schema.js';
import type { PlannedHost } from '../spec/hosts.js';
import type { HostConnection, HostTarget } from '../ssh/types.js';
import type { PkiPaths } from '../pki/paths.js';
import type { ArtifactStore } from './artifacts.js';
import type { Facts } from './facts.js';

export interface HostInfo extends PlannedHost {
  target: HostTarget;
}

/** Shared by every task of a run. */
export interface RunContext {
  spec: ClusterSpec;
  workspace: string;
  hosts: HostInfo[];
  pki: PkiPaths;
  artifacts: ArtifactStore;
  dryRun: boolean;
  signal: AbortSignal;
  /** Facts per host, filled by the bootstrap role. */
  facts: Map<string, Facts>;
  hostsOf(group: GroupName): HostInfo[];
}

export interface TaskContext {
  run: RunContext;
  host: HostInfo;
  conn: HostConnection;
  signal: AbortSignal;
  /** The host's facts (bootstrap role); throws with a clear message when they were never gathered. */
  facts(): Facts;
  /** Stream a line of output to the host's panel. */
  output(line: string, stream?: 'stdout' | 'stderr'): void;
  /**
   * Changes planned on this host earlier in this run and not applied (a dry run): facts that depend on
   * them (a cluster that does not answer yet) are unknown rather than wrong. Always 0 in a real run.
   */
  unapplied(): number;
  /**
   * True while the runner prepares this task's probe ahead of its role, in the previous role's batch (runner.ts:
   * read ahead). A probe that must wait for something of its own role (the member list while the membership
   * changes) refuses then, by throwing: it is probed with its role.
   */
  readingAhead?: boolean;
  /** Ask for a handler (e.g. `restart etcd`) to run later in this role for this host. */
  notify(handler: string): void;
  notified(handler: string): boolean;
}

/** A failure with a message a person can act on (no stack trace shown). */
export class TaskFailure extends Error {
  override name = 'TaskFailure';
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message}\n  → ${hint}` : message);
  }
}

/**
 * The outcome "this task cannot go on" (a missing artifact or host tool): thrown by gather or plan
 * (`throw blocked(reason, hint)`). A real run fails the task with the message; a dry run reports "would fail here", goes on
 * planning and fails the host at the end of the run. `changes` are what the task would do once unblocked.
 */
export class Blocked extends TaskFailure {
  override name = 'Blocked';
  constructor(
    readonly reason: string,
    hint?: string,
    readonly changes: string[] = [],
  ) {
    super(reason, hint);
  }
}

export function blocked(reason: string, hint?: string, changes: string[] = []): Blocked {
  return new Blocked(reason, hint, changes);
}

/** What one probe printed, out of a batch (its own stdout, stderr and exit status). */
export interface ProbeOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * A read-only shell snippet (run as root) and a pure parser of what it printed. The engine runs the
 * probes of a role's tasks on a host as one script in one exec and hands each task its part, with the
 * probes of the host's next role that can be prepared already (runner.ts: read ahead); after a change is
 * applied anywhere, what was read is dropped and probed again (batched) so nothing acts on stale facts.
 * The parser may throw TaskFailure (a smoke test's verdict) or Blocked.
 */
export interface Probe<G> {
  script: string;
  /** Called at the task's turn (the batch may have run a role earlier: read ahead); may read local files then. */
  parse(out: ProbeOutput): G | Promise<G>;
  /**
   * What the probe asks, for people (the teaching view shows it instead of the script): for a script that
   * carries the questions of several checks at once, the request of this one.
   */
  shows?: string;
}

/**
 * The teaching view (`kcore-wizard explain`): why a role, task or file exists, in two or three plain
 * sentences, next to the code that does the work, with the upstream page that explains it where one helps.
 */
export interface Explained {
  why?: string;
  /** Upstream documentation (https URL) that explains the idea. */
  docs?: string;
}

/** An idea a learner meets in a role (for etcd: members and ETCD_INITIAL_CLUSTER, quorum, client-certificate auth). */
export interface Concept {
  name: string;
  text: string;
  docs?: string;
}

export interface Task<G = unknown> extends Explained {
  name: string;
  tags?: string[];
  /** Like a role's `needs`, for this task alone: skipped at once when a needed role failed everywhere. */
  needs?: string[];
  /** A reason to skip this task on this host, or undefined to run it. */
  skip?(ctx: TaskContext): string | undefined;
  /** Read-only and quick (no waiting): look at the host. Smoke tests throw TaskFailure here. */
  gather(ctx: TaskContext): Promise<G>;
  /**
   * Instead of gather, when present: the probe the engine batches with the role's other probes on the
   * host (gather then runs it alone, see `probeTask`). Its preparation may read local files; a
   * preparation that throws is retried at the task's turn, then gather reports the failure.
   */
  probe?(ctx: TaskContext): Probe<G> | Promise<Probe<G>>;
  /**
   * What the task hands the later tasks and roles from what it gathered (the bootstrap's facts), and its output
   * line: called once its gather or probe gave a result, before plan.
   */
  keep?(ctx: TaskContext, gathered: G): void;
  /**
   * The task's failure for an error of its gathering, when the task can say it better (the bootstrap's facts:
   * sudo that asks for a password). Also sees the error of a batch its probe rode in.
   */
  failure?(ctx: TaskContext, error: unknown): unknown;
  /** Pure: what differs, one human line each ("write /etc/… (content differs)"). Empty: nothing to do. */
  plan?(ctx: TaskContext, gathered: G): string[];
  /** Make the planned changes. Never called in a dry run or when the plan is empty. */
  apply?(ctx: TaskContext, gathered: G, changes: string[]): Promise<void>;
  /** Check the result after apply (bounded waits go here); a failure fails the task. */
  verify?(ctx: TaskContext): Promise<void>;
}

export interface Role extends Explained {
  name: string;
  /** The ideas a learner meets in this role, for `explain ROLE`. */
  concepts?: Concept[];
  /** The hosts this role configures. A role with `local: true` runs once on the control machine. */
  hosts(run: RunContext): HostInfo[];
  local?: boolean;
  /**
   * For a local role that works for some groups only (the admin kubeconfig is for the masters): it
   * runs only when a host of one of these groups is in the run (see --limit).
   */
  serves?: GroupName[];
  /**
   * Roles that must have succeeded on at least one of their hosts in this run before this one starts
   * (the add-ons need a master). When every host of a needed role failed, this role is skipped at once,
   * naming those hosts. A needed role that ran on no host in this run (--limit, --tags) is not checked.
   */
  needs?: string[];
  /**
   * For a local role: read-only work it may start early, given the tasks of it this run selected. The runner calls
   * it once the hosts of the role before it have all sent their first batch (or that role ended): this process
   * waits for them then. The role's tasks take what it started; a task that writes drops what it no longer holds.
   */
  readAhead?(run: RunContext, tasks: Task[]): void;
  /** Run on one host only: the first of `hosts` still in the run (not failed or unreachable, inside --limit). */
  firstAvailable?: boolean;
  tasks: Task<never>[] | Task<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Define a task with its gathered type inferred. */
export function task<G>(t: Task<G>): Task<G> {
  return t;
}

/** Run one probe on its own (a task's gather outside a batch). */
export async function runProbe<G>(ctx: Pick<TaskContext, 'conn' | 'signal'>, p: Probe<G>): Promise<G> {
  const r = await ctx.conn.exec(p.script, { sudo: true, signal: ctx.signal });
  return p.parse({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 });
}

/** A task whose gather is a probe (batched by the engine). */
export function probeTask<G>(t: Omit<Task<G>, 'gather' | 'probe'> & { probe(ctx: TaskContext): Probe<G> | Promise<Probe<G>> }): Task<G> {
  return { ...t, gather: async (ctx) => runProbe(ctx, await t.probe(ctx)) };
}

/** A smoke test whose check is a probe: batched with the role's other probes, its own verdict kept. */
export function smokeProbe(name: string, probe: (ctx: TaskContext) => Probe<void> | Promise<Probe<void>>, extra: Partial<Task<void>> = {}): Task<void> {
  return probeTask<void>({ name, tags: ['test'], probe, ...extra });
}

/** A smoke test: tagged `test`, side-effect free; `check` throws TaskFailure when something is wrong. */
export function smokeTest(name: string, check: (ctx: TaskContext) => Promise<void>, extra: Partial<Task<void>> = {}): Task<void> {
  return { name, tags: ['test'], gather: check, ...extra };
}

/** Tasks tagged `always` run whatever --tags says (facts), unless skipped explicitly. */
export const ALWAYS = 'always';
