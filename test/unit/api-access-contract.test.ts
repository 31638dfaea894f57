// The API-access contract: every request our cluster makes to the API server, with the identity it
// uses, checked against what the API server's authorizers (--authorization-mode=Node,RBAC) allow.
//
// Identities are derived, not declared: each component's kubeconfig path is read from its rendered unit
// or config file, the kubeconfig is built by the role's own builder, and the user/groups are the
// CN/O of the client certificate embedded in it (made by the PKI catalog). kubectl requests are the
// command lines the roles, smoke tests and dashboard probes actually build: the master, worker and
// add-on roles run here against a recording connection, and the probe scripts are built for each group.
//
// Authorizers modelled (upstream, checked 2026):
// - Node authorizer, https://kubernetes.io/docs/reference/access-authn-authz/node/ : a kubelet
//   (user system:node:<name>, group system:nodes) may get its own Node; with AuthorizeNodeWithSelectors
//   (GA in 1.34) it may no longer list or watch all Nodes; it may create Nodes and update/patch its own
//   Node status (NodeRestriction admission keeps it to its own), read pods bound to it, its own Lease in
//   kube-node-lease, and create events. Nothing else (the system:node ClusterRoleBinding has no subjects).
// - Default RBAC roles and bindings, kubernetes/kubernetes
//   plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go (rendered in testdata/cluster-roles.yaml
//   and testdata/cluster-role-bindings.yaml): cluster-admin ← group system:masters; system:node-proxier
//   ← user system:kube-proxy; system:kube-controller-manager ← user system:kube-controller-manager;
//   system:kube-scheduler ← user system:kube-scheduler; system:discovery and system:public-info-viewer
//   (/readyz, /healthz, /livez, /version) ← group system:authenticated. Only the rules we rely on are
//   transcribed below.
// - The RBAC objects we apply ourselves, read from the rendered manifests: flannel's ClusterRole
//   (templates/flannel/rbac.yaml.njk, after flannel-io/flannel Documentation/kube-flannel.yml), CoreDNS's
//   (templates/addons/coredns.yaml.njk) and the dashboard's (templates/addons/dashboard.yaml.njk).
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Facts } from '../../src/engine/facts.js';
import type { HostInfo, Role, RunContext, Task, TaskContext } from '../../src/engine/task.js';
import { probeScript } from '../../src/health/probe.js';
import { clusterReadScript, mastersOf } from '../../src/health/api-master.js';
import { NODES_PATH } from '../../src/health/actions.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { addonsRole } from '../../src/roles/addons/index.js';
import {
  controllerManagerUnit,
  corednsManifest,
  dashboardManifest,
  flannelUnit,
  kubeletUnit,
  kubeProxyConfig,
  schedulerUnit,
  type Manifest,
} from '../../src/roles/kube-common/index.js';
import { flannelRbacManifest, kubeMasterRole, masterKubeconfigs } from '../../src/roles/kube-master/index.js';
import { kubeWorkerRole, nodeKubeconfigs } from '../../src/roles/kube-worker/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { nodeOpCommand, nodeOpsRole } from '../../src/commands/run-common.js';
import { defaultSpec, hostsOf, plannedHosts } from '../../src/spec/index.js';

const spec = defaultSpec({ name: 'demo' });
spec.addons.dashboard = true;
const hosts = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } })) as HostInfo[];
const nodes = [...hostsOf(spec, 'kube-master'), ...hostsOf(spec, 'kube-worker')];

let dir: string;
let ws: string;

// ---- requests and identities ------------------------------------------------------------------------

interface Identity {
  user: string;
  groups: string[];
}
interface Req {
  verb: string;
  /** `nodes`, `nodes/status`, `leases`, … (group-less: names are unique among what we use) */
  resource?: string;
  name?: string;
  namespace?: string;
  /** A non-resource URL (`/readyz`). */
  url?: string;
}
interface Call {
  who: string;
  identity: Identity;
  req: Req;
}

function identityOf(kubeconfigText: string): Identity {
  const kc = YAML.parse(kubeconfigText) as { users: Array<{ user: { 'client-certificate-data': string } }> };
  const cert = new X509Certificate(Buffer.from(kc.users[0]!.user['client-certificate-data'], 'base64'));
  const parts = cert.subject.split('\n').map((l) => l.split('=') as [string, string]);
  return { user: parts.find(([k]) => k === 'CN')![1], groups: parts.filter(([k]) => k === 'O').map(([, v]) => v) };
}

