/**
 * Scaling etcd by editing kcore.yaml (groups.etcd.count, and `machines` for provider `existing`) and running
 * `converge`/`up`: runtime reconfiguration, one member at a time, quorum never lost.
 *
 * Upstream (https://etcd.io/docs/v3.5/op-guide/runtime-configuration/):
 * - adding is two phases: `etcdctl member add NAME --peer-urls=URL` first, then start the new member with
 *   `--initial-cluster` = the existing members plus itself and `--initial-cluster-state existing`;
 *   a member starting this way checks that its initial cluster matches the cluster's own configuration
 *   (https://etcd.io/docs/v3.5/op-guide/runtime-reconf-design/), so members are added one at a time, each
 *   started and healthy before the next is added;
 * - removing is `etcdctl member remove ID`; "the target member will stop itself at this point";
 * - "--initial prefix flags are used in bootstrapping (static bootstrap, discovery-service bootstrap or runtime
 *   reconfiguration) a new member, and ignored when restarting an existing member"
 *   (https://etcd.io/docs/v3.5/op-guide/configuration/, clustering flags): a running member's
 *   ETCD_INITIAL_CLUSTER is never rewritten for a membership change, so no member restarts for one.
 *
 * The workspace keeps a record of the members (`.kcore/etcd-members.json`): each member's SSH target (a member
 * removed from kcore.yaml is still reached through it, to stop etcd there), and the initial cluster and state its
 * drop-in was rendered with (so a member's drop-in stays what it started with).
 *
 * Tasks, in the etcd role: `etcd membership change` before any file is written (refusals, then removals on one
 * member, the coordinator), `etcd member join` before the service is started (on a new member), `etcd member
 * recorded` after it. Every change of membership in a run is serialised (one lock per run) and gated on the
 * health of every member. `removeEtcdMember` is exported for `remove-node`.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SshPool } from '../../ssh/pool.js';
import type { HostConnection, HostTarget } from '../../ssh/types.js';
import { shellQuote } from '../../ssh/quote.js';
import { writeFileAtomic } from '../../util/fs.js';
import { waitFor } from '../../engine/ops.js';
import { blocked, probeTask, task, TaskFailure, type ProbeOutput, type RunContext, type Task, type TaskContext } from '../../engine/task.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { hostsOf } from '../../spec/hosts.js';
import { keyedQueue } from '../../util/queue.js';

import { BIN_DIR, DROPIN, ETCD_DATA, ETCD_PKI } from './paths.js';
import { CURL_CLIENT_TLS } from './api.js';

export const MEMBERS_FILE = path.join('.kcore', 'etcd-members.json');

export interface RecordedMember {
  name: string;
  ip: string;
  /** How kcore-wizard reached it when it was recorded. */
  target: Pick<HostTarget, 'name' | 'host' | 'port' | 'user' | 'identityFile'>;
  /** ETCD_INITIAL_CLUSTER and ETCD_INITIAL_CLUSTER_STATE its drop-in was rendered with. */
  initialCluster: string;
  state: 'new' | 'existing';
  /** Set when `member remove` succeeded but etcd on it could not be stopped yet (ISO time). */
  removedAt?: string;
}

export interface MembersRecord {
  members: RecordedMember[];
}

