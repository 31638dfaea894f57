/**
 * `kcore-wizard upgrade --etcd V --kubernetes V`: write the versions into kcore.yaml, show the plan, then
 * roll: one etcd member at a time, each restarted on its new binaries, healthy again and passing its
 * smoke tests (put/get needs quorum) before the next; then the masters one at a time, then the workers
 * one at a time with cordon, drain and uncordon through the admin credentials (run-common.ts
 * rollingKubernetes). Stops at the first host that does not come back healthy; a rerun resumes.
 */
import { UsageError } from '../spec/errors.js';
import { loadSpec } from '../spec/load.js';
import { checkSpec, saveSpec } from '../spec/parse.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { confirmAction } from './confirm.js';
import { KUBE_NODE_STEP, kubeRollingOrder, pendingHosts, rollingConverge, rollingKubernetes, runFromFlags, runOptions, type NodeStep } from './run-common.js';
import { compareVersions, minorOf, SUPPORTED_MINORS } from '../spec/versions.js';
import { hostsOf } from '../spec/hosts.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { CommandContext } from './args.js';
import { resolveWorkspace } from './workspace.js';

const { tags: _tags, 'skip-tags': _skip, ...options } = runOptions;

/**
 * etcd upgrades one minor at a time and never downgrades by a binary swap (etcd.io/docs/v3.6/upgrades/).
 * The same version is fine: a rerun after a stopped upgrade resumes it (upgraded members change nothing).
 */
export function checkEtcdUpgrade(from: string, to: string): string | null {
  const parse = (v: string) => /^(\d+)\.(\d+)\.(\d+)$/.exec(v)?.slice(1).map(Number);
  const a = parse(from);
  const b = parse(to);
  if (!b) return `--etcd ${to}: not a version (want MAJOR.MINOR.PATCH, e.g. 3.6.11)`;
  if (!a) return null;
  const cmp = a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  if (cmp > 0) return `--etcd ${to}: etcd ${from} cannot be downgraded by replacing its binaries; restore a backup taken on ${to} instead`;
  if (a[0] !== b[0] || b[1]! - a[1]! > 1) return `--etcd ${to}: etcd upgrades one minor version at a time (${from} → ${a[0]}.${a[1]! + 1}.x first)`;
  return null;
}

export const SKEW_POLICY = 'https://kubernetes.io/releases/version-skew-policy/';

/**
 * The upstream version skew policy (https://kubernetes.io/releases/version-skew-policy/), as an upgrade
 * must keep it: the newest and oldest kube-apiserver within one minor (so one minor per upgrade, masters
 * all done before the next), no downgrade, the target a minor kcore-wizard supports
 * (src/spec/versions.ts). The same version is a resume. Pure.
 */
export function checkKubernetesUpgrade(from: string, to: string): string | null {
  if (!/^\d+\.\d+\.\d+$/.test(to)) return `--kubernetes ${to}: not a version (want MAJOR.MINOR.PATCH, e.g. 1.37.1)`;
  const minors = SUPPORTED_MINORS.map((m) => m.minor);
  if (!minors.includes(minorOf(to))) return `--kubernetes ${to}: kcore-wizard supports Kubernetes ${minors.join(', ')}; ${minorOf(to)} is not among them`;
  if (!/^\d+\.\d+\.\d+$/.test(from)) return null;
  if (compareVersions(to, from) < 0)
    return `--kubernetes ${to}: Kubernetes ${from} cannot be downgraded (the version skew policy allows no kube-apiserver older than the newest one by more than a minor, and etcd keeps what the newer one wrote: ${SKEW_POLICY}); restore a backup taken on ${to} instead`;
  const [fa, fb] = from.split('.').map(Number);
  const [ta, tb] = to.split('.').map(Number);
  if (ta !== fa || tb! - fb! > 1)
    return `--kubernetes ${to}: Kubernetes upgrades one minor at a time (the newest and oldest kube-apiserver must be within one minor: ${SKEW_POLICY}); upgrade ${from} → ${fa}.${fb! + 1}.x first`;
  return null;
}

