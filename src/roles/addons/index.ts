/**
 * addons: run from the first master that is still in the run (not failed or unreachable) with its kubectl and the admin kubeconfig (the control machine may
 * have no kubectl; the masters do). Before anything: /readyz answers, then every node of the spec is
 * registered and Ready (bounded waits). Nodes get their role labels (kubelets may not set
 * node-role.kubernetes.io/* themselves under NodeRestriction). CoreDNS (Deployment, Service at the
 * spec's dnsIp, ConfigMap with the cluster domain, RBAC) and, when asked, the dashboard are applied with
 * server-side apply, only when an object is missing or its manifest hash annotation differs.
 * Smoke tests (tag `test`): every node Ready; CoreDNS ready and resolving kubernetes.default from a
 * pod; a pod on every worker reaches the pods on the others; a NodePort service answers on every node;
 * the dashboard runs. The test pods (busybox) are removed afterwards.
 */
import { ALWAYS, smokeTest, task, TaskFailure, type Role, type RunContext, type TaskContext } from '../../engine/task.js';
import { chooseMasterScript, describeChoice, mastersOf, parseChoice, type MasterRef } from '../../health/api-master.js';
import { apiServiceIp, hostsOf } from '../../spec/hosts.js';
import { shellQuote } from '../../ssh/quote.js';
import { directoryTask, filesTask } from '../../engine/ops.js';
import {
  ADDONS_DIR,
  apiGateTask,
  apiServerUrl,
  CONTROL_PLANE_LABEL,
  corednsManifest,
  dashboardManifest,
  getNodes,
  kubectl,
  lastLine,
  MANIFEST_HASH_ANNOTATION,
  nodesProblem,
  NODES_READY_TIMEOUT_MS,
  SMOKE_IMAGE,
  SMOKE_NAMESPACE,
  smokeManifest,
  waitNodesReady,
  WORKER_LABEL,
  type Manifest,
  unreadableOrFail,
} from '../kube-common/index.js';

/** The API server the add-ons talk to, chosen per run (see `apiChoiceTask`); this master's own until then. */
const chosenApi = new WeakMap<RunContext, MasterRef>();
const server = (ctx: TaskContext) => chosenApi.get(ctx.run)?.server ?? apiServerUrl(ctx.run.spec, ctx.host.ip);

/**
 * With more than one master: the first master whose /readyz answers, asked from the master this role
 * runs on (the runner picks the first one still in the run, which may be up while its API server is
 * not). Every later task and smoke test of the role talks to that API server. Tagged `always`: the
 * smoke tests (`--tags test`) need the choice too. None answering: this master's own, and the gate
 * after it waits for it (a new cluster's first converge).
 */