export async function readMembersRecord(workspace: string): Promise<MembersRecord> {
  try {
    const r = JSON.parse(await readFile(path.join(workspace, MEMBERS_FILE), 'utf8')) as MembersRecord;
    return { members: Array.isArray(r.members) ? r.members : [] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { members: [] };
    throw new TaskFailure(`${path.join(workspace, MEMBERS_FILE)} cannot be read: ${(e as Error).message}`, 'it is written by kcore-wizard; restore it from a backup, or delete it and converge with kcore.yaml listing the members the cluster has');
  }
}

async function writeMembersRecord(workspace: string, rec: MembersRecord): Promise<void> {
  await mkdir(path.join(workspace, '.kcore'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(workspace, MEMBERS_FILE), `${JSON.stringify(rec, null, 2)}\n`, 0o600);
}

/** Serialises every read-modify-write of the record and every membership change of a workspace in this process. */
export const serially: <T>(workspace: string, fn: () => Promise<T>) => Promise<T> = keyedQueue();

async function updateRecord(workspace: string, change: (rec: MembersRecord) => void): Promise<void> {
  const rec = await readMembersRecord(workspace);
  change(rec);
  await writeMembersRecord(workspace, rec);
}

/**
 * Run a membership change, again every second for up to 30 s while etcd answers "etcdserver: unhealthy cluster": its
 * strict reconfiguration check refuses an add or a remove until every other voting member has been connected for
 * HealthInterval (5 s) — right after a member (re)started or joined (server/etcdserver/server.go mayAddMember,
 * mayRemoveMember: ErrUnhealthy). Any other error, or still unhealthy after 30 s, is returned as it is.
 */
async function whileUnhealthy(conn: Pick<HostConnection, 'exec'>, cmd: string, signal?: AbortSignal) {
  let r = await conn.exec(cmd, { sudo: true, signal });
  for (let i = 0; i < 30 && r.exitCode !== 0 && /unhealthy cluster/.test(r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 1000));
    signal?.throwIfAborted();
    r = await conn.exec(cmd, { sudo: true, signal });
  }
  return r;
}

const peerUrl = (ip: string) => `https://${ip}:2380`;
const clientUrl = (ip: string) => `https://${ip}:2379`;

/**
 * ETCD_INITIAL_CLUSTER and ETCD_INITIAL_CLUSTER_STATE for a host's drop-in: what it was recorded with when it is a
 * recorded member (a membership change never rewrites them: ignored once the data dir exists); for a host joining
 * a recorded cluster, the recorded members plus itself with `existing` (`etcd member join` renders it again with
 * the members of that moment, just before the start); otherwise the spec's members with `new` (bootstrap).
 * Remembered per run, so that `etcd member recorded` records what the drop-in was rendered with.
 */
const renderedInitial = new WeakMap<RunContext, Map<string, { cluster: string; state: 'new' | 'existing' }>>();
export async function initialSettings(run: Pick<RunContext, 'spec' | 'workspace'> & Partial<RunContext>, host: { name: string; ip: string }): Promise<{ cluster: string; state: 'new' | 'existing' }> {
  const rec = await readMembersRecord(run.workspace);
  const live = rec.members.filter((m) => !m.removedAt);
  const mine = live.find((m) => m.name === host.name);
  const out = mine
    ? { cluster: mine.initialCluster, state: mine.state }
    : live.length === 0
      ? { cluster: specCluster(run.spec), state: 'new' as const }
      : { cluster: [...live.map((m) => `${m.name}=${peerUrl(m.ip)}`), `${host.name}=${peerUrl(host.ip)}`].join(','), state: 'existing' as const };
  if (run.hosts) {
    const r = run as RunContext;
    let m = renderedInitial.get(r);
    if (!m) renderedInitial.set(r, (m = new Map()));
    m.set(host.name, out);
  }
  return out;
}

function specCluster(spec: ClusterSpec): string {
  return hostsOf(spec, 'etcd')
    .map((h) => `${h.name}=${peerUrl(h.ip)}`)
    .join(',');
}

/** etcdctl on a host against the given endpoints, with kcore-wizard's client certificate. */
export function etcdctlAt(endpoints: string[], args: string): string {
  return `ETCDCTL_API=3 ${BIN_DIR}/etcdctl --endpoints=${endpoints.join(',')} --cacert=${ETCD_PKI}/ca.crt --cert=${ETCD_PKI}/kcore-client.crt --key=${ETCD_PKI}/kcore-client.key --dial-timeout=3s --command-timeout=5s ${args}`;
}

export interface LiveMember {
  /** Hex, as `member remove` takes it. */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

/**
 * `member list -w json` (pure). Member IDs are uint64 and do not fit a JS number: they are read as strings
 * before JSON.parse. An unstarted member (added, never started) has no name and no client URLs.
 */
export function parseMemberList(stdout: string): LiveMember[] {
  const text = stdout.replace(/"ID":\s*(\d+)/g, '"ID":"$1"');
  const start = text.indexOf('{');
  const j = JSON.parse(text.slice(start)) as { members?: Array<{ ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[] }> };
  return (j.members ?? []).map((m) => ({ id: BigInt(m.ID ?? '0').toString(16), name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] }));
}

/** A live member's name: its own, or for an unstarted one the spec or recorded host with its peer URL. */
function memberName(m: LiveMember, known: Array<{ name: string; ip: string }>): string {
  if (m.name) return m.name;
  return known.find((k) => m.peerURLs.includes(peerUrl(k.ip)))?.name ?? `(unstarted ${m.peerURLs.join(',')})`;
}

export interface MembershipChange {
  /** Members now: the live list when a member answered, else the record. */
  current: string[];
  joins: string[];
  removes: string[];
  /** Removed from the cluster earlier, etcd not stopped on them yet. */
  pendingStops: string[];
  /** The member that removes the others: the first of the spec's etcd hosts that is a member now. */
  coordinator?: string;
  refusal?: { reason: string; hint: string };
}

/**
 * What a converge changes in the etcd membership (pure). `live` is null when no member answered (or this host
 * cannot ask yet). Refuses a change that would leave fewer than a majority of the current members: a removal
 * of more than that in one go is what loses quorum when anything else fails on the way.
 */
export function membershipChange(want: string[], rec: MembersRecord, live: Array<{ name: string; started: boolean }> | null): MembershipChange {
  const recorded = rec.members.filter((m) => !m.removedAt).map((m) => m.name);
  const pendingStops = rec.members.filter((m) => m.removedAt && !want.includes(m.name)).map((m) => m.name);
  if (recorded.length === 0) {
    // No record: a new cluster (nothing answers), or a workspace from before the record; the latter must agree with the spec.
    const have = live?.filter((m) => m.started).map((m) => m.name) ?? [];
    if (live && have.length && (have.length !== want.length || have.some((n) => !want.includes(n))))
      return {
        current: have,
        joins: [],
        removes: [],
        pendingStops,
        refusal: {
          reason: `the etcd members are ${have.join(', ')} but kcore.yaml lists ${want.join(', ')}, and this workspace has no record of its members (${MEMBERS_FILE})`,
          hint: `put kcore.yaml's etcd members back as the cluster has them (${have.join(', ')}), run converge once so that they are recorded, then change them`,
        },
      };
    return { current: have, joins: [], removes: [], pendingStops };
  }
  const order = (names: string[]) => [...names].sort((a, b) => (want.indexOf(a) + 1 || 1e9) - (want.indexOf(b) + 1 || 1e9) || a.localeCompare(b));
  const current = order(live ? live.map((m) => m.name) : recorded);
  const joins = want.filter((n) => !live?.find((m) => m.name === n && m.started) && (live ? true : !recorded.includes(n)));
  const removes = current.filter((n) => !want.includes(n));
  const coordinator = want.find((n) => current.includes(n) && (!live || live.find((m) => m.name === n)?.started));
  const out: MembershipChange = { current, joins, removes, pendingStops, coordinator };
  const kept = current.filter((n) => want.includes(n));
  const majority = Math.floor(current.length / 2) + 1;
  if (removes.length && kept.length < majority) {
    const most = current.length - majority;
    out.refusal = {
      reason: `removing ${removes.join(', ')} from the ${current.length} etcd members (${current.join(', ')}) at once would keep ${kept.length}, less than a majority (${majority}): etcd would lose quorum on the way`,
      hint: most > 0 ? `remove at most ${most} member${most === 1 ? '' : 's'} per converge: keep the others in kcore.yaml, converge, then remove the next` : `a cluster of ${current.length} cannot lose a member safely: add members first (converge), then remove`,
    };
  } else if (joins.length && !coordinator) {
    out.refusal = {
      reason: `no member of kcore.yaml's etcd list (${want.join(', ')}) is a member of the cluster now (${current.join(', ')}): the new members would form no quorum with them`,
      hint: 'keep at least a majority of the current members in kcore.yaml; change the members a few at a time',
    };
  }
  return out;
}

const changes = new WeakMap<RunContext, Map<string, MembershipChange>>();

/**
 * The membership changes of a run that are not done yet (a join on its host, the removals on the coordinator):
 * `etcd membership settled` waits for them on every member, so that no smoke test looks at a member list that
 * another host of the run is still changing.
 */
const pending = new WeakMap<RunContext, Map<string, { owner: string; done: Promise<void>; resolve: () => void }>>();
function expectChange(ctx: TaskContext, key: string): void {
  let m = pending.get(ctx.run);
  if (!m) pending.set(ctx.run, (m = new Map()));
  if (m.has(key)) return;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  m.set(key, { owner: ctx.host.name, done, resolve });
}
/** Done (or failed, or not needed after all): only the host that told it settles it. */
function settle(ctx: TaskContext, key: string): void {
  const p = pending.get(ctx.run)?.get(key);
  if (p?.owner === ctx.host.name) p.resolve();
}

export const SETTLE_TIMEOUT_MS = 120_000;

const settledOn = new WeakMap<RunContext, Set<string>>();
const deferredOn = new WeakMap<RunContext, Set<string>>();
function markSettled(ctx: TaskContext): void {
  let s = settledOn.get(ctx.run);
  if (!s) settledOn.set(ctx.run, (s = new Set()));
  s.add(ctx.host.name);
}

/**
 * For the smoke test "member list equals the spec": the engine probes a role's smoke tests with its first batch,
 * before any task ran; when this run is to change the membership (kcore.yaml's members differ from the record, or a
 * removed member is still to be stopped), its first preparation is refused so that it is probed at its own turn,
 * after `etcd membership settled`. Only the first: under `kcore-wizard test` (no membership task) it runs at its turn.
 * Returns the smoke test's script.
 */
export async function probeAfterMembershipSettled(ctx: TaskContext, script: string): Promise<string> {
  if (settledOn.get(ctx.run)?.has(ctx.host.name)) return script;
  let d = deferredOn.get(ctx.run);
  if (!d) deferredOn.set(ctx.run, (d = new Set()));
  if (d.has(ctx.host.name)) return script;
  const rec = await readMembersRecord(ctx.run.workspace);
  const live = rec.members.filter((m) => !m.removedAt).map((m) => m.name);
  const want = hostsOf(ctx.run.spec, 'etcd').map((h) => h.name);
  const changing = rec.members.some((m) => m.removedAt) || (live.length > 0 && (live.length !== want.length || want.some((n) => !live.includes(n))));
  if (!changing) return script;
  // Read ahead in the bootstrap's batch: not even the first preparation (that one is the etcd role's own).
  if (ctx.readingAhead) throw new Error('the etcd membership changes in this run: probed with the etcd role');
  d.add(ctx.host.name);
  throw new Error('the etcd membership changes in this run: probed at its turn');
}

/** Before the smoke tests: every membership change of this run is done (or failed); bounded, in case a host stopped before its turn. */
export const membershipSettledTask = task<void>({
  name: 'etcd membership settled',
  why: 'The member list is checked against kcore.yaml only once every add and remove of this run has finished, on whichever member it ran.',
  skip: (ctx) => {
    markSettled(ctx);
    return ctx.run.dryRun || !pending.get(ctx.run)?.size ? 'no membership change in this run' : undefined;
  },
  async gather(ctx) {
    const all = [...(pending.get(ctx.run)?.values() ?? [])].map((p) => p.done);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, SETTLE_TIMEOUT_MS)));
    const aborted = new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
    await Promise.race([Promise.all(all), timeout, aborted]);
    clearTimeout(timer);
  },
});

