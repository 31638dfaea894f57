/**
 * kube-master: kube-apiserver, kube-controller-manager and kube-scheduler as systemd units from
 * templates/kubernetes/, binaries from the Kubernetes server release in /opt/bin, each component with
 * its own certificate or kubeconfig from the workspace PKI in /etc/kubernetes (keys 0600). A component
 * restarts only when its own configuration, certificate or binary changed. Nothing talks to the API
 * server before its /readyz answers (bounded wait). Masters are also nodes: the kube-worker role runs
 * on them next (kubelet registers them tainted control-plane:NoSchedule). The first master applies
 * flanneld's ClusterRole and binding (its own user, not a node's) before any node waits for Ready.
 * Smoke tests (tag `test`): /readyz on this master with the admin certificate; controller-manager and
 * scheduler running and holding their leader leases.
 */
import { directoryTask, filesTask, serviceTask, type FileSpec } from '../../engine/ops.js';
import { smokeTest, task, TaskFailure, type Role, type TaskContext } from '../../engine/task.js';
import { FLANNEL_USER } from '../../pki/catalog.js';
import { signingCertificate } from '../../pki/rotate.js';
import { renderTemplate } from '../../render/env.js';
import type { ClusterSpec } from '../../spec/schema.js';
import type { RoleServices } from '../index.js';
import {
  ADMIN_KUBECONFIG,
  apiGateTask,
  apiReadyProblem,
  apiserverUnit,
  apiServerUrl,
  binariesTask,
  BIN_DIR,
  buildKubeconfig,
  clusterName,
  CONTROLLER_MANAGER_KUBECONFIG,
  controllerManagerUnit,
  DAEMON_RELOAD,
  K8S_DIR,
  K8S_PKI,
  kubectl,
  lastLine,
  MANIFEST_HASH_ANNOTATION,
  stampManifest,
  type Manifest,
  unreadableOrFail,
  RESTART,
  SCHEDULER_KUBECONFIG,
  schedulerUnit,
  serverBinaries,
  SYSTEMD_DIR,
  waitApiReady,
  readPki,
} from '../kube-common/index.js';

const R = RESTART;

/** This master's own API server (components on a master talk to their local API server). */
export const ownServer = (ctx: TaskContext) => apiServerUrl(ctx.run.spec, ctx.host.ip);

/** The certificates and keys a master gets (exported for the render tests). */
export async function certificates(ctx: TaskContext): Promise<FileSpec[]> {
  const p = ctx.run.pki;
  const read = (f: string) => readPki(ctx, f);
  const key = { mode: 0o600, secret: true } as const;
  return [
    { path: `${K8S_PKI}/ca.crt`, content: await read(p.ca.cert), mode: 0o644, notify: [R.apiserver, R.controllerManager, R.scheduler] },
    // The cluster CA key: the controller manager signs CSRs with it (--cluster-signing-key-file).
    { path: `${K8S_PKI}/ca.key`, content: await read(p.ca.key), ...key, notify: R.controllerManager },
    // Its certificate alone: --cluster-signing-cert-file takes one certificate, ca.crt is a bundle during a CA rotation.
    {
      path: `${K8S_PKI}/ca-signing.crt`,
      content: signingCertificate(await read(p.ca.cert)),
      mode: 0o644,
      notify: R.controllerManager,
      why: 'The cluster CA certificate that matches ca.key, alone: the controller manager signs certificate requests with this pair and refuses a file with more than one certificate. ca.crt holds two CAs while they are rotated (certs renew --ca).',
    },
    { path: `${K8S_PKI}/apiserver.crt`, content: await read(p.apiserver.cert), mode: 0o644, notify: R.apiserver },
    { path: `${K8S_PKI}/apiserver.key`, content: await read(p.apiserver.key), ...key, notify: R.apiserver },
    { path: `${K8S_PKI}/apiserver-kubelet-client.crt`, content: await read(p.apiserverKubeletClient.cert), mode: 0o644, notify: R.apiserver },
    { path: `${K8S_PKI}/apiserver-kubelet-client.key`, content: await read(p.apiserverKubeletClient.key), ...key, notify: R.apiserver },
    { path: `${K8S_PKI}/etcd-ca.crt`, content: await read(p.etcd.ca.cert), mode: 0o644, notify: R.apiserver },
    { path: `${K8S_PKI}/apiserver-etcd-client.crt`, content: await read(p.etcd.apiserverClient.cert), mode: 0o644, notify: R.apiserver },
    { path: `${K8S_PKI}/apiserver-etcd-client.key`, content: await read(p.etcd.apiserverClient.key), ...key, notify: R.apiserver },
    { path: `${K8S_PKI}/sa.key`, content: await read(p.serviceAccount.key), ...key, notify: [R.apiserver, R.controllerManager] },
    { path: `${K8S_PKI}/sa.pub`, content: await read(p.serviceAccount.pub), mode: 0o644, notify: R.apiserver },
  ];
}

