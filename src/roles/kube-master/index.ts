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
    { path: `${K8S_PKI}/ca.crt`, content: await read(p.ca.cert), mode: 0o644, notify: [R.apiserver, R.controllerManager, R.scheduler], why: "The cluster CA's certificate: the API server accepts a client certificate only when this CA signed it (--client-ca-file), and the components check the API server's certificate against it." },
    // The cluster CA key: the controller manager signs CSRs with it (--cluster-signing-key-file).
    { path: `${K8S_PKI}/ca.key`, content: await read(p.ca.key), ...key, notify: R.controllerManager, why: "The cluster CA's private key, on the masters only: the controller manager signs approved certificate requests with it (--cluster-signing-key-file). Whoever holds it can make any identity in the cluster." },
    // Its certificate alone: --cluster-signing-cert-file takes one certificate, ca.crt is a bundle during a CA rotation.
    {
      path: `${K8S_PKI}/ca-signing.crt`,
      content: signingCertificate(await read(p.ca.cert)),
      mode: 0o644,
      notify: R.controllerManager,
      why: 'The cluster CA certificate that matches ca.key, alone: the controller manager signs certificate requests with this pair and refuses a file with more than one certificate. ca.crt holds two CAs while they are rotated (certs renew --ca).',
    },
    { path: `${K8S_PKI}/apiserver.crt`, content: await read(p.apiserver.cert), mode: 0o644, notify: R.apiserver, why: "The API server's serving certificate on :6443. Its SANs list every name and address clients use (each master, the kubernetes service IP and names, 127.0.0.1 for the nodes' local load balancer), so TLS checks pass whichever way a client comes." },
    { path: `${K8S_PKI}/apiserver.key`, content: await read(p.apiserver.key), ...key, notify: R.apiserver, why: "The private key of the API server's serving certificate." },
    { path: `${K8S_PKI}/apiserver-kubelet-client.crt`, content: await read(p.apiserverKubeletClient.cert), mode: 0o644, notify: R.apiserver, why: 'The client certificate the API server shows to kubelets when you run kubectl logs, exec or port-forward: the kubelets accept only authenticated callers.' },
    { path: `${K8S_PKI}/apiserver-kubelet-client.key`, content: await read(p.apiserverKubeletClient.key), ...key, notify: R.apiserver, why: 'The private key of the API server\'s kubelet client certificate.' },
    { path: `${K8S_PKI}/etcd-ca.crt`, content: await read(p.etcd.ca.cert), mode: 0o644, notify: R.apiserver, why: "The etcd CA's certificate: the API server checks the etcd members' serving certificates against it (--etcd-cafile)." },
    { path: `${K8S_PKI}/apiserver-etcd-client.crt`, content: await read(p.etcd.apiserverClient.cert), mode: 0o644, notify: R.apiserver, why: "The API server's client certificate towards etcd, signed by the etcd CA: etcd requires one from every client, and only the API servers have this one." },
    { path: `${K8S_PKI}/apiserver-etcd-client.key`, content: await read(p.etcd.apiserverClient.key), ...key, notify: R.apiserver, why: "The private key of the API server's etcd client certificate: with it, etcd's whole content is readable." },
    { path: `${K8S_PKI}/sa.key`, content: await read(p.serviceAccount.key), ...key, notify: [R.apiserver, R.controllerManager], why: 'The service-account signing key: the API server signs the tokens pods use to call the API with it (--service-account-signing-key-file). The same key on every master, so a token from one is valid on all.' },
    { path: `${K8S_PKI}/sa.pub`, content: await read(p.serviceAccount.pub), mode: 0o644, notify: R.apiserver, why: 'The public half of the service-account key: the API server verifies service-account tokens with it (--service-account-key-file).' },
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
    { path: CONTROLLER_MANAGER_KUBECONFIG, content: await kc('system:kube-controller-manager', p.controllerManager), mode: 0o600, secret: true, notify: R.controllerManager, why: "How the controller manager reaches the API server: this master's own :6443, the cluster CA, and its client certificate and key (user system:kube-controller-manager, which Kubernetes' built-in RBAC already grants what it needs)." },
    { path: SCHEDULER_KUBECONFIG, content: await kc('system:kube-scheduler', p.scheduler), mode: 0o600, secret: true, notify: R.scheduler, why: "How the scheduler reaches the API server: this master's own :6443 with its own client certificate (user system:kube-scheduler)." },
    { path: ADMIN_KUBECONFIG, content: await kc(`${cluster}-admin`, p.admin), mode: 0o600, secret: true, why: 'A cluster-admin kubeconfig on the master (group system:masters), for kcore-wizard\'s checks and add-ons and for kubectl by hand as root. It points at this master\'s own API server.' },
  ];
}