/** The members an etcd command may ask: the spec's and the recorded ones. */
function knownHosts(run: RunContext, rec: MembersRecord): Array<{ name: string; ip: string }> {
  const out = hostsOf(run.spec, 'etcd').map((h) => ({ name: h.name, ip: h.ip }));
  for (const m of rec.members) if (!out.some((h) => h.name === m.name)) out.push({ name: m.name, ip: m.ip });
  return out;
}

const MARK = 'kcore-etcd-members:';

/**
 * `member list` through the first endpoint that answers. With curl (api.ts: etcd's JSON gateway, the same
 * MemberListResponse), each endpoint in turn, a closed one refused at once and a silent one given 1 s; without
 * curl, etcdctl through the endpoints that accept connections (bash's /dev/tcp, at once): etcdctl would wait its
 * dial timeout on a closed one (a member not started yet, a removed one).
 */
function listScript(endpoints: string[]): string {
  const ask = `curl -sS ${CURL_CLIENT_TLS} --connect-timeout 1 --max-time 5 -d '{}' "$kc_e/v3/cluster/member/list" 2>&1`;
  const viaCurl = `kc_last='no etcd member accepts connections'; for kc_e in ${endpoints.join(' ')}; do kc_o=$(${ask}) && case "$kc_o" in '{"header"'*) echo ${MARK}ask; printf '%s\\n' "$kc_o"; exit 0;; esac; kc_last=$kc_o; done; printf '%s\\n' "$kc_last" >&2; exit 7`;
  const open = endpoints.map((e) => { const [host, port] = e.replace('https://', '').split(':'); return `timeout 1 bash -c ': </dev/tcp/${host}/${port}' 2>/dev/null && kc_ep="$kc_ep,${e}"`; }).join('; ');
  const list = etcdctlAt(['"${kc_ep#,}"'], 'member list -w json');
  const viaEtcdctl = `kc_ep=; ${open}; if [ -z "$kc_ep" ]; then echo 'no etcd member accepts connections' >&2; exit 7; fi; echo ${MARK}ask; ${list}`;
  return `if [ -x ${BIN_DIR}/etcdctl ] && [ -f ${ETCD_PKI}/kcore-client.key ]; then if command -v curl >/dev/null 2>&1; then ${viaCurl}; else ${viaEtcdctl}; fi; else echo ${MARK}no-etcdctl; fi`;
}