// ---- what the authorizers allow ----------------------------------------------------------------------

interface Rule {
  verbs: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Binding {
  rules: Rule[];
  namespace?: string;
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}

/** Transcribed from bootstrappolicy's cluster-roles.yaml (only the rules our requests can need). */
const BOOTSTRAP: Binding[] = [
  { subjects: [{ kind: 'Group', name: 'system:masters' }], rules: [{ verbs: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }] },
  { subjects: [{ kind: 'Group', name: 'system:authenticated' }], rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/api', '/apis'] }] },
  {
    subjects: [{ kind: 'User', name: 'system:kube-proxy' }],
    rules: [
      { verbs: ['list', 'watch'], resources: ['endpoints', 'services', 'endpointslices'] },
      { verbs: ['get', 'list', 'watch'], resources: ['nodes'] },
      { verbs: ['create', 'patch', 'update'], resources: ['events'] },
    ],
  },
  {
    subjects: [{ kind: 'User', name: 'system:kube-controller-manager' }],
    rules: [
      { verbs: ['create', 'patch', 'update'], resources: ['events'] },
      { verbs: ['create'], resources: ['leases'] },
      { verbs: ['get', 'update'], resources: ['leases'], resourceNames: ['kube-controller-manager'] },
      { verbs: ['create'], resources: ['secrets', 'serviceaccounts', 'tokenreviews', 'subjectaccessreviews', 'serviceaccounts/token'] },
      { verbs: ['get'], resources: ['configmaps', 'namespaces', 'secrets', 'serviceaccounts'] },
      { verbs: ['list', 'watch'], resources: ['*'] },
    ],
  },
  {
    subjects: [{ kind: 'User', name: 'system:kube-scheduler' }],
    rules: [
      { verbs: ['create', 'patch', 'update'], resources: ['events'] },
      { verbs: ['create'], resources: ['leases', 'bindings', 'pods/binding', 'tokenreviews', 'subjectaccessreviews'] },
      { verbs: ['get', 'update'], resources: ['leases'], resourceNames: ['kube-scheduler'] },
      { verbs: ['get', 'list', 'watch'], resources: ['nodes', 'pods', 'services', 'replicasets', 'statefulsets', 'poddisruptionbudgets', 'persistentvolumeclaims', 'persistentvolumes', 'namespaces', 'csinodes', 'csidrivers', 'csistoragecapacities'] },
      { verbs: ['patch', 'update'], resources: ['pods/status'] },
    ],
  },
];

/** The Node authorizer's answer for a node identity (null: not a node, or not its business). */
function nodeAuthorizer(id: Identity, r: Req, ctx: { fieldSelector?: string }): boolean {
  const m = /^system:node:(.+)$/.exec(id.user);
  if (!m || !id.groups.includes('system:nodes')) return false;
  const self = m[1]!;
  if (r.resource === 'nodes') {
    if (r.verb === 'create') return true;
    if (r.verb === 'get') return r.name === self;
    // AuthorizeNodeWithSelectors: list/watch only with fieldSelector metadata.name=<self>.
    if (r.verb === 'list' || r.verb === 'watch') return ctx.fieldSelector === `metadata.name=${self}`;
    return (r.verb === 'update' || r.verb === 'patch') && r.name === self;
  }
  if (r.resource === 'nodes/status') return (r.verb === 'update' || r.verb === 'patch') && r.name === self;
  if (r.resource === 'pods' && (r.verb === 'list' || r.verb === 'watch')) return ctx.fieldSelector === `spec.nodeName=${self}`;
  if (r.resource === 'leases') return r.namespace === 'kube-node-lease' && r.name === self && ['get', 'create', 'update', 'patch'].includes(r.verb);
  if (r.resource === 'events') return r.verb === 'create' || r.verb === 'patch';
  return false;
}

/** ClusterRoles/Roles and their bindings from a manifest we apply. */
function appliedBindings(m: Manifest): Binding[] {
  type Obj = { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[]; roleRef?: { kind: string; name: string }; subjects?: Binding['subjects'] };
  const objs = YAML.parseAllDocuments(m.text).map((d) => d.toJS() as Obj).filter(Boolean);
  const out: Binding[] = [];
  for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const role = objs.find((o) => o.kind === b.roleRef!.kind && o.metadata.name === b.roleRef!.name && (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace));
    if (!role) throw new Error(`${m.name}: ${b.kind} ${b.metadata.name} refers to ${b.roleRef!.kind} ${b.roleRef!.name}, which the manifest does not hold`);
    out.push({ rules: role.rules ?? [], namespace: b.kind === 'RoleBinding' ? b.metadata.namespace : undefined, subjects: b.subjects ?? [] });
  }
  return out;
}

function rbacAllows(bindings: Binding[], id: Identity, r: Req): boolean {
  const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(id.user);
  const subjectMatches = (s: Binding['subjects'][number]) =>
    (s.kind === 'User' && s.name === id.user) || (s.kind === 'Group' && [...id.groups, 'system:authenticated'].includes(s.name)) || (s.kind === 'ServiceAccount' && !!sa && s.namespace === sa[1] && s.name === sa[2]);
  return bindings.some(
    (b) =>
      b.subjects.some(subjectMatches) &&
      (!b.namespace || b.namespace === r.namespace) &&
      b.rules.some((rule) => {
        if (!(rule.verbs.includes('*') || rule.verbs.includes(r.verb))) return false;
        if (r.url) return !!rule.nonResourceURLs?.some((u) => u === '*' || u === r.url);
        if (!rule.resources?.some((x) => x === '*' || x === r.resource)) return false;
        return !rule.resourceNames || (!!r.name && rule.resourceNames.includes(r.name));
      }),
  );
}

let BINDINGS: Binding[] = [];
function allowed(c: Call & { fieldSelector?: string }): boolean {
  return nodeAuthorizer(c.identity, c.req, c) || rbacAllows(BINDINGS, c.identity, c.req);
}
const show = (c: Call) => `${c.who} as ${c.identity.user}${c.identity.groups.length ? ` (${c.identity.groups.join(',')})` : ''}: ${c.req.verb} ${c.req.url ?? `${c.req.resource}${c.req.name ? `/${c.req.name}` : ''}${c.req.namespace ? ` in ${c.req.namespace}` : ''}`}`;

// ---- kubectl command lines → requests ----------------------------------------------------------------

/** Shell words of the kubectl invocation (single quotes respected), up to the first shell operator. */
function kubectlInvocations(script: string): Array<{ kubeconfig: string; words: string[] }> {
  const out: Array<{ kubeconfig: string; words: string[] }> = [];
  const re = /\/opt\/bin\/kubectl --kubeconfig=(\S+)(?: --server=\S+)? --request-timeout=\S+ /g;
  for (let m = re.exec(script); m; m = re.exec(script)) {
    const words: string[] = [];
    let i = re.lastIndex;
    let w = '';
    for (; i < script.length; i++) {
      const ch = script[i]!;
      if (ch === "'") {
        const end = script.indexOf("'", i + 1);
        w += script.slice(i + 1, end);
        i = end;
      } else if (/[\s;|&)]/.test(ch)) {
        if (w) words.push(w);
        w = '';
        if (ch !== ' ') break;
      } else w += ch;
    }
    if (w) words.push(w);
    out.push({ kubeconfig: m[1]!, words: words.filter((x) => !/^\d?>/.test(x)) });
  }
  return out;
}

