/** Flags and output shared by converge, test and plan: one engine run, rendered for where it runs. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadSpec } from '../spec/load.js';
import { hostsOf, plannedHosts, type PlannedHost } from '../spec/hosts.js';
import type { ClusterSpec } from '../spec/schema.js';
import { shellQuote } from '../ssh/quote.js';
import { waitFor } from '../engine/ops.js';
import { task, TaskFailure, type TaskContext } from '../engine/task.js';
import { apiReadyProblem, apiServerUrl, getNodeCommand, kubectl, lastLine, parseNode } from '../roles/kube-common/index.js';
import { UsageError } from '../spec/errors.js';
import { ROLES } from '../roles/index.js';
import type { Role, Task } from '../engine/task.js';
import { runConverge, type RunSummary } from '../converge/run.js';
import { fanOut, type EngineEvent, type EventSink } from '../engine/events.js';
import { createJsonRenderer, createPlainRenderer } from '../output/plain.js';
import { outputFormat, stringFlag, type CommandContext, type OptionSpec } from './args.js';
import { workspaceOptions, resolveWorkspace, helpOption, sshConfigOption } from './workspace.js';
import { recordSmokeResults } from '../health/smoke.js';

export const runOptions: Record<string, OptionSpec> = {
  ...workspaceOptions,
  tags: { type: 'string', valueName: 'tags', description: 'only tasks with these tags or roles (comma-separated), e.g. etcd,test' },
  'skip-tags': { type: 'string', valueName: 'tags', description: 'skip tasks with these tags or roles' },
  limit: { type: 'string', short: 'l', valueName: 'hosts', description: 'only these hosts or groups (comma-separated), e.g. etcd-02 or kube-worker' },
  artifacts: { type: 'string', valueName: 'folder|url', description: "artifact source for this run (overrides the spec's artifacts.source)" },
  'ssh-config': sshConfigOption,
  'accept-changed-host-keys': { type: 'string', valueName: 'hosts', description: 'accept a CHANGED host key for these hosts (comma-separated, or "all"); only after you checked why it changed' },
  output: { type: 'string', short: 'o', valueName: 'format', description: 'text (default) or json (one event per line)' },
  quiet: { type: 'boolean', short: 'q', description: 'text output: only changed, failed and skipped tasks' },
  help: helpOption,
};

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export interface EngineRun {
  summary: RunSummary;
  events: EngineEvent[];
  workspace: string;
}

export async function runFromFlags(
  ctx: CommandContext,
  mode: { dryRun?: boolean; tags?: string[]; /** hosts of a role at a time (1: rolling) */ maxHosts?: number; /** instead of --limit */ limit?: string[]; /** instead of every role */ roles?: Role[]; /** print nothing (a look before acting) */ silent?: boolean },
): Promise<EngineRun> {
  const workspace = resolveWorkspace(ctx);
  const tags = mode.tags ?? (mode.roles ? undefined : list(stringFlag(ctx.values, 'tags')));
  const skipTags = list(stringFlag(ctx.values, 'skip-tags'));
  if (!mode.tags && !mode.roles) checkTags('--tags', tags);
  if (!mode.roles) checkTags('--skip-tags', skipTags);
  const artifacts = await artifactsFlag(ctx);
  const { spec, warnings } = await loadSpec(workspace);
  const format = outputFormat(ctx.values);
  const write = (s: string) => void ctx.stdout.write(s);
  const events: EngineEvent[] = [];
  const renderer: EventSink = mode.silent ? () => {} : format === 'json' ? createJsonRenderer(write) : createPlainRenderer(write, { verbose: !ctx.values.quiet });
  if (format === 'text' && !mode.silent) for (const w of warnings) ctx.stderr.write(`warning: ${w.field}: ${w.message}\n`);
  const accept = stringFlag(ctx.values, 'accept-changed-host-keys');
  const summary = await runConverge({
    workspace,
    spec,
    tags,
    skipTags: mode.roles ? undefined : skipTags,
    roles: mode.roles,
    limit: mode.limit ?? list(stringFlag(ctx.values, 'limit')),
    dryRun: mode.dryRun,
    maxHosts: mode.maxHosts,
    artifacts,
    sshConfig: stringFlag(ctx.values, 'ssh-config'),
    acceptChangedHostKeys: accept === 'all' ? true : list(accept),
    signal: ctx.signal,
    emit: fanOut(renderer, (e) => events.push(e)),
  });
  // The dashboard shows each host's last smoke results, whichever command ran them.
  await recordSmokeResults(workspace, events);
  return { summary, events, workspace };
}

