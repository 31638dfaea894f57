/**
 * The runner: roles in order with a barrier between them, the hosts of a role in parallel under a cap,
 * a host stopped at its first failure while the others go on, a recap per host at the end. A dry run
 * plans past a blocked task ("would fail here") and fails that host at the end; a role whose needed
 * roles failed on every host is skipped at once, naming them. Everything it does is told through typed
 * events; it takes an AbortSignal and marks unfinished hosts cancelled.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { HostConnection, HostTarget } from '../ssh/types.js';
import { isSshError } from '../ssh/errors.js';
import { emptyCounts, type Counts, type EventSink, type HostRef, type HostState, type TaskStatus } from './events.js';
import { ALWAYS, Blocked, TaskFailure, type Probe, type ProbeOutput, type HostInfo, type Role, type RunContext, type Task, type TaskContext } from './task.js';
import { ArtifactError } from './artifacts.js';
import { batchScript, lastWords, splitBatch } from './ops.js';

/**
 * What a batch printed for a probe, parsed at its task's turn (a parser may need what the tasks before it
 * kept, the facts), or what made the batch fail for it.
 */
type Probed = { probe: Probe<unknown>; out: ProbeOutput } | { error: unknown };

export interface Connector {
  connection(target: HostTarget, signal?: AbortSignal): Promise<HostConnection>;
}

export interface RunOptions {
  roles: Role[];
  run: RunContext;
  connector: Connector;
  emit: EventSink;
  /** Only tasks with one of these tags (plus `always` tasks). */
  tags?: string[];
  skipTags?: string[];
  /** Host names or group names; empty = all. */
  limit?: string[];
  /** Hosts worked on in parallel. Default 30. */
  maxHosts?: number;
}

export interface RunSummary {
  runId: string;
  status: 'ok' | 'failed' | 'cancelled';
  recap: Record<string, Counts & { state: HostState }>;
  /** Total tasks changed (or that would change, in a dry run). */
  changed: number;
  failedHosts: string[];
  durationMs: number;
}

export const LOCAL_HOST = 'local';

/**
 * Whether a task runs under the given --tags / --skip-tags (pure; exported for tests). A task carries
 * its own tags plus its role's name; `always` tasks (facts) run unless skipped by name.
 */
export function taskSelected(t: Pick<Task, 'tags'>, role: string, tags?: string[], skipTags?: string[]): boolean {
  const own = [...(t.tags ?? []), role];
  if (skipTags?.some((s) => own.includes(s))) return false;
  if (!tags || tags.length === 0) return true;
  return own.includes(ALWAYS) || tags.some((x) => own.includes(x));
}

/** Hosts matching --limit (names or groups). Unknown names are an error for the caller to report. */
export function limitHosts(hosts: HostInfo[], limit?: string[]): { hosts: HostInfo[]; unknown: string[] } {
  if (!limit || limit.length === 0) return { hosts, unknown: [] };
  const unknown = limit.filter((l) => !hosts.some((h) => h.name === l || h.group === l));
  return { hosts: hosts.filter((h) => limit.includes(h.name) || limit.includes(h.group)), unknown };
}