const KINDS: Record<string, string> = { node: 'nodes', nodes: 'nodes', pod: 'pods', pods: 'pods', lease: 'leases', service: 'services', deployment: 'deployments', namespace: 'namespaces' };
const RESOURCE_OF_KIND: Record<string, string> = {
  Namespace: 'namespaces', ServiceAccount: 'serviceaccounts', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings', ConfigMap: 'configmaps', Secret: 'secrets', Deployment: 'deployments', Service: 'services', Pod: 'pods',
};

/** The API requests one kubectl invocation makes (throws on a form it does not know: add it here). */
function requestsOf(words: string[], stdin: string | undefined): Array<Req & { fieldSelector?: string }> {
  let namespace: string | undefined;
  const pos: string[] = [];
  let label = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-n') namespace = words[++i];
    else if (w === '-o' || w === '-l' || w === '-f') {
      if (w === '-l') label = true;
      if (w === '-f') pos.push(`-f:${words[i + 1]}`);
      i++;
    } else if (w === '--') break;
    else if (!w.startsWith('-')) pos.push(w);
  }
  const [verb, ...rest] = pos;
  const manifestObjects = () =>
    YAML.parseAllDocuments(stdin ?? '')
      .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null)
      .filter((o): o is { kind: string; metadata: { name: string; namespace?: string } } => !!o)
      .map((o) => ({ resource: RESOURCE_OF_KIND[o.kind] ?? `?${o.kind}`, name: o.metadata.name, namespace: o.metadata.namespace }));
  if (verb === 'get' && words.includes('--raw')) return [{ verb: 'get', url: rest[0] }];
  if ((verb === 'get' || verb === 'apply') && rest[0] === '-f:-') {
    // Server-side apply is a PATCH, and a create where the object is missing.
    return manifestObjects().flatMap((o) => (verb === 'get' ? [{ verb: 'get', ...o }] : [{ verb: 'patch', ...o }, { verb: 'create', ...o }]));
  }
  if (verb === 'get') {
    const reqs: Req[] = [];
    for (let i = 0; i < rest.length; i += 2) {
      const resource = KINDS[rest[i]!];
      if (!resource) throw new Error(`unknown resource ${rest[i]} in kubectl ${words.join(' ')}`);
      const name = rest[i + 1];
      reqs.push(name && !label ? { verb: 'get', resource, name, namespace } : { verb: 'list', resource, namespace });
    }
    return reqs;
  }
  if (verb === 'rollout' && rest[0] === 'status') {
    const [kind, name] = rest[1]!.split('/');
    return [{ verb: 'get', resource: KINDS[kind!], name, namespace }, { verb: 'watch', resource: KINDS[kind!], name, namespace }];
  }
  if (verb === 'wait') return [{ verb: 'list', resource: KINDS[rest[0]!], namespace }, { verb: 'watch', resource: KINDS[rest[0]!], namespace }];
  if (verb === 'label') return [{ verb: 'get', resource: KINDS[rest[0]!], name: rest[1] }, { verb: 'patch', resource: KINDS[rest[0]!], name: rest[1] }];
  if (verb === 'exec') return [{ verb: 'get', resource: 'pods', name: rest[0], namespace }, { verb: 'create', resource: 'pods/exec', name: rest[0], namespace }];
  // cordon/uncordon: a GET of the Node and a PATCH of spec.unschedulable (kubectl pkg/cmd/drain/cordon.go).
  if (verb === 'cordon' || verb === 'uncordon') return [{ verb: 'get', resource: 'nodes', name: rest[0] }, { verb: 'patch', resource: 'nodes', name: rest[0] }];
  // drain (kubectl pkg/drain/drain.go, filters.go): cordon, list the node's pods across namespaces by
  // field selector, read each pod's DaemonSet, evict (pods/eviction), then GET the pods until gone.
  if (verb === 'drain')
    return [
      { verb: 'get', resource: 'nodes', name: rest[0] },
      { verb: 'patch', resource: 'nodes', name: rest[0] },
      { verb: 'list', resource: 'pods', fieldSelector: `spec.nodeName=${rest[0]}` },
      { verb: 'get', resource: 'daemonsets' },
      { verb: 'create', resource: 'pods/eviction' },
      { verb: 'get', resource: 'pods' },
    ];
  if (verb === 'delete') return [{ verb: 'delete', resource: KINDS[rest[0]!], name: rest[1], namespace }];
  throw new Error(`the contract test does not know kubectl ${words.join(' ')}: teach requestsOf which requests it makes`);
}