function parseList(o: ProbeOutput, known: Array<{ name: string; ip: string }>): Array<LiveMember & { known: string; started: boolean }> | null {
  if (!o.stdout.startsWith(`${MARK}ask`) || o.exitCode !== 0) return null;
  try {
    return parseMemberList(o.stdout.slice(`${MARK}ask`.length)).map((m) => ({ ...m, known: memberName(m, known), started: !!m.name && m.clientURLs.length > 0 }));
  } catch {
    return null;
  }
}

async function liveMembers(conn: HostConnection, endpoints: string[], known: Array<{ name: string; ip: string }>, signal?: AbortSignal) {
  const r = await conn.exec(listScript(endpoints), { sudo: true, signal });
  return { list: parseList({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 }, known), err: r.stderr.trim().split('\n').pop() ?? '' };
}

/** null when every started member answers healthy (through `endpoint health` on each client URL), else what is wrong. */
async function unhealthy(conn: HostConnection, members: Array<LiveMember & { known: string }>, signal?: AbortSignal): Promise<string | null> {
  const started = members.filter((m) => m.clientURLs.length);
  const unstarted = members.filter((m) => !m.clientURLs.length);
  if (unstarted.length) return `${unstarted.map((m) => m.known).join(', ')} ${unstarted.length === 1 ? 'was' : 'were'} added but never started`;
  const r = await conn.exec(etcdctlAt(started.map((m) => m.clientURLs[0]!), 'endpoint health -w json'), { sudo: true, signal });
  let health: Array<{ endpoint: string; health: boolean; error?: string }> = [];
  try {
    health = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as typeof health;
  } catch {
    return `endpoint health failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`}`;
  }
  const bad = started.filter((m) => !health.find((h) => h.endpoint === m.clientURLs[0] && h.health));
  if (bad.length) return bad.map((m) => `${m.known} (${health.find((h) => h.endpoint === m.clientURLs[0])?.error ?? 'no answer'})`).join(', ') + ' not healthy';
  return r.exitCode === 0 ? null : `endpoint health: ${r.stderr.trim().split('\n').pop()}`;
}

const UNHEALTHY_HINT = 'nothing was changed; bring every member back (kcore-wizard test --limit etcd says which and why; journalctl -u etcd on it), then converge again';

function stamp(at = new Date()): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Stop etcd on a removed member and keep its data: disabled and stopped, the data dir moved aside (not deleted). */
export function stopRemovedScript(at = new Date()): string {
  const aside = shellQuote(`${ETCD_DATA}.removed-${stamp(at)}`);
  return `systemctl disable --now etcd 2>&1; if [ -d ${ETCD_DATA} ]; then mv ${ETCD_DATA} ${aside} && echo "data dir kept as ${ETCD_DATA}.removed-${stamp(at)}"; fi; systemctl is-active etcd >/dev/null 2>&1 && { echo 'etcd still active' >&2; exit 1; }; exit 0`;
}

export interface RemoveMemberOptions {
  workspace: string;
  spec: ClusterSpec;
  /** The member to remove (its name). */
  name: string;
  /** A connection to a member that stays (etcdctl runs there). */
  via: HostConnection;
  /** Opens a connection to the removed member (default: its recorded SSH target, 10 s connect timeout, no retry). */
  connect?: (target: HostTarget, signal?: AbortSignal) => Promise<HostConnection>;
  signal?: AbortSignal;
  output?: (line: string) => void;
}

/**
 * Remove one etcd member, safely, for `converge` (a member no longer in kcore.yaml) and `remove-node`: every member
 * must be healthy, the members left must be a majority of the current ones; then `member remove` (the cluster stops
 * counting it in its quorum first), wait until it is gone from the member list, then stop etcd on it (disabled, data
 * dir moved aside). When the removed host cannot be reached, the cluster is fine without it: the record keeps it as
 * removed-not-stopped (the next converge tries again) and this fails saying so. Call it inside `serially(workspace)`
 * when other membership changes may run (converge does).
 */
export async function removeEtcdMember(opts: RemoveMemberOptions): Promise<{ dataKeptAs?: string }> {
  const { workspace, name, via, signal } = opts;
  const say = opts.output ?? (() => undefined);
  const rec = await readMembersRecord(workspace);
  const entry = rec.members.find((m) => m.name === name);
  const known = [...hostsOf(opts.spec, 'etcd').map((h) => ({ name: h.name, ip: h.ip })), ...rec.members.map((m) => ({ name: m.name, ip: m.ip }))];
  const keepEndpoints = known.filter((k) => k.name !== name).map((k) => clientUrl(k.ip));
  if (!entry?.removedAt) {
    const { list, err } = await liveMembers(via, [...new Set(keepEndpoints)], known, signal);
    if (!list) throw new TaskFailure(`no etcd member answered the member list: ${err}`, UNHEALTHY_HINT);
    const target = list.find((m) => m.known === name);
    if (target) {
      const sick = await unhealthy(via, list, signal);
      if (sick) throw new TaskFailure(`etcd is not healthy (${sick}): removing ${name} now could lose quorum`, UNHEALTHY_HINT);
      // From 3 members up, the others are a majority; from 2, "it is unsafe to remove a member" (runtime-configuration docs).
      if (list.length === 1) throw new TaskFailure(`${name} is the last etcd member: it cannot be removed`, 'keep at least one etcd member');
      if (list.length === 2) throw new TaskFailure(`removing ${name} from a 2-member etcd cluster is unsafe (its quorum is 2)`, 'add a member first (converge), then remove');
      say(`etcdctl member remove ${target.id} (${name})`);
      const r = await whileUnhealthy(via, etcdctlAt(list.filter((m) => m.known !== name && m.clientURLs.length).map((m) => m.clientURLs[0]!), `member remove ${target.id}`), signal);
      if (r.exitCode !== 0) throw new TaskFailure(`etcdctl member remove ${name} failed: ${r.stderr.trim().split('\n').pop()}`, 'nothing else was changed; see the error, then converge again');
      await updateRecord(workspace, (x) => {
        const m = x.members.find((y) => y.name === name);
        if (m) m.removedAt = new Date().toISOString();
      });
      const left = list.filter((m) => m.known !== name);
      await waitFor(
        `etcd without ${name}`,
        async () => {
          const now = await liveMembers(via, left.map((m) => m.clientURLs[0]!), known, signal);
          if (!now.list) return now.err;
          if (now.list.some((m) => m.known === name)) return `${name} is still listed`;
          return unhealthy(via, now.list, signal);
        },
        { timeoutMs: 60_000, intervalMs: 1000, signal, hint: `${name} was removed from the cluster; see journalctl -u etcd on the other members` },
      );
    } else say(`${name} is no longer an etcd member`);
  }
  if (!entry) {
    say(`${name} is not in ${MEMBERS_FILE}: kcore-wizard does not know how to reach it; stop etcd on it by hand (systemctl disable --now etcd)`);
    return {};
  }
  // Stop it there. Its own etcd stops itself once it learns it was removed; systemd would start it again (Restart=on-failure).
  let conn: HostConnection | undefined;
  let pool: SshPool | undefined;
  const target: HostTarget = { ...entry.target };
  try {
    if (opts.connect) conn = await opts.connect(target, signal);
    else {
      // The workspace's known_hosts, and every command in the host's command log (as src/converge/run.ts writes it).
      const logDir = path.join(workspace, '.kcore', 'logs');
      pool = new SshPool({
        knownHostsPath: path.join(workspace, 'known_hosts'),
        connectTimeoutMs: 10_000,
        retries: 0,
        onCommand: (host, c) => {
          void mkdir(logDir, { recursive: true, mode: 0o700 })
            .then(() => appendFile(path.join(logDir, `${host}.log`), `${new Date().toISOString()} ${c.sudo ? '[sudo] ' : ''}exit=${c.exitCode ?? 'signal'} ${c.durationMs}ms: ${c.command.replace(/\n/g, '\n    ')}\n`, { mode: 0o600 }))
            .catch(() => undefined);
        },
      });
      conn = await pool.connection(target, signal);
    }
    const r = await conn.exec(stopRemovedScript(), { sudo: true, signal, timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new Error(r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`);
    const kept = /data dir kept as (\S+)/.exec(r.stdout)?.[1];
    say(`etcd on ${name} stopped and disabled${kept ? `; its data dir is kept as ${kept}` : ''}`);
    await updateRecord(workspace, (x) => {
      x.members = x.members.filter((m) => m.name !== name);
    });
    return { dataKeptAs: kept };
  } catch (e) {
    if (e instanceof TaskFailure) throw e;
    throw new TaskFailure(
      `${name} was removed from the etcd cluster (the cluster no longer counts it), but etcd on it could not be stopped: ${(e as Error).message.split('\n')[0]}`,
      `the next converge tries again (it is kept in ${MEMBERS_FILE} until then); or on ${name}: systemctl disable --now etcd && mv ${ETCD_DATA} ${ETCD_DATA}.removed`,
    );
  } finally {
    await pool?.closeAll();
  }
}