export const apiChoiceTask = task({
  name: 'a master whose API server answers /readyz',
  why: 'The add-ons run on one master, but that master may be up while its API server is not. So they first ask every master, in order, whether its API server is ready (/readyz) and talk to the first one that is.',
  docs: 'https://kubernetes.io/docs/reference/using-api/health-checks/',
  tags: [ALWAYS],
  skip: (ctx) => (mastersOf(ctx.run.spec).length > 1 ? undefined : 'one master: the add-ons use its API server'),
  async gather(ctx) {
    const masters = mastersOf(ctx.run.spec);
    const r = await ctx.conn.exec(chooseMasterScript(masters), { sudo: true, signal: ctx.signal });
    const choice = parseChoice(masters, r.stdout);
    if (choice.chosen) chosenApi.set(ctx.run, choice.chosen);
    else chosenApi.delete(ctx.run);
    ctx.output(`${describeChoice(choice)}${choice.chosen ? '' : `; waiting for ${ctx.host.name}'s own`}`);
    return choice;
  },
  plan: () => [],
});
const k = (ctx: TaskContext, args: string, timeout?: string) => kubectl(args, { server: server(ctx), timeout });

export const ADDON_ROLLOUT_TIMEOUT_S = 300;
export const SMOKE_READY_TIMEOUT_S = 180;

const allNodes = (run: Pick<RunContext, 'spec'>) => [...hostsOf(run.spec, 'kube-master'), ...hostsOf(run.spec, 'kube-worker')];

interface LiveObject {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
}

/** kubectl get -f's output: nothing, one object, or a List (pure; exported for tests). */
export function parseGetOutput(stdout: string): LiveObject[] {
  const t = stdout.trim();
  if (!t) return [];
  const o = JSON.parse(t) as LiveObject & { items?: LiveObject[] };
  return o.kind === 'List' ? (o.items ?? []) : [o];
}

/** What applying `m` would change, given the live objects (pure; exported for tests). */
export function addonPlan(m: Manifest, live: LiveObject[]): string[] {
  const out: string[] = [];
  for (const o of m.objects) {
    const id = `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
    const l = live.find((x) => x.kind === o.kind && x.metadata.name === o.name && (x.metadata.namespace ?? '') === (o.namespace ?? ''));
    if (!l) out.push(`create ${id}`);
    else if (l.metadata.annotations?.[MANIFEST_HASH_ANNOTATION] !== m.sha256) out.push(`update ${id} (manifest changed)`);
  }
  return out;
}

/** A dry run of a cluster not converged yet may not read it: the plan says so instead of failing. */
async function orUnreachable<T>(ctx: TaskContext, f: () => Promise<T>): Promise<T | { unreachable: string }> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof TaskFailure) return { unreachable: unreadableOrFail(ctx, e) };
    throw e;
  }
}
const isUnreachable = (x: unknown): x is { unreachable: string } => typeof x === 'object' && x !== null && 'unreachable' in x;

function addonTask(label: string, manifest: (ctx: TaskContext) => Manifest, enabled: (ctx: TaskContext) => boolean) {
  return task({
    name: `${label} applied`,
    why: label === 'CoreDNS'
      ? "Applies CoreDNS, the cluster's DNS: a Deployment with a Service at the spec's dnsIp, which every pod's resolv.conf names (the kubelet's clusterDNS). It answers <service>.<namespace>.svc.<domain> from the API and forwards other names upstream. Applied with server-side apply, only when an object is missing or its manifest changed."
      : 'Applies the Kubernetes dashboard (a web UI for the cluster) when addons.dashboard is on, with server-side apply, only when an object is missing or its manifest changed.',
    docs: label === 'CoreDNS' ? 'https://coredns.io/' : undefined,
    skip: (ctx) => (enabled(ctx) ? undefined : `${label} is off in the spec (addons)`),
    async gather(ctx) {
      const m = manifest(ctx);
      const live = await orUnreachable(ctx, async () => {
        const r = await ctx.conn.exec(k(ctx, 'get -f - -o json --ignore-not-found'), { sudo: true, stdin: m.text, signal: ctx.signal });
        if (r.exitCode !== 0) throw new TaskFailure(`kubectl get for ${label} failed on ${ctx.host.name}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`);
        return parseGetOutput(r.stdout);
      });
      return { m, live };
    },
    plan(_ctx, { m, live }) {
      if (isUnreachable(live)) return [`apply ${m.name} (${m.objects.length} objects; the cluster cannot be read yet: ${live.unreachable})`];
      return addonPlan(m, live);
    },
    async apply(ctx, { m }) {
      const r = await ctx.conn.exec(k(ctx, 'apply --server-side --force-conflicts --field-manager=kcore-wizard -f -', '60s'), { sudo: true, stdin: m.text, signal: ctx.signal });
      if (r.exitCode !== 0) throw new TaskFailure(`applying ${label} failed: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`, `the manifest is in ${ADDONS_DIR}/${m.name}.yaml on ${ctx.host.name}`);
      for (const l of r.stdout.split('\n').filter(Boolean)) ctx.output(l);
    },
    async verify(ctx) {
      const m = manifest(ctx);
      for (const d of m.objects.filter((o) => o.kind === 'Deployment')) {
        const r = await ctx.conn.exec(k(ctx, `-n ${d.namespace} rollout status deployment/${d.name} --timeout=${ADDON_ROLLOUT_TIMEOUT_S}s`, `${ADDON_ROLLOUT_TIMEOUT_S + 10}s`), { sudo: true, signal: ctx.signal });
        if (r.exitCode !== 0) {
          const pods = await ctx.conn.exec(k(ctx, `-n ${d.namespace} get pods -o wide`), { sudo: true, signal: ctx.signal });
          throw new TaskFailure(
            `${d.namespace}/${d.name} did not become available within ${ADDON_ROLLOUT_TIMEOUT_S} s: ${lastLine(r.stderr) || lastLine(r.stdout)}\n${pods.stdout.trim()}`,
            'the nodes pull images from registry.k8s.io and docker.io: check their internet access (kubectl describe pod)',
          );
        }
      }
    },
  });
}

// ---- the smoke workload: one busybox web pod per worker and a NodePort service --------------------

interface Workload {
  /** worker name → pod IP */
  pods: Map<string, string>;
  nodePort: number;
}

const workloads = new WeakMap<RunContext, Promise<Workload>>();

async function deployWorkload(ctx: TaskContext): Promise<Workload> {
  const m = smokeManifest(ctx.run.spec);
  const apply = await ctx.conn.exec(k(ctx, 'apply --server-side --force-conflicts --field-manager=kcore-wizard-smoke -f -', '60s'), { sudo: true, stdin: m.text, signal: ctx.signal });
  if (apply.exitCode !== 0) throw new TaskFailure(`could not create the smoke-test pods: ${lastLine(apply.stderr)}`);
  const wait = await ctx.conn.exec(k(ctx, `-n ${SMOKE_NAMESPACE} wait --for=condition=Ready pod -l app=kcore-smoke-web --timeout=${SMOKE_READY_TIMEOUT_S}s`, `${SMOKE_READY_TIMEOUT_S + 10}s`), { sudo: true, signal: ctx.signal });
  if (wait.exitCode !== 0) {
    const pods = await ctx.conn.exec(k(ctx, `-n ${SMOKE_NAMESPACE} get pods -o wide`), { sudo: true, signal: ctx.signal });
    throw new TaskFailure(`the smoke-test pods did not become Ready within ${SMOKE_READY_TIMEOUT_S} s: ${lastLine(wait.stderr)}\n${pods.stdout.trim()}`, `every worker must pull ${SMOKE_IMAGE}; kubectl -n ${SMOKE_NAMESPACE} describe pods`);
  }
  const pj = await ctx.conn.exec(k(ctx, `-n ${SMOKE_NAMESPACE} get pods -l app=kcore-smoke-web -o json`), { sudo: true, signal: ctx.signal });
  const pods = new Map<string, string>();
  for (const p of (JSON.parse(pj.stdout) as { items: Array<{ spec: { nodeName: string }; status: { podIP?: string } }> }).items) if (p.status.podIP) pods.set(p.spec.nodeName, p.status.podIP);
  const sj = await ctx.conn.exec(k(ctx, `-n ${SMOKE_NAMESPACE} get service web -o json`), { sudo: true, signal: ctx.signal });
  const nodePort = (JSON.parse(sj.stdout) as { spec: { ports: Array<{ nodePort: number }> } }).spec.ports[0]!.nodePort;
  return { pods, nodePort };
}

function workload(ctx: TaskContext): Promise<Workload> {
  let p = workloads.get(ctx.run);
  if (!p) {
    p = deployWorkload(ctx);
    workloads.set(ctx.run, p);
    p.catch(() => workloads.delete(ctx.run));
  }
  return p;
}

const execIn = (ctx: TaskContext, pod: string, cmd: string) =>
  ctx.conn.exec(k(ctx, `-n ${SMOKE_NAMESPACE} exec ${pod} -- sh -c ${shellQuote(cmd)}`, '60s'), { sudo: true, signal: ctx.signal });

const workers = (ctx: TaskContext) => hostsOf(ctx.run.spec, 'kube-worker').map((h) => h.name);

export const addonsRole: Role = {
  name: 'addons',
  // The first master still in the run: with master-01 down, the add-ons are applied from master-02.
  hosts: (run) => run.hostsOf('kube-master'),
  firstAvailable: true,
  // An API server to talk to and nodes to run on: skipped at once (no waits) when they all failed.
  needs: ['kube-master', 'kube-worker'],
  why: 'The add-ons are what a cluster needs beyond its own components: CoreDNS, so pods find Services by name, and the dashboard when asked. They are applied from the first master that is still in the run, with its kubectl and the admin kubeconfig, once every node is Ready. Then the smoke tests prove the whole cluster works end to end: DNS from a pod, pod-to-pod traffic across workers, a NodePort on every node.',
  docs: 'https://kubernetes.io/docs/concepts/overview/components/',
  concepts: [
    {
      name: 'server-side apply',
      text: 'kcore-wizard sends each manifest with `kubectl apply --server-side`: the API server merges it and records kcore-wizard as the manager of the fields it set. Each object carries a hash of its manifest, so a rerun applies nothing when nothing changed.',
    },
    {
      name: 'cluster DNS',
      text: "Every pod's /etc/resolv.conf names the cluster DNS service (the spec's dnsIp) and search domains such as default.svc.cluster.local, so `kubernetes.default` resolves to the API's service address. CoreDNS answers those names from the Kubernetes API and forwards the rest to the node's upstream resolvers.",
      docs: 'https://coredns.io/',
    },
  ],
  tasks: [
    { ...directoryTask('add-on manifest directory', [{ path: ADDONS_DIR, mode: 0o755 }]), why: '/etc/kubernetes/addons on the master, for the add-on manifests.' },
    { ...filesTask('add-on manifests (for reference and kubectl apply by hand)', (ctx) => [
      ...(ctx.run.spec.addons.dns ? [{ path: `${ADDONS_DIR}/coredns.yaml`, content: corednsManifest(ctx.run.spec).text, mode: 0o644, why: "The exact CoreDNS manifest kcore-wizard applies (ServiceAccount, RBAC, ConfigMap with the Corefile, Deployment, the kube-dns Service at the spec's dnsIp), kept on the master to read or to `kubectl apply -f` by hand." }] : []),
      ...(ctx.run.spec.addons.dashboard ? [{ path: `${ADDONS_DIR}/dashboard.yaml`, content: dashboardManifest().text, mode: 0o644, why: 'The exact dashboard manifest kcore-wizard applies, kept on the master to read or to apply by hand.' }] : []),
    ]), why: 'Keeps a copy of every add-on manifest on the master: what is in the cluster can be read as files, and applied by hand if need be.' },
    apiChoiceTask,
    { ...apiGateTask(server), why: 'Waits (bounded) until the API server answers /readyz before anything is applied.', docs: 'https://kubernetes.io/docs/reference/using-api/health-checks/' },
    task({
      name: 'every node registered and Ready',
      why: 'Add-ons are pods: applying them before the nodes are Ready only makes them wait unscheduled. This waits (bounded) until every node of the spec is registered and Ready, and names the ones that are not.',
      // One look; the bounded wait is the verify step (a dry run plans it).
      async gather(ctx) {
        try {
          return nodesProblem(await getNodes(ctx), allNodes(ctx.run).map((h) => h.name));
        } catch (e) {
          if (e instanceof TaskFailure) return e.message.split('\n')[0]!;
          throw e;
        }
      },
      plan: (_ctx, problem) => (problem ? [`wait up to ${NODES_READY_TIMEOUT_MS / 1000} s for every node to be Ready (now: ${problem})`] : []),
      verify: (ctx) => waitNodesReady(ctx, allNodes(ctx.run).map((h) => h.name)),
    }),
    task({
      name: 'node role labels',
      why: 'Labels masters node-role.kubernetes.io/control-plane and workers node-role.kubernetes.io/worker, which is what `kubectl get nodes` shows as ROLES. A kubelet may not set these labels on itself (NodeRestriction), so the admin does it.',
      async gather(ctx) {
        return orUnreachable(ctx, () => getNodes(ctx));
      },
      plan(ctx, nodes) {
        if (isUnreachable(nodes)) return [`label the masters ${CONTROL_PLANE_LABEL} and the workers ${WORKER_LABEL} (the cluster cannot be read yet)`];
        return allNodes(ctx.run)
          .map((h) => ({ h, label: h.group === 'kube-master' ? CONTROL_PLANE_LABEL : WORKER_LABEL }))
          .filter(({ h, label }) => nodes.some((n) => n.name === h.name && !(label in n.labels)))
          .map(({ h, label }) => `label node ${h.name} ${label}=`);
      },
      async apply(ctx, _nodes, changes) {
        for (const c of changes) {
          const [, , node, label] = c.split(' ');
          await ctx.conn.run(k(ctx, `label node ${node} ${label} --overwrite`), { sudo: true, signal: ctx.signal });
        }
      },
    }),
    addonTask('CoreDNS', (ctx) => corednsManifest(ctx.run.spec), (ctx) => ctx.run.spec.addons.dns),
    addonTask('dashboard', () => dashboardManifest(), (ctx) => ctx.run.spec.addons.dashboard),

    smokeTest('cluster: every node of the spec is registered and Ready', async (ctx) => {
      const problem = nodesProblem(await getNodes(ctx), allNodes(ctx.run).map((h) => h.name));
      if (problem) throw new TaskFailure(problem, 'journalctl -u kubelet -u containerd -u flanneld on that node');
    }, { why: 'The cluster-wide view, with the admin credentials: every machine of the spec is a registered node and Ready. A node missing here has not registered at all; one not Ready says why.' }),
    smokeTest(
      'CoreDNS: ready, serving at the cluster DNS address',
      async (ctx) => {
        const r = await ctx.conn.exec(k(ctx, '-n kube-system get deployment coredns service kube-dns -o json'), { sudo: true, signal: ctx.signal });
        if (r.exitCode !== 0) throw new TaskFailure(`CoreDNS is not installed: ${lastLine(r.stderr)}`, 'kcore-wizard converge --tags addons');
        const items = parseGetOutput(r.stdout) as unknown as Array<{ kind: string; status?: { readyReplicas?: number }; spec?: { clusterIP?: string } }>;
        const dep = items.find((i) => i.kind === 'Deployment');
        const svc = items.find((i) => i.kind === 'Service');
        if (!dep?.status?.readyReplicas) throw new TaskFailure('no CoreDNS pod is ready', 'kubectl -n kube-system describe pods -l k8s-app=kube-dns');
        if (svc?.spec?.clusterIP !== ctx.run.spec.network.dnsIp) throw new TaskFailure(`kube-dns has cluster IP ${svc?.spec?.clusterIP}, not the spec's dnsIp ${ctx.run.spec.network.dnsIp}`);
      },
      { skip: (ctx) => (ctx.run.spec.addons.dns ? undefined : 'DNS add-on is off in the spec'), why: "CoreDNS has a ready pod and its Service sits at the spec's dnsIp, the address every kubelet writes into pods' resolv.conf: another address would leave every pod without DNS." },
    ),
    smokeTest(
      'CoreDNS: a pod resolves kubernetes.default',
      async (ctx) => {
        const w = await workload(ctx);
        const first = workers(ctx)[0]!;
        const want = apiServiceIp(ctx.run.spec);
        const fqdn = `kubernetes.default.svc.${ctx.run.spec.network.domain}`;
        const r = await execIn(ctx, `web-${first}`, `nslookup kubernetes.default; nslookup ${fqdn}`);
        const answers = [...r.stdout.matchAll(/^Address:\s*([\d.]+)\s*$/gm)].map((m) => m[1]);
        if (!answers.includes(want))
          throw new TaskFailure(`kubernetes.default did not resolve to ${want} from a pod on ${first} (pods: ${w.pods.size}):\n${(r.stdout + r.stderr).trim()}`, 'kubectl -n kube-system logs -l k8s-app=kube-dns; check clusterDNS in /etc/kubernetes/kubelet-config.yaml');
      },
      { skip: (ctx) => (ctx.run.spec.addons.dns ? undefined : 'DNS add-on is off in the spec'), why: 'DNS as a pod sees it: from a test pod on a worker, kubernetes.default must resolve to the first service address. It crosses the pod network, kube-proxy\'s rules for the DNS Service and CoreDNS\'s answer from the API, all at once.' },
    ),
    smokeTest('network: a pod on every worker reaches the pods on the other workers', async (ctx) => {
      const w = await workload(ctx);
      const failures: string[] = [];
      for (const from of workers(ctx)) {
        const targets = [...w.pods.entries()].filter(([n]) => n !== from || w.pods.size === 1);
        const script = targets.map(([n, ip]) => `echo "${n} $(wget -qO- -T 5 http://${ip}:8080/ 2>&1 | head -n1)"`).join('; ');
        const r = await execIn(ctx, `web-${from}`, script);
        for (const [n, ip] of targets) {
          const line = r.stdout.split('\n').find((l) => l.startsWith(`${n} `));
          if (line?.trim() !== `${n} ${n}`) failures.push(`${from} → ${n} (${ip}): ${line?.slice(n.length + 1).trim() || lastLine(r.stderr) || 'no answer'}`);
        }
      }
      if (failures.length) throw new TaskFailure(`pod-to-pod traffic fails: ${failures.join('; ')}`, 'flannel (vxlan, UDP 8472) must pass between the nodes\' private interfaces: journalctl -u flanneld');
    }, { why: "Kubernetes' network promise, tested: a web pod on every worker, and each fetches a page from the pods on the other workers by pod address. It fails when flannel's VXLAN traffic does not pass between the nodes.", docs: 'https://kubernetes.io/docs/concepts/cluster-administration/networking/' }),
    smokeTest('network: a NodePort service answers on every node', async (ctx) => {
      const w = await workload(ctx);
      const first = workers(ctx)[0]!;
      const nodes = allNodes(ctx.run);
      const script = nodes.map((h) => `echo "${h.name} $(wget -qO- -T 5 http://${h.ip}:${w.nodePort}/ 2>&1 | head -n1)"`).join('; ');
      const r = await execIn(ctx, `web-${first}`, script);
      const names = new Set(workers(ctx));
      const failures = nodes
        .map((h) => ({ h, line: r.stdout.split('\n').find((l) => l.startsWith(`${h.name} `))?.slice(h.name.length + 1).trim() ?? '' }))
        .filter(({ line }) => !names.has(line))
        .map(({ h, line }) => `${h.name} ${h.ip}:${w.nodePort}: ${line || 'no answer'}`);
      if (failures.length) throw new TaskFailure(`NodePort ${w.nodePort} does not answer on: ${failures.join('; ')}`, 'kube-proxy programs the NodePort rules: journalctl -u kube-proxy on those nodes');
    }, { why: "A NodePort Service must answer on every node's address, masters included, whichever node its pods run on: that is kube-proxy's iptables rules at work on each node." }),
    smokeTest(
      'dashboard: running',
      async (ctx) => {
        const r = await ctx.conn.exec(k(ctx, '-n kubernetes-dashboard get deployment kubernetes-dashboard -o jsonpath={.status.readyReplicas}'), { sudo: true, signal: ctx.signal });
        if (r.exitCode !== 0 || !(Number(r.stdout.trim()) >= 1)) throw new TaskFailure(`the dashboard is not running: ${lastLine(r.stderr) || 'no ready replica'}`, 'kubectl -n kubernetes-dashboard describe pods');
      },
      { skip: (ctx) => (ctx.run.spec.addons.dashboard ? undefined : 'dashboard is off in the spec'), why: 'When the dashboard is asked for, its Deployment has a ready replica.' },
    ),
    smokeTest('smoke-test pods removed', async (ctx) => {
      workloads.delete(ctx.run);
      const r = await ctx.conn.exec(k(ctx, `delete namespace ${SMOKE_NAMESPACE} --ignore-not-found --wait=false`), { sudo: true, signal: ctx.signal });
      if (r.exitCode !== 0) throw new TaskFailure(`could not remove namespace ${SMOKE_NAMESPACE}: ${lastLine(r.stderr)}`);
    }, { why: 'The test pods and their Service live in a namespace of their own, deleted here: the smoke tests leave nothing running in your cluster.' }),
  ],
};