/** The kubeconfigs of the control-plane components and the admin one (used on the master by kcore-wizard). */
export async function masterKubeconfigs(ctx: TaskContext): Promise<FileSpec[]> {
  const p = ctx.run.pki;
  const ca = await readPki(ctx, p.ca.cert);
  const server = ownServer(ctx);
  const cluster = clusterName(ctx.run.spec);
  const kc = async (user: string, pair: { cert: string; key: string }) => buildKubeconfig({ cluster, server, ca, user, cert: await readPki(ctx, pair.cert), key: await readPki(ctx, pair.key) });
  return [
    { path: CONTROLLER_MANAGER_KUBECONFIG, content: await kc('system:kube-controller-manager', p.controllerManager), mode: 0o600, secret: true, notify: R.controllerManager },
    { path: SCHEDULER_KUBECONFIG, content: await kc('system:kube-scheduler', p.scheduler), mode: 0o600, secret: true, notify: R.scheduler },
    { path: ADMIN_KUBECONFIG, content: await kc(`${cluster}-admin`, p.admin), mode: 0o600, secret: true },
  ];
}

export function masterUnits(ctx: TaskContext): FileSpec[] {
  const { spec } = ctx.run;
  return [
    { path: `${SYSTEMD_DIR}/kube-apiserver.service`, content: apiserverUnit(spec, ctx.host), mode: 0o644, notify: [R.apiserver, DAEMON_RELOAD] },
    { path: `${SYSTEMD_DIR}/kube-controller-manager.service`, content: controllerManagerUnit(spec, ctx.host), mode: 0o644, notify: [R.controllerManager, DAEMON_RELOAD] },
    { path: `${SYSTEMD_DIR}/kube-scheduler.service`, content: schedulerUnit(spec, ctx.host), mode: 0o644, notify: [R.scheduler, DAEMON_RELOAD] },
  ];
}

const apiWait = (ctx: TaskContext) => waitApiReady(ctx, ownServer(ctx));

/** The flannel ClusterRole and its binding to flanneld's user (templates/flannel/rbac.yaml.njk). */
export function flannelRbacManifest(spec: ClusterSpec): Manifest {
  return stampManifest('flannel-rbac', renderTemplate('flannel/rbac.yaml.njk', { cluster: spec.name, user: FLANNEL_USER }));
}

const isFirstMaster = (ctx: TaskContext) => ctx.run.hostsOf('kube-master')[0]?.name === ctx.host.name;

/** What applying `m` would change given the live objects' hash annotations (pure; exported for tests). */
export function rbacPlan(m: Manifest, live: Array<{ kind: string; metadata: { name: string; annotations?: Record<string, string> } }>): string[] {
  return m.objects.flatMap((o) => {
    const l = live.find((x) => x.kind === o.kind && x.metadata.name === o.name);
    if (!l) return [`create ${o.kind} ${o.name}`];
    return l.metadata.annotations?.[MANIFEST_HASH_ANNOTATION] === m.sha256 ? [] : [`update ${o.kind} ${o.name} (manifest changed)`];
  });
}

/**
 * flanneld's permissions, applied from the first master with the admin kubeconfig once /readyz answers
 * and before any node waits for Ready (the kube-worker role comes after this one): without them flanneld
 * cannot list the Nodes, writes no subnet.env, and no pod sandbox starts.
 */
const flannelRbacTask = task({
  name: 'flannel RBAC (ClusterRole and binding for flanneld)',
  skip: (ctx) => (isFirstMaster(ctx) ? undefined : 'applied from the first master'),
  async gather(ctx) {
    const m = flannelRbacManifest(ctx.run.spec);
    const r = await ctx.conn.exec(kubectl('get -f - -o json --ignore-not-found', { server: ownServer(ctx) }), { sudo: true, stdin: m.text, signal: ctx.signal });
    if (r.exitCode !== 0) {
      const why = lastLine(r.stderr) || `exit ${r.exitCode}`;
      unreadableOrFail(ctx, new TaskFailure(`kubectl get for the flannel RBAC failed on ${ctx.host.name}: ${why}`));
      return { m, live: [], unreadable: why };
    }
    const t = r.stdout.trim();
    const o = t ? (JSON.parse(t) as { kind: string; items?: Parameters<typeof rbacPlan>[1] } & Parameters<typeof rbacPlan>[1][number]) : null;
    return { m, live: !o ? [] : o.kind === 'List' ? (o.items ?? []) : [o], unreadable: undefined as string | undefined };
  },
  plan: (_ctx, { m, live, unreadable }) => (unreadable ? [`apply ${m.name} (${m.objects.length} objects; the cluster cannot be read yet: ${unreadable})`] : rbacPlan(m, live)),
  async apply(ctx, { m }) {
    const r = await ctx.conn.exec(kubectl('apply --server-side --force-conflicts --field-manager=kcore-wizard -f -', { server: ownServer(ctx), timeout: '60s' }), { sudo: true, stdin: m.text, signal: ctx.signal });
    if (r.exitCode !== 0) throw new TaskFailure(`applying the flannel RBAC failed: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`);
    for (const l of r.stdout.split('\n').filter(Boolean)) ctx.output(l);
  },
});