/** Before any file is written: refusals (every host), then the removals (on the coordinator). */
export const membershipChangeTask: Task<MembershipChange> = probeTask<MembershipChange>({
  name: 'etcd membership change',
  why: 'Members are added and removed one at a time through etcd runtime reconfiguration, and only while every member is healthy, so that quorum is never lost.',
  async probe(ctx) {
    const rec = await readMembersRecord(ctx.run.workspace);
    const known = knownHosts(ctx.run, rec);
    const want = hostsOf(ctx.run.spec, 'etcd').map((h) => h.name);
    // Told now, as the role starts on this host (before any host's smoke tests), from the record: the work this host
    // is to do for the membership; `etcd membership settled` waits for it on every member.
    const predicted = membershipChange(want, rec, null);
    if (predicted.coordinator === ctx.host.name && removalLines(predicted).length) expectChange(ctx, 'removals');
    if (predicted.joins.includes(ctx.host.name)) expectChange(ctx, `join ${ctx.host.name}`);
    return {
      script: listScript(known.map((k) => clientUrl(k.ip))),
      parse(o) {
        const live = parseList(o, known);
        const c = membershipChange(
          want,
          rec,
          live && live.map((m) => ({ name: m.known, started: m.started })),
        );
        let m = changes.get(ctx.run);
        if (!m) changes.set(ctx.run, (m = new Map()));
        m.set(ctx.host.name, c);
        if (c.refusal) throw blocked(c.refusal.reason, c.refusal.hint, planLines(ctx, c));
        return c;
      },
    };
  },
  plan: (ctx, c) => {
    const lines = ctx.host.name === c.coordinator ? removalLines(c) : [];
    if (!lines.length) settle(ctx, 'removals');
    return lines;
  },
  async apply(ctx, c) {
    try {
      await serially(ctx.run.workspace, async () => {
        for (const name of [...c.pendingStops, ...c.removes])
          await removeEtcdMember({ workspace: ctx.run.workspace, spec: ctx.run.spec, name, via: ctx.conn, signal: ctx.signal, output: (l) => ctx.output(l) });
      });
    } finally {
      settle(ctx, 'removals');
    }
  },
});

