/**
 * Talking to the cluster from a host with its kubectl: the API server's /readyz (nothing else talks to
 * the API before it answers), node readiness, and bounded waits with a message that says what was seen.
 */
import { waitFor } from '../../engine/ops.js';
import { task, TaskFailure, type Task, type TaskContext } from '../../engine/task.js';
import { shellQuote } from '../../ssh/quote.js';
import { ADMIN_KUBECONFIG, BIN_DIR } from './paths.js';

export const KUBECTL = `${BIN_DIR}/kubectl`;

/** A kubectl command line on a host (admin kubeconfig unless told otherwise). */
export function kubectl(args: string, opts: { kubeconfig?: string; server?: string; timeout?: string } = {}): string {
  const server = opts.server ? ` --server=${shellQuote(opts.server)}` : '';
  return `${KUBECTL} --kubeconfig=${opts.kubeconfig ?? ADMIN_KUBECONFIG}${server} --request-timeout=${opts.timeout ?? '10s'} ${args}`;
}

const lastLine = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop() ?? '';

/** null when `/readyz` answers ok, else what was seen (service state, kubectl's last line). */
export async function apiReadyProblem(ctx: TaskContext, server: string): Promise<string | null> {
  const r = await ctx.conn.exec(`test -x ${KUBECTL} || { echo "${KUBECTL} is not installed" >&2; exit 127; }; ${kubectl('get --raw /readyz', { server, timeout: '5s' })}`, { sudo: true, signal: ctx.signal });
  if (r.exitCode === 0 && r.stdout.trim() === 'ok') return null;
  return `${server}/readyz: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.exitCode}`}`;
}

export const API_READY_TIMEOUT_MS = 180_000;
export const NODES_READY_TIMEOUT_MS = 300_000;

export async function waitApiReady(ctx: TaskContext, server: string, timeoutMs = API_READY_TIMEOUT_MS): Promise<void> {
  await waitFor(
    `the API server ${server}`,
    async () => {
      const p = await apiReadyProblem(ctx, server);
      if (!p) return null;
      const state = (await ctx.conn.exec('systemctl is-active kube-apiserver 2>/dev/null; true', { signal: ctx.signal })).stdout.trim();
      return state && state !== 'unknown' ? `${p} (kube-apiserver on ${ctx.host.name} is ${state})` : p;
    },
    {
      timeoutMs,
      intervalMs: 2000,
      signal: ctx.signal,
      hint: `on the master: journalctl -u kube-apiserver; etcd must be healthy first (kcore-wizard test --tags etcd)`,
    },
  );
}

export interface NodeInfo {
  name: string;
  ready: boolean;
  /** Ready condition reason/message when not ready. */
  why: string;
  labels: Record<string, string>;
  taints: Array<{ key: string; effect: string; value?: string }>;
  podCIDR?: string;
  internalIP?: string;
}

interface NodeJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { podCIDR?: string; taints?: Array<{ key: string; effect: string; value?: string }> };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>; addresses?: Array<{ type: string; address: string }> };
}

export function parseNode(n: NodeJson): NodeInfo {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: n.metadata.name,
    ready: ready?.status === 'True',
    why: ready ? `${ready.reason ?? ready.status}${ready.message ? `: ${ready.message}` : ''}` : 'no Ready condition yet',
    labels: n.metadata.labels ?? {},
    taints: n.spec?.taints ?? [],
    podCIDR: n.spec?.podCIDR,
    internalIP: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address,
  };
}

/**
 * The cluster-wide view of the nodes: `get nodes` (list) always with the admin kubeconfig. A node's
 * kubelet credentials may not list Nodes (Node authorizer, AuthorizeNodeWithSelectors: a node reads only
 * its own Node object), so this takes no kubeconfig option. Pure; exported for the API-access contract test.
 */
export function getNodesCommand(opts: { server?: string } = {}): string {
  return kubectl('get nodes -o json', { server: opts.server });
}

/** One node by name (`get node <name>`): what a node may read about itself with its own credentials. Pure. */
export function getNodeCommand(name: string, opts: { kubeconfig?: string; server?: string } = {}): string {
  return kubectl(`get node ${shellQuote(name)} -o json --ignore-not-found`, opts);
}

/** Every node as the API sees it (admin credentials). */
export async function getNodes(ctx: TaskContext, opts: { server?: string } = {}): Promise<NodeInfo[]> {
  const r = await ctx.conn.exec(getNodesCommand(opts), { sudo: true, signal: ctx.signal });
  if (r.exitCode !== 0) throw new TaskFailure(`kubectl get nodes failed on ${ctx.host.name}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`);
  return ((JSON.parse(r.stdout) as { items: NodeJson[] }).items ?? []).map(parseNode);
}

/** One node (an empty list when it is not registered), read with `kubeconfig` (a node: its kubelet's). */
export async function getNode(ctx: TaskContext, name: string, opts: { kubeconfig?: string; server?: string } = {}): Promise<NodeInfo[]> {
  const r = await ctx.conn.exec(getNodeCommand(name, opts), { sudo: true, signal: ctx.signal });
  if (r.exitCode !== 0) throw new TaskFailure(`kubectl get node ${name} failed on ${ctx.host.name}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`);
  const t = r.stdout.trim();
  return t ? [parseNode(JSON.parse(t) as NodeJson)] : [];
}

/** What is wrong with the expected nodes (missing or not Ready), or null. */
export function nodesProblem(nodes: NodeInfo[], expected: string[]): string | null {
  const problems: string[] = [];
  for (const name of expected) {
    const n = nodes.find((x) => x.name === name);
    if (!n) problems.push(`${name} not registered`);
    else if (!n.ready) problems.push(`${name} not Ready (${n.why})`);
  }
  return problems.length ? problems.join('; ') : null;
}

/**
 * Bounded wait for nodes to be registered and Ready. With `self` (a node waiting for itself with its own
 * kubelet kubeconfig) it reads only that Node; otherwise the cluster-wide list with the admin kubeconfig.
 */
export async function waitNodesReady(ctx: TaskContext, expected: string[], opts: { self?: { kubeconfig: string }; timeoutMs?: number } = {}): Promise<void> {
  const self = opts.self;
  if (self && expected.length !== 1) throw new Error('waitNodesReady: a node waits only for itself');
  await waitFor(
    `node${expected.length === 1 ? '' : 's'} ${expected.join(', ')}`,
    async () => {
      try {
        return nodesProblem(self ? await getNode(ctx, expected[0]!, { kubeconfig: self.kubeconfig }) : await getNodes(ctx), expected);
      } catch (e) {
        if (e instanceof TaskFailure) return e.message;
        throw e;
      }
    },
    {
      timeoutMs: opts.timeoutMs ?? NODES_READY_TIMEOUT_MS,
      intervalMs: 3000,
      signal: ctx.signal,
      hint: 'on the node: journalctl -u kubelet -u containerd -u flanneld (a node is Ready once containerd runs and the CNI config is in place)',
    },
  );
}

/**
 * The gate before anything talks to the API server: gather looks at /readyz once; when it is not ready
 * the plan is to wait, and the bounded wait is the verify step (a dry run only plans it).
 */
export function apiGateTask(server: (ctx: TaskContext) => string): Task<string | null> {
  return task<string | null>({
    name: 'API server answers /readyz',
    gather: (ctx) => apiReadyProblem(ctx, server(ctx)),
    plan: (_ctx, problem) => (problem ? [`wait up to ${API_READY_TIMEOUT_MS / 1000} s for the API server (now: ${problem})`] : []),
    verify: (ctx) => waitApiReady(ctx, server(ctx)),
  });
}

/**
 * A read of the cluster that failed (`why`) when earlier changes on this host were only planned (a dry
 * run of a cluster not converged yet): unknown, not wrong. Otherwise it is a failure.
 */
export function unreadableOrFail(ctx: TaskContext, failure: TaskFailure): string {
  if (ctx.unapplied() > 0) return failure.message.split('\n')[0]!;
  throw failure;
}

export { lastLine };