function describeError(e: unknown): { status: TaskStatus; message: string } {
  if (isSshError(e)) {
    const unreachable = e.kind === 'unreachable' || e.kind === 'auth' || e.kind === 'host-key' || (e.kind === 'timeout' && /connect/i.test(e.message));
    return { status: unreachable ? 'unreachable' : 'failed', message: e.hint ? `${e.message}\n  → ${e.hint}` : e.message };
  }
  if (e instanceof TaskFailure || e instanceof ArtifactError) return { status: 'failed', message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  return { status: 'failed', message: `internal error: ${err.message}` };
}

const rank: Record<HostState, number> = { pending: 0, ok: 1, changed: 2, running: 3, cancelled: 4, unreachable: 5, failed: 6 };

export async function runRoles(opts: RunOptions): Promise<RunSummary> {
  const { run, emit, connector } = opts;
  const started = Date.now();
  const runId = randomUUID();
  const signal = run.signal;
  // Every command of every host listens on the run's signal: far more than the default 10 listeners.
  setMaxListeners(0, signal);
  const { hosts: selected } = limitHosts(run.hosts, opts.limit);
  const selectedNames = new Set(selected.map((h) => h.name));
  const roles = opts.roles
    // Smoke tests check what apply made: a dry run applies nothing, so it has nothing for them to check.
    .map((r) => ({ role: r, tasks: (r.tasks as Task[]).filter((t) => taskSelected(t, r.name, opts.tags, run.dryRun ? [...(opts.skipTags ?? []), 'test'] : opts.skipTags)) }))
    .filter((r) => r.tasks.length > 0);
  const hasLocal = roles.some((r) => r.role.local && (!r.role.serves || selected.some((h) => r.role.serves!.includes(h.group))));
  const refs: HostRef[] = [
    ...(hasLocal ? [{ name: LOCAL_HOST, group: 'local' as const, ip: '127.0.0.1' }] : []),
    ...selected.map((h) => ({ name: h.name, group: h.group, ip: h.ip })),
  ];
  const recap: RunSummary['recap'] = {};
  for (const r of refs) recap[r.name] = { ...emptyCounts(), state: 'pending' };
  const stopped = new Set<string>(); // failed or unreachable hosts: no further roles
  const failedIn = new Map<string, string>(); // stopped host → the role it failed in
  const unapplied = new Map<string, number>(); // host → changes planned and not applied (dry run)
  const wouldFail = new Set<string>(); // dry run: hosts with a blocked task, failed at the end
  const outcomes = new Map<string, { hosts: string[]; failed: string[] }>(); // role → its hosts, those that failed
  const inFlight = new Map<string, string>(); // host → role it is working on
  const ended = new Set<string>(); // hosts that told their host-end for the role they are working on
  // Read ahead: probe results a host's batch fetched for the tasks of its next role, and the epoch they were
  // fetched in. Every task that changed or failed anywhere (this host, another, the local PKI) starts a new
  // epoch: what was read before it may no longer hold, so it is probed again at its turn.
  const ahead = new Map<string, { epoch: number; results: Map<Task, Probed> }>();
  let epoch = 0;
  let changedTotal = 0;
  const now = () => Date.now();

  emit({ type: 'run-start', at: now(), runId, hosts: refs, roles: roles.map((r) => r.role.name), dryRun: run.dryRun, tags: opts.tags, skipTags: opts.skipTags });

  const setState = (host: string, state: HostState) => {
    const r = recap[host]!;
    if (rank[state] > rank[r.state] || r.state === 'running' || r.state === 'pending') r.state = state;
  };

  const stop = (host: string, role: string) => {
    if (!stopped.has(host)) failedIn.set(host, role);
    stopped.add(host);
  };

  const limiter = pLimit(Math.max(1, opts.maxHosts ?? 30));

  // A local role's read-ahead (Role.readAhead) starts once every host of the role before it has sent its first
  // batch or ended: from then on this process only waits for the hosts.
  let waitingFor: Set<string> | undefined;
  let whenAllSent: (() => void) | undefined;
  const sentFirst = (host: string) => {
    if (!waitingFor?.delete(host) || waitingFor.size > 0) return;
    const f = whenAllSent;
    whenAllSent = waitingFor = undefined;
    f?.();
  };

  /** The role after `current` that works on `host` over SSH (not a local one, not a first-available one): what a batch reads ahead for. */
  const nextRole = (current: Role, host: HostInfo): { role: Role; tasks: Task[] } | undefined => {
    const i = roles.findIndex((r) => r.role === current);
    return roles.slice(i + 1).find((r) => !r.role.local && !r.role.firstAvailable && r.role.hosts(run).some((h) => h.name === host.name));
  };

  async function runHost(role: Role, tasks: Task[], host: HostInfo): Promise<void> {
    const name = host.name;
    if (signal.aborted) return;
    emit({ type: 'host-start', at: now(), host: name, role: role.name });
    inFlight.set(name, role.name);
    try {
      await runHostTasks(role, tasks, host);
    } finally {
      sentFirst(name);
      // Still in flight only when the abort stopped it before its host-end: the end of the run tells those.
      if (!signal.aborted || ended.has(name)) inFlight.delete(name);
      ended.delete(name);
    }
  }

  async function runHostTasks(role: Role, tasks: Task[], host: HostInfo): Promise<void> {
    const name = host.name;
    recap[name]!.state = recap[name]!.state === 'pending' ? 'running' : recap[name]!.state;
    const handlers = new Set<string>();
    let conn: HostConnection;
    if (role.local) conn = localOnly;
    else {
      const t0 = now();
      try {
        conn = await connector.connection(host.target, signal);
      } catch (e) {
        if (signal.aborted) return;
        const d = describeError(e);
        const status: TaskStatus = d.status === 'failed' && isSshError(e) ? 'unreachable' : d.status;
        recap[name]![status]++;
        emit({ type: 'task-end', at: now(), host: name, role: role.name, task: 'connect', tags: [], status, changes: [], message: d.message, durationMs: now() - t0 });
        stop(name, role.name);
        setState(name, status === 'unreachable' ? 'unreachable' : 'failed');
        ended.add(name);
        emit({ type: 'host-end', at: now(), host: name, role: role.name, state: recap[name]!.state });
        return;
      }
    }
    const ctx: TaskContext = {
      run,
      host,
      conn,
      signal,
      facts: () => {
        const f = run.facts.get(name);
        if (!f) throw new TaskFailure(`no facts for ${name}: the bootstrap role did not run on it`, 'run without --tags/--skip-tags that exclude `always`, or converge the bootstrap role first');
        return f;
      },
      output: () => undefined,
      unapplied: () => unapplied.get(name) ?? 0,
      notify: (h) => void handlers.add(h),
      notified: (h) => handlers.has(h),
    };
    let hostChanged = false;
    const ctxFor = (t: Task): TaskContext => ({
      ...ctx,
      output: (line, stream = 'stdout') => emit({ type: 'task-output', at: now(), host: name, role: role.name, task: t.name, stream, line }),
    });
    // Probe results of the tasks still to come, from one batched exec; dropped after any applied change.
    const probed = new Map<Task, Probed>();
    // What this host's previous batch read ahead for this role, if nothing changed anywhere since.
    const read = ahead.get(name);
    ahead.delete(name);
    if (read && read.epoch === epoch) for (const [t, r] of read.results) if (tasks.includes(t)) probed.set(t, r);
    let readAhead = false;
    const isSmoke = (u: Task) => (u.tags ?? []).includes('test');
    // Smoke checks ride along with the first batch (a no-op role: one exec); once something was applied
    // they wait for their own turn, batched together, instead of being re-run after every change.
    let appliedHere = false;
    const probeFrom = async (from: number) => {
      const batch: Array<{ t: Task; probe: Probe<unknown>; into: Map<Task, Probed> }> = [];
      const smokeTurn = isSmoke(tasks[from]!);
      const add = async (u: Task, c: TaskContext, into: Map<Task, Probed>) => {
        try {
          if (u.skip?.(c)) return;
          batch.push({ t: u, probe: await u.probe!(c), into });
        } catch {
          // Not ready to probe yet (facts from an earlier task, say): retried at its turn.
        }
      };
      for (const u of tasks.slice(from)) {
        if (!u.probe || probed.has(u) || unmetNeed(u.needs)) continue;
        if (appliedHere && !smokeTurn && isSmoke(u)) continue;
        await add(u, ctxFor(u), probed);
      }
      // The first batch of a role that changed nothing here yet also asks what the host's next role's probes ask,
      // those that can be prepared now (not those that need this role's facts): a no-op run then costs one exec
      // per host instead of one per role. Their results wait in `ahead` for that role, kept only if nothing changes
      // anywhere before it starts (the epoch).
      const next = !readAhead && !appliedHere ? nextRole(role, host) : undefined;
      readAhead = true;
      const later = new Map<Task, Probed>();
      if (next) {
        const c0: TaskContext = { ...ctx, notify: () => undefined, notified: () => false, readingAhead: true };
        for (const u of next.tasks) if (u.probe && !unmetNeed(u.needs)) await add(u, c0, later);
      }
      if (batch.length === 0) return;
      // Probes with the same script (the smoke tests of a role that ask one command) run it once, each reading the output.
      const scripts = [...new Set(batch.map((b) => b.probe.script))];
      const nonce = randomBytes(6).toString('hex');
      const fetchedIn = epoch;
      const sent = conn.exec(batchScript(scripts, nonce), { sudo: true, signal });
      sentFirst(name);
      const r = await sent;
      const parts = splitBatch(r.stdout, r.stderr, scripts.length, nonce);
      for (const b of batch) {
        const part = parts[scripts.indexOf(b.probe.script)];
        if (!part) {
          b.into.set(b.t, { error: new TaskFailure(`the probe for "${b.t.name}" printed no complete result on ${name} (exit ${r.exitCode ?? r.signal})`, lastWords(r.stderr, nonce)) });
          continue;
        }
        b.into.set(b.t, { probe: b.probe, out: part });
      }
      if (later.size > 0) ahead.set(name, { epoch: fetchedIn, results: later });
    };
    for (const [index, t] of tasks.entries()) {
      if (signal.aborted) return;
      const tags = t.tags ?? [];
      const t0 = now();
      const taskCtx = ctxFor(t);
      emit({ type: 'task-start', at: t0, host: name, role: role.name, task: t.name, tags });
      const unmet = unmetNeed(t.needs);
      const reason = unmet ? `skipped: ${unmet}` : t.skip?.(taskCtx);
      if (reason) {
        recap[name]!.skipped++;
        emit({ type: 'task-end', at: now(), host: name, role: role.name, task: t.name, tags, status: 'skipped', changes: [], message: reason, durationMs: now() - t0 });
        continue;
      }
      let status: TaskStatus = 'ok';
      let changes: string[] = [];
      let message: string | undefined;
      let blocked = false;
      try {
        let gathered: unknown;
        // A local role has no SSH connection to batch on: its tasks gather on their own.
        if (t.probe && !role.local && !probed.has(t)) await probeFrom(index);
        const p = probed.get(t);
        probed.delete(t);
        if (!p) gathered = await t.gather(taskCtx);
        else if ('error' in p) throw p.error;
        else gathered = await p.probe.parse(p.out);
        t.keep?.(taskCtx, gathered as never);
        changes = t.plan ? t.plan(taskCtx, gathered as never) : [];
        if (changes.length > 0) {
          status = 'changed';
          if (run.dryRun) unapplied.set(name, (unapplied.get(name) ?? 0) + changes.length);
          else {
            // What the next tasks probed may no longer be true.
            probed.clear();
            appliedHere = true;
            await t.apply?.(taskCtx, gathered as never, changes);
            await t.verify?.(taskCtx);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        const e = t.failure ? t.failure(taskCtx, err) : err;
        const d = describeError(e);
        status = d.status;
        message = d.message;
        // A dry run goes on past a blocked task: the rest of the plan is worth seeing.
        if (e instanceof Blocked && run.dryRun) {
          blocked = true;
          changes = e.changes;
          unapplied.set(name, (unapplied.get(name) ?? 0) + Math.max(1, changes.length));
        }
      }
      recap[name]![status]++;
      if (status === 'changed' || status === 'failed') epoch++;
      if (status === 'changed') {
        changedTotal++;
        hostChanged = true;
      }
      emit({ type: 'task-end', at: now(), host: name, role: role.name, task: t.name, tags, status, changes, message, ...(blocked ? { wouldFail: true } : {}), durationMs: now() - t0 });
      if (blocked) {
        wouldFail.add(name);
        continue;
      }
      if (status === 'failed' || status === 'unreachable') {
        stop(name, role.name);
        setState(name, status);
        ended.add(name);
        emit({ type: 'host-end', at: now(), host: name, role: role.name, state: status });
        return;
      }
    }
    const state: HostState = wouldFail.has(name) ? 'failed' : hostChanged ? 'changed' : 'ok';
    setState(name, state);
    ended.add(name);
    emit({ type: 'host-end', at: now(), host: name, role: role.name, state });
  }

  /** Why a role or task cannot run: a role it needs failed on every one of its hosts in this run; or undefined. */
  const unmetNeed = (needs: string[] | undefined): string | undefined => {
    for (const need of needs ?? []) {
      const o = outcomes.get(need);
      if (!o || o.hosts.length === 0 || o.failed.length < o.hosts.length) continue;
      const where = o.failed.map((h) => (failedIn.get(h) && failedIn.get(h) !== need ? `${h} (in ${failedIn.get(h)})` : h));
      return `needs ${need} on at least one host, and ${need} failed on ${where.join(', ')}`;
    }
    return undefined;
  };

  /** Skip `role` on its hosts at once, saying which needed role failed where. */
  function skipRole(role: Role, targets: HostInfo[], why: string) {
    emit({ type: 'role-start', at: now(), role: role.name, hosts: targets.map((h) => h.name) });
    for (const h of targets) {
      emit({ type: 'host-start', at: now(), host: h.name, role: role.name });
      recap[h.name]!.skipped++;
      emit({ type: 'task-end', at: now(), host: h.name, role: role.name, task: `${role.name}: prerequisites`, tags: [], status: 'skipped', changes: [], message: `skipped: ${why}`, durationMs: 0 });
      const r = recap[h.name]!;
      if (r.state === 'pending' || r.state === 'running') r.state = r.changed > 0 ? 'changed' : 'ok';
      emit({ type: 'host-end', at: now(), host: h.name, role: role.name, state: r.state });
    }
    emit({ type: 'role-end', at: now(), role: role.name });
  }

  for (const [i, { role, tasks }] of roles.entries()) {
    if (signal.aborted) break;
    const serves = role.serves;
    if (role.local && serves && !selected.some((h) => serves.includes(h.group))) continue;
    const mine: HostInfo[] = role.local ? [localHostInfo(run)] : role.hosts(run).filter((h) => selectedNames.has(h.name));
    const alive = mine.filter((h) => !stopped.has(h.name));
    const targets = role.firstAvailable ? alive.slice(0, 1) : alive;
    if (mine.length > 0 && targets.length === 0)
      emit({ type: 'log', at: now(), level: 'warn', message: `${role.name}: not run: ${mine.map((h) => `${h.name} failed (in ${failedIn.get(h.name) ?? 'an earlier role'})`).join(', ')}` });
    if (targets.length === 0 || tasks.length === 0) continue;
    const why = unmetNeed(role.needs);
    if (why) skipRole(role, targets, why);
    else {
      emit({ type: 'role-start', at: now(), role: role.name, hosts: targets.map((h) => h.name) });
      const after = roles[i + 1];
      if (!role.local && after?.role.local && after.role.readAhead) {
        waitingFor = new Set(targets.map((h) => h.name));
        whenAllSent = () => {
          try {
            after.role.readAhead!(run, after.tasks);
          } catch {
            /* read-only and early: the role's tasks read again at their turn */
          }
        };
      }
      await Promise.all(targets.map((h) => limiter(() => runHost(role, tasks, h))));
      whenAllSent = waitingFor = undefined;
      emit({ type: 'role-end', at: now(), role: role.name });
    }
    if (!why) outcomes.set(role.name, { hosts: mine.map((h) => h.name), failed: mine.filter((h) => stopped.has(h.name)).map((h) => h.name) });
    // A failed local role (PKI) leaves nothing for the hosts to use: stop every host.
    if (role.local && stopped.has(LOCAL_HOST)) for (const h of selected) stop(h.name, role.name);
  }

  // A cancelled run completed no host: every host that did not fail is marked cancelled.
  if (signal.aborted)
    for (const [name, r] of Object.entries(recap))
      if (!stopped.has(name)) {
        if (inFlight.has(name)) emit({ type: 'host-end', at: now(), host: name, role: inFlight.get(name)!, state: 'cancelled' });
        r.state = 'cancelled';
      }
  for (const r of Object.values(recap)) if (r.state === 'running') r.state = r.changed > 0 ? 'changed' : 'ok';
  const failedHosts = Object.entries(recap)
    .filter(([, r]) => r.state === 'failed' || r.state === 'unreachable')
    .map(([n]) => n);
  const status: RunSummary['status'] = signal.aborted ? 'cancelled' : failedHosts.length > 0 ? 'failed' : 'ok';
  const durationMs = now() - started;
  emit({ type: 'run-end', at: now(), status, recap, durationMs });
  return { runId, status, recap, changed: changedTotal, failedHosts, durationMs };
}

function localHostInfo(run: RunContext): HostInfo {
  return {
    name: LOCAL_HOST,
    group: 'etcd',
    index: 0,
    ip: '127.0.0.1',
    sshAddress: '127.0.0.1',
    sshPort: 0,
    memory: 0,
    cpus: 0,
    target: { name: LOCAL_HOST, host: '127.0.0.1', port: 0, user: run.spec.ssh.user },
  };
}

const noConn = () => Promise.reject(new TaskFailure('a local role has no SSH connection (internal: the task should not use ctx.conn)'));
const localOnly: HostConnection = {
  target: { name: LOCAL_HOST, host: '127.0.0.1', port: 0, user: 'local' },
  exec: noConn,
  run: noConn,
  close: async () => undefined,
  sudoOk: async () => false,
  upload: noConn,
  readFile: noConn,
  sha256: noConn,
};