function removalLines(c: MembershipChange): string[] {
  return [
    ...c.pendingStops.map((n) => `stop etcd on ${n} (removed from the cluster earlier, not stopped then): disable it, move ${ETCD_DATA} aside`),
    ...c.removes.map((n) => `etcd member remove ${n}, then stop etcd on ${n}: disable it, move ${ETCD_DATA} aside (kept)`),
  ];
}

function joinLine(ctx: TaskContext): string {
  return `etcd member add ${ctx.host.name} (${peerUrl(ctx.host.ip)}), start it with initial-cluster-state existing, wait until healthy`;
}

function planLines(ctx: TaskContext, c: MembershipChange): string[] {
  return [...(ctx.host.name === c.coordinator ? removalLines(c) : []), ...(c.joins.includes(ctx.host.name) ? [joinLine(ctx)] : [])];
}

const joinedInRun = new WeakMap<RunContext, Set<string>>();

/** Whether this host joined the cluster in this run (the service task then leaves it be: it is started and healthy). */
export function joinedThisRun(ctx: TaskContext): boolean {
  return joinedInRun.get(ctx.run)?.has(ctx.host.name) ?? false;
}

/** After the files, before the service: a new member is added, then started with the members of that moment. */
export const memberJoinTask = task<boolean>({
  name: 'etcd member join',
  why: 'A new member must be announced to the cluster (member add) before it starts, and start with initial-cluster-state existing and the current members, or it would form a cluster of its own.',
  async gather(ctx) {
    const c = changes.get(ctx.run)?.get(ctx.host.name);
    if (c) return c.joins.includes(ctx.host.name);
    const rec = await readMembersRecord(ctx.run.workspace);
    const live = rec.members.filter((m) => !m.removedAt);
    return live.length > 0 && !live.some((m) => m.name === ctx.host.name);
  },
  plan: (ctx, joining) => {
    if (!joining) settle(ctx, `join ${ctx.host.name}`);
    return joining ? [joinLine(ctx)] : [];
  },
  async apply(ctx) {
    try {
      await serially(ctx.run.workspace, () => join(ctx));
    } finally {
      settle(ctx, `join ${ctx.host.name}`);
    }
  },
});