/** Exit code of a run: 0 ok, 1 a host failed, 130 cancelled. */
export function exitCode(s: RunSummary): number {
  return s.status === 'ok' ? 0 : s.status === 'cancelled' ? 130 : 1;
}

/** Every tag a task carries, and every role name: what --tags and --skip-tags may name. */
export function knownTags(roles: Role[] = ROLES): string[] {
  const out = new Set<string>();
  for (const r of roles) {
    out.add(r.name);
    for (const t of r.tasks as Task[]) for (const tag of t.tags ?? []) out.add(tag);
  }
  return [...out];
}

/** An unknown tag would silently select nothing (or skip nothing), as --limit already refuses. */
function checkTags(flag: string, given: string[] | undefined): void {
  if (!given) return;
  const known = knownTags();
  const unknown = given.filter((t) => !known.includes(t));
  if (unknown.length === 0) return;
  const near = known.filter((k) => unknown.some((u) => k.startsWith(u) || u.startsWith(k) || (Math.abs(k.length - u.length) <= 1 && [...k].filter((c, i) => u[i] !== c).length <= 1)));
  throw new UsageError(
    `${flag} ${unknown.join(',')}: no such tag or role${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}; known: ${known.join(', ')}`,
  );
}

/** `--artifacts`: official, an http(s) URL, or a local folder that must exist now (resolved from where the user is). */
export async function artifactsFlag(ctx: CommandContext): Promise<string | undefined> {
  const v = stringFlag(ctx.values, 'artifacts');
  if (v === undefined || v === 'official' || /^https?:\/\//.test(v)) return v;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new UsageError(`--artifacts ${v}: only http:// and https:// mirrors, "official" or a local folder`);
  const dir = path.resolve(ctx.cwd, v);
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new UsageError(`--artifacts ${v}: no such folder (${dir}); give a folder holding the release files and SHA256SUMS, an http(s) mirror URL, or "official"`);
  }
  if (!st.isDirectory()) throw new UsageError(`--artifacts ${v}: is a file, not a folder; give the folder that holds it and SHA256SUMS`);
  return dir;
}

/** How long the next etcd member of a rolling converge waits after one that changed (etcd's HealthInterval). */
export const ETCD_SETTLE_MS = 5000;