export function masterUnits(ctx: TaskContext): FileSpec[] {
  const { spec } = ctx.run;
  return [
    { path: `${SYSTEMD_DIR}/kube-apiserver.service`, content: apiserverUnit(spec, ctx.host), mode: 0o644, notify: [R.apiserver, DAEMON_RELOAD], why: 'The API server as a systemd unit, every setting a flag you can read: the etcd members and their certificates, the service IP range, the certificates it serves and checks, and authorization Node,RBAC. systemd restarts it when it dies.' },
    { path: `${SYSTEMD_DIR}/kube-controller-manager.service`, content: controllerManagerUnit(spec, ctx.host), mode: 0o644, notify: [R.controllerManager, DAEMON_RELOAD], why: "The controller manager's unit: its kubeconfig, the pod network it carves into one range per node (--cluster-cidr, --allocate-node-cidrs), the CA it signs with and leader election, so only one master's copy acts at a time." },
    { path: `${SYSTEMD_DIR}/kube-scheduler.service`, content: schedulerUnit(spec, ctx.host), mode: 0o644, notify: [R.scheduler, DAEMON_RELOAD], why: "The scheduler's unit: its kubeconfig and leader election (one active scheduler among the masters)." },
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
  why: "flanneld has its own identity and may do only what a ClusterRole bound to it allows: list and watch the nodes (their pod ranges) and patch node status. It is applied once, from the first master, before any node waits to be Ready: without it no node gets a pod network.",
  docs: 'https://github.com/flannel-io/flannel/blob/master/Documentation/configuration.md',
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
  why: 'The masters run the control plane: the API server (the front door of the cluster, and the only component that talks to etcd), the controller manager and the scheduler. Each is a plain systemd service with its own certificate, so you can read its flags and its journal like any other service. With more than one master, each runs all three; the controller managers and schedulers elect one leader among them.',
  docs: 'https://kubernetes.io/docs/concepts/overview/components/',
  concepts: [
    {
      name: 'kube-apiserver',
      text: "The API server serves the Kubernetes API over HTTPS on :6443, checks who is calling (client certificates, service-account tokens) and what they may do (the Node authorizer and RBAC), and stores every object in etcd. Everything else, kubelets included, only watches and writes objects through it: it is the cluster's single source of truth.",
      docs: 'https://kubernetes.io/docs/concepts/overview/components/',
    },
    {
      name: 'kube-controller-manager',
      text: 'Controllers are loops that compare what was asked with what is, and act: a Deployment gets its ReplicaSet and pods, a new node gets its pod range, a service account gets its token, an approved certificate request gets signed. The controller manager runs them all in one process.',
    },
    {
      name: 'kube-scheduler',
      text: "The scheduler watches for pods with no node, scores the nodes that can take them (resources, taints, affinity) and writes the choice into the pod. The kubelet on that node then starts it. Masters are tainted control-plane:NoSchedule, so ordinary pods land on the workers.",
    },
    {
      name: 'leader election',
      text: 'With several masters, one controller manager and one scheduler act while the others stand by: they hold a Lease object in kube-system, renewed every few seconds, and a standby takes over when the holder stops renewing. The smoke test checks both leases are held and fresh.',
      docs: 'https://kubernetes.io/docs/concepts/architecture/leases/',
    },
  ],
  hosts: (run) => run.hostsOf('kube-master'),
  tasks: [
    { ...directoryTask('Kubernetes directories', [
      { path: BIN_DIR, mode: 0o755 },
      { path: K8S_DIR, mode: 0o755 },
      { path: K8S_PKI, mode: 0o700 },
    ]), why: '/opt/bin for the binaries, /etc/kubernetes for configuration and kubeconfigs, and /etc/kubernetes/pki (0700) for certificates and keys.' },
    { ...filesTask('control-plane certificates and keys', certificates), why: "Copies the control plane's certificates and keys from the workspace PKI: the API server's serving certificate, its clients towards etcd and the kubelets, the cluster CA and the service-account key pair. Each change restarts only the components that use that file." },
    { ...filesTask('control-plane kubeconfigs', masterKubeconfigs), why: "Writes a kubeconfig for the controller manager, the scheduler and the admin, each naming this master's own API server and embedding its own client certificate, so each component is its own user in the API server's eyes." },
    { ...filesTask('control-plane units', masterUnits), why: 'Writes the three systemd units of the control plane, their settings as flags rendered from the spec.', docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/' },
    { ...binariesTask('Kubernetes server binaries', (ctx) =>
      serverBinaries(ctx.run.spec, ctx.facts().arch, [
        ['kube-apiserver', R.apiserver],
        ['kube-controller-manager', R.controllerManager],
        ['kube-scheduler', R.scheduler],
        ['kubectl', undefined],
      ]),
    ), why: 'Installs kube-apiserver, kube-controller-manager, kube-scheduler and kubectl of versions.kubernetes from the official server release, checked against its SHA-256.' },
    { ...serviceTask('kube-apiserver', { restartHandler: R.apiserver, wait: apiWait }), why: "The API server: the cluster's front door on :6443 and the only component that reads and writes etcd. Restarted only when its flags, certificates or binary changed, then awaited until /readyz answers.", docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/' },
    // The gate: controller manager, scheduler, kubelets and add-ons come only after /readyz answers.
    { ...apiGateTask(ownServer), why: 'Nothing that talks to the API server starts before it answers /readyz (ready means it runs and reaches etcd). A bounded wait here turns a slow start into a clear message instead of a cascade of failures later.', docs: 'https://kubernetes.io/docs/reference/using-api/health-checks/' },
    { ...serviceTask('kube-controller-manager', { restartHandler: R.controllerManager }), why: 'The controller manager: the loops that make the cluster match what was asked (pods of a Deployment, pod ranges of new nodes, signed certificate requests). One master\'s copy leads, the others wait.', docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/' },
    { ...serviceTask('kube-scheduler', { restartHandler: R.scheduler }), why: 'The scheduler: it assigns every new pod to a node. One master\'s copy leads, the others wait.', docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/' },
    flannelRbacTask,

    smokeTest('kube-apiserver: /readyz answers with the admin certificate', async (ctx) => {
      const problem = await apiReadyProblem(ctx, ownServer(ctx));
      if (problem) throw new TaskFailure(problem, `on ${ctx.host.name}: systemctl status kube-apiserver; journalctl -u kube-apiserver`);
    }, { why: "Asks this master's own API server for /readyz with the admin credentials. It proves three things at once: the API server runs, it reaches etcd over TLS, and the admin certificate is accepted.", docs: 'https://kubernetes.io/docs/reference/using-api/health-checks/' }),
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
    }, { why: 'A running controller manager or scheduler that holds no lease does nothing. This checks both services run here and that each lease in kube-system has a holder that renewed it recently, so the cluster really has a working leader for each.', docs: 'https://kubernetes.io/docs/concepts/architecture/leases/' }),
  ],
};