/** Whether a leader lease is held and was renewed recently (pure; exported for tests). */
export function leaseProblem(name: string, lease: { spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } } | null, now = Date.now()): string | null {
  if (!lease) return `${name} holds no leader lease (kube-system/${name} missing)`;
  const s = lease.spec ?? {};
  if (!s.holderIdentity) return `${name}'s lease has no holder`;
  const renewed = s.renewTime ? Date.parse(s.renewTime) : NaN;
  const max = (s.leaseDurationSeconds ?? 15) * 1000 * 2;
  if (!Number.isFinite(renewed) || now - renewed > max) return `${name}'s lease (held by ${s.holderIdentity}) was last renewed ${s.renewTime ?? 'never'}: the leader is not running`;
  return null;
}

export const kubeMasterServices: RoleServices = { role: 'kube-master', groups: ['kube-master'], units: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] };

export const kubeMasterRole: Role = {
  name: 'kube-master',
  hosts: (run) => run.hostsOf('kube-master'),
  tasks: [
    directoryTask('Kubernetes directories', [
      { path: BIN_DIR, mode: 0o755 },
      { path: K8S_DIR, mode: 0o755 },
      { path: K8S_PKI, mode: 0o700 },
    ]),
    filesTask('control-plane certificates and keys', certificates),
    filesTask('control-plane kubeconfigs', masterKubeconfigs),
    filesTask('control-plane units', masterUnits),
    binariesTask('Kubernetes server binaries', (ctx) =>
      serverBinaries(ctx.run.spec, ctx.facts().arch, [
        ['kube-apiserver', R.apiserver],
        ['kube-controller-manager', R.controllerManager],
        ['kube-scheduler', R.scheduler],
        ['kubectl', undefined],
      ]),
    ),
    serviceTask('kube-apiserver', { restartHandler: R.apiserver, wait: apiWait }),
    // The gate: controller manager, scheduler, kubelets and add-ons come only after /readyz answers.
    apiGateTask(ownServer),
    serviceTask('kube-controller-manager', { restartHandler: R.controllerManager }),
    serviceTask('kube-scheduler', { restartHandler: R.scheduler }),
    flannelRbacTask,

    smokeTest('kube-apiserver: /readyz answers with the admin certificate', async (ctx) => {
      const problem = await apiReadyProblem(ctx, ownServer(ctx));
      if (problem) throw new TaskFailure(problem, `on ${ctx.host.name}: systemctl status kube-apiserver; journalctl -u kube-apiserver`);
    }),
    smokeTest('kube-controller-manager and kube-scheduler running and leading', async (ctx) => {
      const units = ['kube-controller-manager', 'kube-scheduler'];
      const r = await ctx.conn.exec(`for u in ${units.join(' ')}; do echo "$u $(systemctl is-active $u 2>/dev/null)"; done`, { signal: ctx.signal });
      const down = r.stdout.split('\n').filter((l) => l.trim() && !l.trim().endsWith(' active'));
      if (down.length) throw new TaskFailure(`not running on ${ctx.host.name}: ${down.map((l) => l.trim()).join(', ')}`, `journalctl -u ${units.join(' -u ')}`);
      const problems: string[] = [];
      for (const u of units) {
        const l = await ctx.conn.exec(kubectl(`-n kube-system get lease ${u} -o json`, { server: ownServer(ctx) }), { sudo: true, signal: ctx.signal });
        const lease = l.exitCode === 0 ? (JSON.parse(l.stdout) as Parameters<typeof leaseProblem>[1]) : /NotFound|not found/.test(l.stderr) ? null : undefined;
        if (lease === undefined) problems.push(`cannot read the ${u} lease: ${lastLine(l.stderr)}`);
        else {
          const p = leaseProblem(u, lease);
          if (p) problems.push(p);
        }
      }
      if (problems.length) throw new TaskFailure(problems.join('; '), `journalctl -u kube-controller-manager -u kube-scheduler on the masters`);
    }),
  ],
};