async function join(ctx: TaskContext): Promise<void> {
  const { run, host, conn, signal } = ctx;
  const rec = await readMembersRecord(run.workspace);
  const known = knownHosts(run, rec);
  const others = known.filter((k) => k.name !== host.name).map((k) => clientUrl(k.ip));
  const { list, err } = await liveMembers(conn, others, known, signal);
  if (!list) throw new TaskFailure(`no etcd member answered, so ${host.name} cannot be added: ${err}`, UNHEALTHY_HINT);
  const me = list.find((m) => m.peerURLs.includes(peerUrl(host.ip)));
  if (me?.started) {
    ctx.output(`${host.name} is already a started member`);
  } else {
    const sick = await unhealthy(
      conn,
      list.filter((m) => m !== me),
      signal,
    );
    if (sick) throw new TaskFailure(`etcd is not healthy (${sick}): adding ${host.name} now could lose quorum`, UNHEALTHY_HINT);
    const started = list.filter((m) => m.started);
    let cluster: string;
    if (me) {
      ctx.output(`${host.name} was added earlier but never started: starting it`);
      cluster = [...started.map((m) => `${m.name}=${m.peerURLs[0]}`), `${host.name}=${peerUrl(host.ip)}`].join(',');
    } else {
      ctx.output(`etcdctl member add ${host.name} --peer-urls=${peerUrl(host.ip)}`);
      // etcd refuses a member add until every started member has been connected for a while (its strict reconfiguration
      // check: "etcdserver: unhealthy cluster", server/etcdserver/server.go mayAddMember): right after the previous join, wait.
      const add = etcdctlAt(started.map((m) => m.clientURLs[0]!), `member add ${shellQuote(host.name)} --peer-urls=${peerUrl(host.ip)}`);
      const r = await whileUnhealthy(conn, add, signal);
      if (r.exitCode !== 0) throw new TaskFailure(`etcdctl member add ${host.name} failed: ${r.stderr.trim().split('\n').pop()}`, UNHEALTHY_HINT);
      // etcdctl prints the settings the new member starts with: ETCD_INITIAL_CLUSTER="…" (etcdctl/ctlv3/command/member_command.go).
      cluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(r.stdout)?.[1] ?? [...started.map((m) => `${m.name}=${m.peerURLs[0]}`), `${host.name}=${peerUrl(host.ip)}`].join(',');
    }
    await updateRecord(run.workspace, (x) => {
      x.members = x.members.filter((m) => m.name !== host.name);
      x.members.push({ name: host.name, ip: host.ip, target: targetOf(host.target), initialCluster: cluster, state: 'existing' });
    });
    const { etcdDropIn } = await import('./index.js');
    const dropIn = etcdDropIn(run, host, { cluster, state: 'existing' });
    await conn.upload({ path: DROPIN, content: dropIn, mode: 0o644, owner: 'root', group: 'root', sudo: true }, { signal });
    // A data dir with a member in it belongs to an earlier life of this host (a cluster it left): kept aside, not deleted.
    const aside = `${ETCD_DATA}.stale-${stamp()}`;
    await conn.run(
      `if [ -d ${ETCD_DATA}/member ]; then systemctl stop etcd; mv ${ETCD_DATA} ${shellQuote(aside)} && echo "kept an earlier data dir as ${aside}"; fi; install -d -m 700 -o etcd -g etcd ${ETCD_DATA} && systemctl daemon-reload && systemctl enable etcd && systemctl restart --no-block etcd`,
      { sudo: true, signal, onStdout: (l) => ctx.output(l) },
    );
  }
  await waitFor(
    `${host.name} as an etcd member`,
    async () => {
      const now = await liveMembers(conn, [clientUrl(host.ip)], known, signal);
      if (!now.list) return now.err;
      if (!now.list.find((m) => m.peerURLs.includes(peerUrl(host.ip)))?.started) return `${host.name} is not started yet`;
      return unhealthy(conn, now.list, signal);
    },
    { timeoutMs: 90_000, intervalMs: 1000, signal, hint: `see journalctl -u etcd on ${host.name}; it stays in the member list: the next converge starts it again` },
  );
  let set = joinedInRun.get(run);
  if (!set) joinedInRun.set(run, (set = new Set()));
  set.add(host.name);
}