/**
 * kubelet must never be newer than the kube-apiserver it talks to (same policy): workers may be upgraded
 * only when no master still has the upgrade to do. `pending`: hosts whose plan on the new version is not
 * empty; `order`: what this run will upgrade, masters first. Null when fine. Pure.
 */
export function kubeletSkewProblem(spec: ClusterSpec, order: string[], pending: Set<string>, to: string): string | null {
  const masters = hostsOf(spec, 'kube-master').map((h) => h.name);
  const workers = order.filter((n) => !masters.includes(n) && pending.has(n));
  const behind = masters.filter((m) => pending.has(m) && !order.includes(m));
  if (workers.length === 0 || behind.length === 0) return null;
  return `--limit: ${workers.join(', ')} would run a kubelet ${to} while ${behind.join(', ')} still run${behind.length === 1 ? 's' : ''} the older kube-apiserver; a kubelet must not be newer than kube-apiserver (${SKEW_POLICY}): upgrade the masters first (--limit kube-master, or no --limit)`;
}

export const upgradeCommand: CommandDef = {
  name: 'upgrade',
  summary: 'Upgrade etcd one member at a time, then Kubernetes: masters, then workers (cordon, drain, uncordon); stops at the first unhealthy host.',
  usage: 'kcore-wizard upgrade [DIR] [--etcd V] [--kubernetes V] [--yes] [--limit hosts] [--artifacts folder|url]',
  details: [
    'Writes the versions into kcore.yaml, shows the plan (the binaries and restarts), then rolls one host at a time.',
    '--etcd: each member gets its new binaries, restarts, is healthy again and passes the etcd smoke tests',
    '(a put/get round trip needs quorum) before the next member. One minor at a time; a downgrade is refused.',
    '--kubernetes: the masters one at a time (new binaries, restarts, /readyz, smoke tests), then the workers one',
    'at a time: cordon and drain (kubectl drain --ignore-daemonsets --delete-emptydir-data --timeout=300s, with',
    'the admin kubeconfig on a master whose /readyz answers), new binaries, restarts, Ready, uncordon. The upstream',
    `version skew policy is kept (${SKEW_POLICY}): one minor at a time, no downgrade, no kubelet newer than`,
    'the API server (workers only after every master). Both: etcd first.',
    'Stops at the first host that fails, says why, and leaves the hosts after it untouched (a worker that failed',
    'stays cordoned); run the same upgrade again to resume once it is fixed.',
  ].join('\n'),
  options: {
    ...options,
    etcd: { type: 'string', valueName: 'version', description: 'the etcd version to upgrade to, e.g. 3.6.11' },
    kubernetes: { type: 'string', valueName: 'version', description: 'the Kubernetes version to upgrade to, e.g. 1.37.2' },
    yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required off a terminal)' },
  },
  run: (ctx) => runUpgrade(ctx),
};

/**
 * The whole command after its flags: exported so that the integration test can run it with its own node
 * step (Kubernetes binaries cannot run on our machines: docs/day2.md says what stands in for them).
 */