// ---- running the roles against a recording connection -----------------------------------------------

interface Recorded {
  host: string;
  command: string;
  stdin?: string;
}

const nodeJson = (h: { name: string; ip: string; group: string }) => ({
  metadata: { name: h.name, labels: {} },
  spec: { podCIDR: '10.2.1.0/24', taints: h.group === 'kube-master' ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] : [] },
  status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: h.ip }] },
});

/** Plausible answers, so the roles go as far as they would on a healthy cluster. */
function reply(command: string): { stdout: string; stderr: string; exitCode: number; durationMs: number } {
  const ok = (stdout: string) => ({ stdout, stderr: '', exitCode: 0, durationMs: 0 });
  const units = /for u in ([^;]+); do echo "\$u \$\(systemctl is-active/.exec(command);
  if (units) return ok(units[1]!.trim().split(/\s+/).map((u) => `${u} active\n`).join(''));
  if (!command.includes('/opt/bin/kubectl')) return ok(command.includes('is-active') ? 'active\n' : '');
  if (command.includes('get --raw /readyz')) return ok('ok');
  let m = /get node '?([a-z0-9-]+)'? -o json/.exec(command);
  if (m) return ok(JSON.stringify(nodeJson(hosts.find((h) => h.name === m![1])!)));
  if (command.includes('get nodes -o json')) return ok(JSON.stringify({ kind: 'List', items: nodes.map(nodeJson) }));
  if (command.includes('get lease')) return ok(JSON.stringify({ spec: { holderIdentity: 'x', renewTime: new Date().toISOString(), leaseDurationSeconds: 15 } }));
  if (command.includes('get pods -l app=kcore-smoke-web -o json'))
    return ok(JSON.stringify({ items: hostsOf(spec, 'kube-worker').map((h, i) => ({ spec: { nodeName: h.name }, status: { podIP: `10.2.${i + 2}.5` } })) }));
  if (command.includes('get service web -o json')) return ok(JSON.stringify({ spec: { ports: [{ nodePort: 30080 }] } }));
  m = /get deployment coredns service kube-dns/.exec(command);
  if (m) return ok(JSON.stringify({ kind: 'List', items: [{ kind: 'Deployment', metadata: { name: 'coredns' }, status: { readyReplicas: 1 } }, { kind: 'Service', metadata: { name: 'kube-dns' }, spec: { clusterIP: spec.network.dnsIp } }] }));
  return ok('');
}