/** Waits `ms`, or less when `signal` aborts. */
function settle(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A rolling converge: one host at a time, etcd members first, then masters, then workers (spec order;
 * --limit narrows it), each its own run whose roles verify the host healthy and whose smoke tests pass
 * before the next host starts. Stops at the first host that does not come back healthy, says which
 * and why, and leaves the rest untouched. Returns the exit code.
 */
export async function rollingConverge(ctx: CommandContext, opts: { tags?: string[]; what: string }): Promise<number> {
  const workspace = resolveWorkspace(ctx);
  const { spec } = await loadSpec(workspace);
  const limit = list(stringFlag(ctx.values, 'limit'));
  const order = plannedHosts(spec).filter((h) => !limit || limit.includes(h.name) || limit.includes(h.group));
  if (limit) {
    const unknown = limit.filter((l) => !plannedHosts(spec).some((h) => h.name === l || h.group === l));
    if (unknown.length) throw new UsageError(`--limit ${unknown.join(',')}: no such host or group (hosts: ${plannedHosts(spec).map((h) => h.name).join(', ')}; groups: etcd, kube-master, kube-worker)`);
  }
  const json = outputFormat(ctx.values) === 'json';
  const say = (message: string) => ctx.stdout.write(json ? `${JSON.stringify({ type: 'rolling', message })}\n` : `\n== ${message}\n`);
  for (const [i, h] of order.entries()) {
    if (ctx.signal.aborted) return 130;
    say(`${opts.what}: ${h.name} (${i + 1} of ${order.length})`);
    const { summary } = await runFromFlags(ctx, { limit: [h.name], tags: opts.tags });
    if (summary.status !== 'ok') {
      const rest = order.slice(i + 1).map((x) => x.name);
      say(`${opts.what} stopped at ${h.name}: it did not come back healthy (see above)${rest.length ? `; untouched: ${rest.join(', ')}` : ''}`);
      return exitCode(summary);
    }
    // A member that was just restarted answers a linearizable read before its peers have all reconnected to it;
    // restarting the next member then (or handing it the leadership) can stall writes for seconds. etcd counts a
    // member as connected after HealthInterval, 5 s (server/etcdserver/server.go: its strict reconfiguration
    // check waits as long): the next etcd member waits that long after one that changed.
    if (h.group === 'etcd' && summary.changed > 0 && order[i + 1]?.group === 'etcd') await settle(ETCD_SETTLE_MS, ctx.signal);
  }
  say(`${opts.what}: done on ${order.map((h) => h.name).join(', ')}`);
  return 0;
}

// ---- Kubernetes node operations through the admin credentials -------------------------------------------

/**
 * `kubectl drain` flags (kubernetes/kubectl pkg/cmd/drain/drain.go; kubectl reference "kubectl drain"):
 * --ignore-daemonsets (DaemonSet pods — flanneld-less here, but any add-on's — are not evicted: their
 * controller ignores unschedulable and would recreate them), --delete-emptydir-data (pods with emptyDir
 * volumes are evicted; that data is scratch by definition), --timeout (the whole drain is bounded, not
 * forever). No --force: a pod that no controller would recreate blocks the drain, and the message says so.
 */
export const DRAIN_FLAGS = ['--ignore-daemonsets', '--delete-emptydir-data', '--timeout=300s'] as const;

export type NodeOp = 'cordon' | 'drain' | 'ready' | 'uncordon' | 'delete';

/** The kubectl command line of one node operation, admin kubeconfig, against `server`. Pure; exported for the API-access contract test. */
export function nodeOpCommand(op: Exclude<NodeOp, 'ready'> | 'get', node: string, server: string): string {
  const n = shellQuote(node);
  switch (op) {
    case 'get':
      return getNodeCommand(node, { server });
    case 'cordon':
    case 'uncordon':
      return kubectl(`${op} ${n}`, { server });
    case 'drain':
      return kubectl(`drain ${n} ${DRAIN_FLAGS.join(' ')}`, { server, timeout: '30s' });
    case 'delete':
      return kubectl(`delete node ${n} --ignore-not-found`, { server, timeout: '30s' });
  }
}

interface LiveNode {
  unschedulable: boolean;
  ready: boolean;
  why: string;
}

const NODE_READY_MS = 300_000;

/**
 * One engine role that runs `ops` for `node`, in that order, on the first master still in the run, with
 * the admin kubeconfig against the first master (spec order, never one in `exclude`) whose /readyz
 * answers. Never a node's credentials: the Node authorizer lets a kubelet read only its own Node.
 */
export function nodeOpsRole(node: string, ops: NodeOp[], opts: { exclude?: string[]; readyTimeoutMs?: number; /** a Node that is not registered needs no cordon or drain (remove-node) */ missingOk?: boolean } = {}): Role {
  const exclude = new Set([...(opts.exclude ?? []), node]);
  let server = '';
  const read = async (ctx: TaskContext): Promise<LiveNode | null> => {
    const r = await ctx.conn.exec(nodeOpCommand('get', node, server), { sudo: true, signal: ctx.signal });
    if (r.exitCode !== 0) throw new TaskFailure(`kubectl get node ${node} failed on ${ctx.host.name}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`);
    const t = r.stdout.trim();
    if (!t) return null;
    const j = JSON.parse(t) as { spec?: { unschedulable?: boolean } } & Parameters<typeof parseNode>[0];
    const info = parseNode(j);
    return { unschedulable: j.spec?.unschedulable === true, ready: info.ready, why: info.why };
  };
  const must = (n: LiveNode | null): LiveNode => {
    if (!n && opts.missingOk) return { unschedulable: true, ready: true, why: 'not registered' };
    if (!n) throw new TaskFailure(`node ${node} is not registered with the API server`, `is its kubelet running? journalctl -u kubelet on ${node}`);
    return n;
  };
  const run = async (ctx: TaskContext, op: Exclude<NodeOp, 'ready'>, hint: string) => {
    const r = await ctx.conn.exec(nodeOpCommand(op, node, server), { sudo: true, signal: ctx.signal });
    for (const l of r.stdout.split('\n').filter(Boolean)) ctx.output(l);
    if (r.exitCode !== 0) throw new TaskFailure(`kubectl ${op} ${node} failed on ${ctx.host.name}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`, hint);
  };
  const tasks: Task[] = [
    task({
      name: 'an API server answers /readyz (admin credentials)',
      async gather(ctx) {
        const seen: string[] = [];
        for (const m of plannedHosts(ctx.run.spec).filter((h) => h.group === 'kube-master' && !exclude.has(h.name))) {
          const url = apiServerUrl(ctx.run.spec, m.ip);
          const p = await apiReadyProblem(ctx, url);
          if (!p) {
            server = url;
            return url;
          }
          seen.push(p);
        }
        throw new TaskFailure(`no API server answers /readyz: ${seen.join('; ') || 'no other master'}`, 'kcore-wizard test --tags kube-master');
      },
      plan: () => [],
    }),
  ];
  for (const op of ops) {
    if (op === 'cordon')
      tasks.push(task({ name: `cordon ${node}`, gather: async (ctx) => must(await read(ctx)), plan: (_c, n) => (n.unschedulable ? [] : [`cordon ${node} (no new pods are scheduled on it)`]), apply: (ctx) => run(ctx, 'cordon', `kcore-wizard test --tags kube-master`) }));
    if (op === 'drain')
      tasks.push(
        task({
          name: `drain ${node}`,
          gather: async (ctx) => must(await read(ctx)),
          plan: (_c, n) => (n.why === 'not registered' ? [] : [`drain ${node} (${DRAIN_FLAGS.join(' ')}: its pods are evicted, DaemonSet pods stay)`]),
          apply: (ctx) => run(ctx, 'drain', `${node} stays cordoned. A pod without a controller, or a PodDisruptionBudget, blocks the drain: move or delete it (kubectl get pods -A -o wide --field-selector spec.nodeName=${node}), then run the same command again`),
        }),
      );
    if (op === 'ready')
      tasks.push(
        task({
          name: `${node} Ready (as the API server sees it)`,
          gather: async (ctx) => must(await read(ctx)),
          plan: (_c, n) => (n.ready ? [] : [`wait up to ${(opts.readyTimeoutMs ?? NODE_READY_MS) / 1000} s for ${node} to be Ready (now: ${n.why})`]),
          verify: (ctx) =>
            waitFor(
              `node ${node} Ready`,
              async () => {
                const n = await read(ctx).catch((e: unknown) => (e instanceof TaskFailure ? e.message : Promise.reject(e)));
                if (typeof n === 'string') return n;
                return !n ? `${node} not registered` : n.ready ? null : `${node} not Ready (${n.why})`;
              },
              { timeoutMs: opts.readyTimeoutMs ?? NODE_READY_MS, intervalMs: 2000, signal: ctx.signal, hint: `${node} stays cordoned: journalctl -u kubelet -u containerd on ${node}; the same command again uncordons it once it is Ready` },
            ),
        }),
      );
    if (op === 'uncordon')
      tasks.push(task({ name: `uncordon ${node}`, gather: async (ctx) => must(await read(ctx)), plan: (_c, n) => (n.unschedulable ? [`uncordon ${node} (pods may be scheduled on it again)`] : []), apply: (ctx) => run(ctx, 'uncordon', 'kcore-wizard test') }));
    if (op === 'delete')
      tasks.push(task({ name: `delete Node ${node}`, gather: (ctx) => read(ctx), plan: (_c, n) => (n ? [`delete Node ${node} from the API server`] : []), apply: (ctx) => run(ctx, 'delete', 'kcore-wizard test --tags kube-master') }));
  }
  return { name: 'node-ops', hosts: (r) => r.hostsOf('kube-master').filter((h) => !exclude.has(h.name)), firstAvailable: true, tasks };
}

/** Masters first, then workers, each group in spec order; `limit` (names or groups) narrows it. Pure. */
export function kubeRollingOrder(spec: ClusterSpec, limit?: string[]): PlannedHost[] {
  const all = plannedHosts(spec);
  const pick = (g: string) => all.filter((h) => h.group === g && (!limit || limit.includes(h.name) || limit.includes(h.group)));
  return [...pick('kube-master'), ...pick('kube-worker')];
}

/** Hosts with a change planned (or blocked) in a dry run's events. */
export function pendingHosts(events: EngineEvent[]): Set<string> {
  return new Set(events.filter((e) => e.type === 'task-end' && (e.status === 'changed' || (e.status === 'failed' && e.wouldFail))).map((e) => (e as { host: string }).host));
}

/** What converges a node on the new version: the Kubernetes roles by default (tags), or given roles (tests). */
export interface NodeStep {
  roles?: Role[];
  tags?: string[];
}
export const KUBE_NODE_STEP: NodeStep = { tags: ['kube-master', 'kube-worker'] };

/**
 * The Kubernetes half of a rolling upgrade. Masters one at a time: the node step (new binaries,
 * restarts through their handlers, /readyz, smoke tests). Then workers one at a time: if the node
 * step has anything to do there (a dry run says), cordon and drain it with the admin credentials,
 * run the node step, wait for it to be Ready as the API server sees it, uncordon; a worker with
 * nothing to do is only checked Ready and uncordoned (a rerun after a stop resumes where it stopped).
 * Stops at the first host that fails, says which and why, touches none after it. Returns the exit code.
 */
export async function rollingKubernetes(ctx: CommandContext, opts: { what: string; step?: NodeStep; readyTimeoutMs?: number }): Promise<number> {
  const workspace = resolveWorkspace(ctx);
  const { spec } = await loadSpec(workspace);
  const step = opts.step ?? KUBE_NODE_STEP;
  const order = kubeRollingOrder(spec, list(stringFlag(ctx.values, 'limit')));
  const json = outputFormat(ctx.values) === 'json';
  const say = (message: string) => ctx.stdout.write(json ? `${JSON.stringify({ type: 'rolling', message })}\n` : `\n== ${message}\n`);
  const stop = (i: number, h: PlannedHost, why: string, s: RunSummary) => {
    const rest = order.slice(i + 1).map((x) => x.name);
    say(`${opts.what} stopped at ${h.name}: ${why} (see above)${rest.length ? `; untouched: ${rest.join(', ')}` : ''}`);
    return exitCode(s);
  };
  const ops = (node: string, o: NodeOp[]) => runFromFlags(ctx, { roles: [nodeOpsRole(node, o, { readyTimeoutMs: opts.readyTimeoutMs })], limit: hostsOf(spec, 'kube-master').map((m) => m.name).filter((m) => m !== node) });
  for (const [i, h] of order.entries()) {
    if (ctx.signal.aborted) return 130;
    say(`${opts.what}: ${h.name} (${i + 1} of ${order.length})`);
    if (h.group === 'kube-master') {
      const { summary } = await runFromFlags(ctx, { limit: [h.name], ...step });
      if (summary.status !== 'ok') return stop(i, h, 'it did not come back healthy', summary);
      continue;
    }
    const plan = await runFromFlags(ctx, { limit: [h.name], dryRun: true, silent: true, ...step });
    if (plan.summary.status === 'cancelled') return 130;
    if (pendingHosts(plan.events).has(h.name)) {
      const drained = await ops(h.name, ['cordon', 'drain']);
      if (drained.summary.status !== 'ok') return stop(i, h, 'it could not be cordoned and drained', drained.summary);
      const { summary } = await runFromFlags(ctx, { limit: [h.name], ...step });
      if (summary.status !== 'ok') return stop(i, h, `it did not come back healthy and stays cordoned`, summary);
    } else say(`${h.name}: nothing to change (already upgraded); checking it is Ready and schedulable`);
    const back = await ops(h.name, ['ready', 'uncordon']);
    if (back.summary.status !== 'ok') return stop(i, h, 'it is not Ready and stays cordoned', back.summary);
  }
  say(`${opts.what}: done on ${order.map((h) => h.name).join(', ')}`);
  return 0;
}