export async function runUpgrade(ctx: CommandContext, opts: { kubeStep?: NodeStep; readyTimeoutMs?: number } = {}): Promise<number> {
  const workspace = resolveWorkspace(ctx);
  const etcdTo = stringFlag(ctx.values, 'etcd');
  const kubeTo = stringFlag(ctx.values, 'kubernetes');
  if (!etcdTo && !kubeTo) throw new UsageError('upgrade needs --etcd VERSION and/or --kubernetes VERSION (e.g. --etcd 3.6.11, --kubernetes 1.37.2)');
  const { spec } = await loadSpec(workspace);
  const from = { etcd: spec.versions.etcd, kubernetes: spec.versions.kubernetes };
  if (etcdTo) {
    const bad = checkEtcdUpgrade(from.etcd, etcdTo);
    if (bad) throw new UsageError(bad);
  }
  if (kubeTo) {
    const bad = checkKubernetesUpgrade(from.kubernetes, kubeTo);
    if (bad) throw new UsageError(bad);
  }
  // The new spec must pass the same checks as a hand-edited one (the versions window of its Kubernetes).
  const next = checkSpec({ ...spec, versions: { ...spec.versions, ...(etcdTo ? { etcd: etcdTo } : {}), ...(kubeTo ? { kubernetes: kubeTo } : {}) } }).spec;
  const json = outputFormat(ctx.values) === 'json';
  const kubeStep = opts.kubeStep ?? KUBE_NODE_STEP;
  const back = async (why: string) => {
    await saveSpec(workspace, spec);
    if (!json) ctx.stderr.write(`kcore-wizard: ${why}; kcore.yaml is back on ${[etcdTo && `etcd ${from.etcd}`, kubeTo && `Kubernetes ${from.kubernetes}`].filter(Boolean).join(' and ')}\n`);
  };
  await saveSpec(workspace, next);
  if (!json) {
    if (etcdTo) ctx.stdout.write(from.etcd === etcdTo ? `kcore.yaml: versions.etcd is ${etcdTo}: resuming the upgrade\n` : `kcore.yaml: versions.etcd ${from.etcd} → ${etcdTo}\n`);
    if (kubeTo) ctx.stdout.write(from.kubernetes === kubeTo ? `kcore.yaml: versions.kubernetes is ${kubeTo}: resuming the upgrade\n` : `kcore.yaml: versions.kubernetes ${from.kubernetes} → ${kubeTo}\n`);
  }
  if (etcdTo) {
    const plan = await runFromFlags(ctx, { dryRun: true, tags: ['etcd'], limit: limitOr(ctx, 'etcd') });
    if (plan.summary.status !== 'ok') {
      await back('upgrade not started: the plan fails (above)');
      return 1;
    }
  }
  if (kubeTo) {
    // Every Kubernetes node is planned whatever --limit says: the skew check needs to know which masters
    // still have the upgrade to do.
    const plan = await runFromFlags(ctx, { dryRun: true, ...kubeStep, limit: ['kube-master', 'kube-worker'] });
    if (plan.summary.status !== 'ok') {
      await back('upgrade not started: the plan fails (above)');
      return 1;
    }
    const order = kubeRollingOrder(next, limitList(ctx)).map((h) => h.name);
    const skew = kubeletSkewProblem(next, order, pendingHosts(plan.events), kubeTo);
    if (skew) {
      await back('upgrade not started');
      throw new UsageError(skew);
    }
  }
  const what = [etcdTo && `every etcd member on ${etcdTo}`, kubeTo && `every master, then every worker (cordoned and drained first) on Kubernetes ${kubeTo}`].filter(Boolean).join(', then ');
  let yes: boolean;
  try {
    yes = await confirmAction(ctx, 'upgrade', `restart ${what}, one host at a time`, { question: `Upgrade ${what}, one host at a time? [y/N] `, offTerminal: '; kcore.yaml is unchanged' });
  } catch (e) {
    await saveSpec(workspace, spec);
    throw e;
  }
  if (!yes) {
    await back('nothing upgraded');
    return 1;
  }
  if (etcdTo) {
    const code = await rollingConverge({ ...ctx, values: { ...ctx.values, limit: limitOr(ctx, 'etcd')!.join(',') } }, { tags: ['etcd'], what: `upgrade etcd ${from.etcd} → ${etcdTo}` });
    if (code !== 0 || !kubeTo) return code;
  }
  return rollingKubernetes({ ...ctx, values: { ...ctx.values, limit: limitList(ctx)?.join(',') } }, { what: `upgrade Kubernetes ${from.kubernetes} → ${kubeTo}`, step: kubeStep, readyTimeoutMs: opts.readyTimeoutMs });
}

const limitList = (ctx: CommandContext) => {
  const l = stringFlag(ctx.values, 'limit');
  return l ? l.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
};

/** The run is about etcd: --limit narrows it to some members; without it, every member. */
function limitOr(ctx: CommandContext, group: string): string[] | undefined {
  return limitList(ctx) ?? [group];
}