const facts: Facts = {
  hostname: 'x',
  os: { id: 'flatcar', versionId: '1', prettyName: 'flatcar', idLike: '', family: 'flatcar' },
  arch: 'amd64',
  systemd: true,
  containerRuntime: { containerd: '/usr/bin/containerd', docker: null },
  privateIp: '10.0.0.121',
  privateInterface: 'eth1',
  addresses: [],
  optBinWritable: true,
};

async function runRole(role: Role, dryRun: boolean, log: Recorded[]): Promise<void> {
  const run = { spec, workspace: ws, hosts, pki: pkiPaths(ws), dryRun, facts: new Map(), blockers: new Map(), hostsOf: (g: string) => hosts.filter((h) => h.group === g) } as unknown as RunContext;
  for (const host of role.hosts(run)) {
    const exec = async (command: string, opts: { stdin?: string } = {}) => {
      log.push({ host: host.name, command, stdin: opts.stdin });
      return reply(command);
    };
    const conn = new Proxy({ exec, run: exec, readFile: async () => null }, { get: (t, k) => (t as Record<string | symbol, unknown>)[k] ?? (async () => ({ stdout: '', stderr: '', exitCode: 0 })) });
    for (const t of role.tasks as Task[]) {
      const ctx = { run, host, conn, facts: () => facts, signal: AbortSignal.timeout(3000), output: () => {}, notify: () => {} } as unknown as TaskContext;
      try {
        if (t.skip?.(ctx)) continue;
        const g = await t.gather(ctx);
        const changes = t.plan?.(ctx, g) ?? [];
        if (!dryRun && changes.length) await t.apply?.(ctx, g, changes);
        if (!dryRun) await t.verify?.(ctx);
      } catch {
        // Tasks that need what this stub cannot give (files, artifacts) stop here; their kubectl calls,
        // made before, are recorded.
      }
    }
  }
}

// ---- the contract -------------------------------------------------------------------------------------