function targetOf(t: HostTarget): RecordedMember['target'] {
  return { name: t.name, host: t.host, port: t.port, user: t.user, ...(t.identityFile ? { identityFile: t.identityFile } : {}) };
}

/** After the service: a member started by this role (a new cluster, a workspace from before the record) is recorded. */
export const memberRecordTask = task<RecordedMember | null>({
  name: 'etcd member recorded',
  why: `The workspace remembers the members (${MEMBERS_FILE}): how to reach one that kcore.yaml no longer lists, and the initial cluster its drop-in started with.`,
  async gather(ctx) {
    const rec = await readMembersRecord(ctx.run.workspace);
    const mine = rec.members.find((m) => m.name === ctx.host.name && !m.removedAt);
    const t = targetOf(ctx.host.target);
    if (mine && mine.ip === ctx.host.ip && JSON.stringify(mine.target) === JSON.stringify(t)) return null;
    const initial = mine ? { cluster: mine.initialCluster, state: mine.state } : (renderedInitial.get(ctx.run)?.get(ctx.host.name) ?? (await initialSettings(ctx.run, ctx.host)));
    return { name: ctx.host.name, ip: ctx.host.ip, target: t, initialCluster: initial.cluster, state: initial.state };
  },
  plan: (ctx, m) => (m ? [`record ${m.name} (${m.target.user}@${m.target.host}:${m.target.port}) in ${MEMBERS_FILE}`] : []),
  async apply(ctx, m) {
    await serially(ctx.run.workspace, () =>
      updateRecord(ctx.run.workspace, (x) => {
        x.members = x.members.filter((y) => y.name !== m!.name);
        x.members.push(m!);
      }),
    );
  },
});