let kubeconfigIdentity: Map<string, Identity>;
let calls: Array<Call & { fieldSelector?: string }>;
let commandLines: Recorded[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcore-api-contract-'));
  ws = path.join(dir, 'ws');
  await mkdir(ws);
  await ensurePki(ws, pkiInput(spec));
  BINDINGS = [...BOOTSTRAP, ...[flannelRbacManifest(spec), corednsManifest(spec), dashboardManifest()].flatMap(appliedBindings)];

  // kubeconfig path on each host → identity, from the roles' own builders.
  kubeconfigIdentity = new Map();
  const ctxFor = (h: HostInfo) =>
    ({ run: { spec, workspace: ws, hosts, pki: pkiPaths(ws), hostsOf: (g: string) => hosts.filter((x) => x.group === g) }, host: h, facts: () => facts, signal: new AbortController().signal }) as unknown as TaskContext;
  for (const h of hosts.filter((x) => x.group !== 'etcd')) {
    const files = [...(await nodeKubeconfigs(ctxFor(h))), ...(h.group === 'kube-master' ? await masterKubeconfigs(ctxFor(h)) : [])];
    for (const f of files) kubeconfigIdentity.set(`${h.name}:${f.path}`, identityOf(f.content as string));
  }
  const idOf = (host: string, file: string) => {
    const id = kubeconfigIdentity.get(`${host}:${file}`);
    if (!id) throw new Error(`${file} on ${host} is not a kubeconfig the roles write there`);
    return id;
  };
  const flag = (text: string, re: RegExp, what: string) => {
    const m = re.exec(text);
    if (!m) throw new Error(`no ${what}`);
    return m[1]!;
  };

  calls = [];
  // Components: the kubeconfig each one's unit/config names, and the requests it makes (from its
  // upstream source and docs, cited per component).
  for (const h of nodes) {
    const kubelet = idOf(h.name, flag(kubeletUnit(spec, h), /--kubeconfig=(\S+)/, 'kubelet --kubeconfig'));
    // kubelet: registers and heartbeats its Node and Lease, watches the pods bound to it.
    for (const req of [
      { verb: 'create', resource: 'nodes', name: h.name },
      { verb: 'get', resource: 'nodes', name: h.name },
      { verb: 'patch', resource: 'nodes/status', name: h.name },
      { verb: 'get', resource: 'leases', name: h.name, namespace: 'kube-node-lease' },
      { verb: 'update', resource: 'leases', name: h.name, namespace: 'kube-node-lease' },
    ])
      calls.push({ who: `kubelet on ${h.name}`, identity: kubelet, req });
    calls.push({ who: `kubelet on ${h.name}`, identity: kubelet, req: { verb: 'watch', resource: 'pods' }, fieldSelector: `spec.nodeName=${h.name}` });
    calls.push({ who: `kubelet on ${h.name}`, identity: kubelet, req: { verb: 'watch', resource: 'nodes' }, fieldSelector: `metadata.name=${h.name}` });

    const proxy = idOf(h.name, flag(kubeProxyConfig(spec, h), /^\s*kubeconfig:\s*(\S+)$/m, 'kube-proxy clientConnection.kubeconfig'));
    // kube-proxy (pkg/proxy): watches Services and EndpointSlices, reads its Node (nodes informer).
    for (const req of [
      { verb: 'list', resource: 'services' },
      { verb: 'watch', resource: 'endpointslices' },
      { verb: 'list', resource: 'nodes' },
      { verb: 'create', resource: 'events' },
    ])
      calls.push({ who: `kube-proxy on ${h.name}`, identity: proxy, req });

    const flannel = idOf(h.name, flag(flannelUnit(spec, h, { iface: 'eth1' }), /--kubeconfig-file=(\S+)/, 'flanneld --kubeconfig-file'));
    // flanneld's kube subnet manager (flannel-io/flannel pkg/subnet/kube): a Node informer over every
    // Node (list + watch), its own Node's podCIDR, and a patch of nodes/status for its annotations.
    for (const req of [
      { verb: 'list', resource: 'nodes' },
      { verb: 'watch', resource: 'nodes' },
      { verb: 'get', resource: 'nodes', name: h.name },
      { verb: 'patch', resource: 'nodes/status', name: h.name },
    ])
      calls.push({ who: `flanneld on ${h.name}`, identity: flannel, req });
  }
  for (const h of hostsOf(spec, 'kube-master')) {
    const cm = idOf(h.name, flag(controllerManagerUnit(spec, h), /--kubeconfig=(\S+)/, 'controller-manager --kubeconfig'));
    // --use-service-account-credentials: the controllers run as their own service accounts; the
    // manager itself elects a leader, mints their tokens and reads everything (informers).
    for (const req of [
      { verb: 'create', resource: 'leases', namespace: 'kube-system' },
      { verb: 'get', resource: 'leases', name: 'kube-controller-manager', namespace: 'kube-system' },
      { verb: 'update', resource: 'leases', name: 'kube-controller-manager', namespace: 'kube-system' },
      { verb: 'get', resource: 'serviceaccounts', namespace: 'kube-system' },
      { verb: 'create', resource: 'serviceaccounts/token', namespace: 'kube-system' },
      { verb: 'list', resource: 'nodes' },
      { verb: 'watch', resource: 'pods' },
    ])
      calls.push({ who: `kube-controller-manager on ${h.name}`, identity: cm, req });
    const sched = idOf(h.name, flag(schedulerUnit(spec, h), /--kubeconfig=(\S+)/, 'scheduler --kubeconfig'));
    for (const req of [
      { verb: 'get', resource: 'leases', name: 'kube-scheduler', namespace: 'kube-system' },
      { verb: 'update', resource: 'leases', name: 'kube-scheduler', namespace: 'kube-system' },
      { verb: 'list', resource: 'nodes' },
      { verb: 'watch', resource: 'pods' },
      { verb: 'create', resource: 'pods/binding' },
    ])
      calls.push({ who: `kube-scheduler on ${h.name}`, identity: sched, req });
  }
  // In-cluster add-ons run as the service account their Deployment names.
  const saOf = (m: Manifest, deployment: string) => {
    const d = YAML.parseAllDocuments(m.text).map((x) => x.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec?: { template: { spec: { serviceAccountName: string } } } }).find((o) => o?.kind === 'Deployment' && o.metadata.name === deployment)!;
    return { user: `system:serviceaccount:${d.metadata.namespace}:${d.spec!.template.spec.serviceAccountName}`, groups: ['system:serviceaccounts'] };
  };
  // CoreDNS's kubernetes plugin (coredns/coredns plugin/kubernetes): watches Services, EndpointSlices, Namespaces.
  for (const resource of ['services', 'endpointslices', 'namespaces'])
    for (const verb of ['list', 'watch']) calls.push({ who: 'CoreDNS', identity: saOf(corednsManifest(spec), 'coredns'), req: { verb, resource } });
  // The dashboard (kubernetes/dashboard v2 aio manifest): its own settings, key holder and the scraper proxy.
  const dash = saOf(dashboardManifest(), 'kubernetes-dashboard');
  for (const req of [
    { verb: 'get', resource: 'secrets', name: 'kubernetes-dashboard-key-holder', namespace: 'kubernetes-dashboard' },
    { verb: 'update', resource: 'secrets', name: 'kubernetes-dashboard-csrf', namespace: 'kubernetes-dashboard' },
    { verb: 'get', resource: 'configmaps', name: 'kubernetes-dashboard-settings', namespace: 'kubernetes-dashboard' },
    { verb: 'get', resource: 'services/proxy', name: 'dashboard-metrics-scraper', namespace: 'kubernetes-dashboard' },
  ])
    calls.push({ who: 'dashboard', identity: dash, req });

  // kubectl: what the roles (converge and dry run), their smoke tests and the dashboard probes run.
  commandLines = [];
  // The node operations of `upgrade --kubernetes` and `remove-node` (src/commands/run-common.ts).
  const nodeOps = nodeOpsRole('kube-worker-02', ['cordon', 'drain', 'ready', 'uncordon', 'delete']);
  for (const role of [kubeMasterRole, kubeWorkerRole, addonsRole, nodeOps]) for (const dry of [false, true]) await runRole(role, dry, commandLines);
  for (const h of hosts) commandLines.push({ host: h.name, command: probeScript(h, { apiServer: `https://${h.ip}:6443` }) });
  // The dashboard's cluster read (src/health/api-master.ts): each master's /readyz, then GET /api/v1/nodes, admin credentials.
  for (const h of hostsOf(spec, 'kube-master')) commandLines.push({ host: h.name, command: clusterReadScript(mastersOf(spec), NODES_PATH) });
  // Every node operation's command line, also those the stub's healthy, schedulable Nodes make the role skip (uncordon).
  for (const op of ['get', 'cordon', 'drain', 'uncordon', 'delete'] as const) commandLines.push({ host: 'kube-master-01', command: nodeOpCommand(op, 'kube-worker-02', 'https://10.0.0.112:6443') });
  for (const rec of commandLines)
    for (const inv of kubectlInvocations(rec.command))
      for (const req of requestsOf(inv.words, rec.stdin)) calls.push({ who: `kubectl on ${rec.host} (${inv.words.join(' ').slice(0, 60)})`, identity: idOf(rec.host, inv.kubeconfig), req, fieldSelector: req.fieldSelector });
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('API-access contract: every request, its identity, and the authorizer that allows it', () => {
  it('every request is allowed by the Node authorizer or an RBAC binding (default or ours)', () => {
    const denied = calls.filter((c) => !allowed(c)).map(show);
    expect(denied.join('\n')).toBe('');
  });

  it('covers every component and the kubectl calls of the roles, smoke tests and probes', () => {
    const who = new Set(calls.map((c) => c.who.replace(/ on .*$/, '')));
    expect([...who].sort()).toEqual(['CoreDNS', 'dashboard', 'flanneld', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubectl', 'kubelet']);
    const kubectlCalls = calls.filter((c) => c.who.startsWith('kubectl'));
    const seen = (pred: (c: Call) => boolean) => kubectlCalls.some(pred);
    // The calls that guard defect 2 and the flannel RBAC are really among them (run, not declared).
    expect(seen((c) => c.req.resource === 'nodes' && c.req.verb === 'get' && c.identity.groups.includes('system:nodes'))).toBe(true); // node wait, smoke test, probe
    expect(seen((c) => c.req.resource === 'nodes' && c.req.verb === 'list')).toBe(true); // add-ons' cluster view
    expect(seen((c) => c.req.resource === 'clusterrolebindings' && c.req.name === 'kcore:flannel' && c.req.verb === 'patch')).toBe(true);
    expect(seen((c) => c.req.resource === 'pods/exec')).toBe(true);
    expect(seen((c) => c.req.resource === 'leases')).toBe(true);
    // The dashboard's cluster read through a chosen master, with the admin identity.
    expect(seen((c) => c.req.url === NODES_PATH && c.identity.groups.includes('system:masters'))).toBe(true);
    // upgrade's and remove-node's node operations, with the admin identity (a node's may not touch another Node).
    const admin = (c: Call) => c.identity.groups.includes('system:masters');
    for (const v of ['cordon', 'drain', 'uncordon']) expect(kubectlCalls.some((c) => c.who.includes(`(${v} kube-worker-02`) && admin(c)), v).toBe(true);
    expect(seen((c) => c.req.resource === 'pods/eviction' && admin(c))).toBe(true);
    expect(seen((c) => c.req.resource === 'nodes' && c.req.verb === 'delete' && c.req.name === 'kube-worker-02' && admin(c))).toBe(true);
    expect(kubectlCalls.length).toBeGreaterThan(30);
  });

  it('the model itself: a node may get only its own Node, and not list them; flanneld may; a node identity may not patch another node', () => {
    const node = { user: 'system:node:kube-worker-01', groups: ['system:nodes'] };
    expect(allowed({ who: 't', identity: node, req: { verb: 'get', resource: 'nodes', name: 'kube-worker-01' } })).toBe(true);
    expect(allowed({ who: 't', identity: node, req: { verb: 'get', resource: 'nodes', name: 'kube-worker-02' } })).toBe(false);
    expect(allowed({ who: 't', identity: node, req: { verb: 'list', resource: 'nodes' } })).toBe(false);
    expect(allowed({ who: 't', identity: node, req: { verb: 'patch', resource: 'nodes/status', name: 'kube-worker-02' } })).toBe(false);
    expect(allowed({ who: 't', identity: { user: 'kcore:flannel', groups: [] }, req: { verb: 'watch', resource: 'nodes' } })).toBe(true);
    expect(allowed({ who: 't', identity: { user: 'kcore:flannel', groups: [] }, req: { verb: 'get', resource: 'secrets', name: 'x', namespace: 'kube-system' } })).toBe(false);
    expect(allowed({ who: 't', identity: { user: 'system:kube-proxy', groups: ['system:node-proxier'] }, req: { verb: 'patch', resource: 'nodes', name: 'x' } })).toBe(false);
  });

  it("flanneld's ClusterRole grants what flannel's own kube-flannel.yml grants", () => {
    const role = YAML.parseAllDocuments(flannelRbacManifest(spec).text).map((d) => d.toJS() as { kind: string; rules?: Rule[] }).find((o) => o?.kind === 'ClusterRole')!;
    // flannel-io/flannel Documentation/kube-flannel.yml (ClusterRole flannel): pods get; nodes get, list,
    // watch; nodes/status patch.
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
    ]);
  });

  it('no kubectl command line is built outside kubectl() in src/ (so the recorded calls are all of them)', async () => {
    const offenders: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (p.endsWith('.ts') && !p.endsWith(path.join('kube-common', 'cluster.ts'))) if (/--kubeconfig[= ]/.test(await readFile(p, 'utf8'))) offenders.push(p);
      }
    };
    await walk(path.resolve('src'));
    expect(offenders).toEqual([]);
  });
});
