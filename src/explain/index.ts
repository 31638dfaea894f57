/**
 * The teaching view: what every role, task, file, unit and check is and why it is there, computed
 * offline from the spec, the workspace PKI (read when present) and the roles' own `why`, `docs` and
 * `concepts`. No SSH, no React: the CLI prints it, the wizard and the dashboard draw it.
 *
 * Files come from the roles' own file functions run against an offline context (./offline.ts), so the
 * content shown is what converge writes; what depends on the machine comes from the spec's box
 * defaults and is listed in `assumptions`. Private keys and tokens are never carried: `content: null`
 * with a note that says where they are.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { Role, Task } from '../engine/task.js';
import { probeScript } from '../health/probe.js';
import { ROLES, SERVICES } from '../roles/index.js';
import { defaultSpec } from '../spec/defaults.js';
import { UsageError } from '../spec/errors.js';
import { plannedHosts } from '../spec/hosts.js';
import type { ClusterSpec, GroupName } from '../spec/schema.js';
import { adminKubeconfigPath, readyzArgs, viewArgs } from '../roles/kubectl/index.js';
import { offlineRun, type OfflineFile, type OfflineRun } from './offline.js';
import type { CheckExplanation, FileExplanation, HostExplanation, RoleExplanation, TaskExplanation, UnitExplanation } from './types.js';

export type * from './types.js';

/** Said where a why is missing (a unit test fails on every one of them). */
export const NO_WHY = '(no why written yet)';

/** What a machine of each group is for. */
export const GROUP_WHY: Record<GroupName, string> = {
  etcd: 'This machine is a member of the etcd cluster: the database where Kubernetes keeps every object (nodes, pods, secrets). It runs nothing but etcd, so the cluster state lives apart from the machines that run workloads, and the members agree on every write by majority vote.',
  'kube-master': "This machine is a master: it runs the control plane (kube-apiserver, kube-controller-manager, kube-scheduler), which stores the cluster's state in etcd and decides what runs where. It is also a node (kubelet, kube-proxy, flanneld), registered with a taint so ordinary pods are not scheduled on it.",
  'kube-worker': 'This machine is a worker node: its kubelet runs the pods the scheduler assigns to it, through containerd; kube-proxy routes Service addresses to pods and flanneld connects its pods to the pods on the other nodes.',
};

const why = (x: { why?: string }) => x.why?.trim() || NO_WHY;

function taskExplanation(t: Task<unknown>): TaskExplanation {
  return { name: t.name, why: why(t), ...(t.docs ? { docs: t.docs } : {}), tags: t.tags ?? [] };
}

/** The hosts a role runs on, by name, for a spec (a local role: "this machine"). */
function roleHosts(spec: ClusterSpec, role: Role): string[] {
  if (role.local) return ['this machine'];
  const hosts = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.sshAddress, port: h.sshPort, user: spec.ssh.user } }));
  const run = { hostsOf: (g: GroupName) => hosts.filter((h) => h.group === g), hosts } as unknown as Parameters<Role['hosts']>[0];
  const hs = role.hosts(run).map((h) => h.name);
  return role.firstAvailable ? hs.slice(0, 1) : hs;
}

function roleExplanation(spec: ClusterSpec, role: Role): RoleExplanation {
  return {
    name: role.name,
    why: why(role),
    ...(role.docs ? { docs: role.docs } : {}),
    hosts: roleHosts(spec, role),
    tasks: (role.tasks as Task<unknown>[]).map(taskExplanation),
    concepts: (role.concepts ?? []).map((c) => ({ name: c.name, text: c.text, ...(c.docs ? { docs: c.docs } : {}) })),
  };
}

/** Every role in the order converge runs them, each with its why and its tasks. */
export function explainRoles(spec: ClusterSpec): RoleExplanation[] {
  return ROLES.map((r) => roleExplanation(spec, r));
}

/** One role: its tasks in order and the ideas a learner meets there. Unknown name: UsageError naming the roles. */
export function explainRole(spec: ClusterSpec, name: string): RoleExplanation {
  const role = ROLES.find((r) => r.name === name);
  if (!role) throw new UsageError(`there is no role ${JSON.stringify(name)}: the roles are ${ROLES.map((r) => r.name).join(', ')}`);
  return roleExplanation(spec, role);
}

// ---- units and checks -----------------------------------------------------------------------------

const unitName = (u: string) => u.replace(/\.service$/, '');

/** The task of a role that keeps `unit` running (serviceTask: "<unit> service enabled and running"). */
function serviceTaskOf(unit: string): { role: Role; task: Task<unknown> } | undefined {
  for (const role of ROLES)
    for (const t of role.tasks as Task<unknown>[]) if (t.name === `${unit} service enabled and running`) return { role, task: t };
  return undefined;
}

/** A systemd unit a role keeps running (the dashboard's units): what it is and why it exists. */
export function explainUnit(unit: string): UnitExplanation | undefined {
  const name = unitName(unit);
  const owner = SERVICES.find((s) => s.units.includes(name));
  if (!owner) return undefined;
  const t = serviceTaskOf(name);
  return { unit: name, role: owner.role, why: t ? why(t.task) : NO_WHY, ...(t?.task.docs ? { docs: t.task.docs } : {}) };
}

/**
 * The dashboard's own checks (src/health/probe.ts), by the HostHealth field they fill: each is one part
 * of the batched probe the dashboard runs on a host every 2 s.
 */
export const DASHBOARD_CHECKS: Record<'etcd' | 'apiserver' | 'node', { group: GroupName; tag: string; role: string; why: string }> = {
  etcd: {
    group: 'etcd',
    tag: 'E',
    role: 'etcd',
    why: "Asks this etcd member whether it is healthy (etcdctl endpoint health over TLS, with kcore-wizard's client certificate). A member that is down or cut off from the others answers unhealthy or not at all, bounded by a timeout so the dashboard never hangs.",
  },
  apiserver: {
    group: 'kube-master',
    tag: 'A',
    role: 'kube-master',
    why: "Asks this master's API server for /readyz with the admin kubeconfig: ok only when it is up and reaches etcd. Every other component talks to the cluster through it, so this is the first thing to look at when anything else fails.",
  },
  node: {
    group: 'kube-worker',
    tag: 'N',
    role: 'kube-worker',
    why: "Reads this node's Ready condition with the node's own kubelet credentials (the Node authorizer lets a kubelet read its own Node). Ready means the kubelet runs, containerd answers and the pod network (flannel's CNI config) is in place.",
  },
};

/** Commands run on this machine by the local roles' smoke tests (no SSH: written here, beside the checks they describe). */
export const LOCAL_COMMANDS: Record<string, (workspace: string) => string> = {
  'no certificate has expired': (ws) => `read every certificate under ${path.join(ws, 'pki')} on this machine (node-forge, no command run)`,
  // The argument lists the kubectl role passes to execa, taken from it (src/roles/kubectl/index.ts).
  'kubectl reads the admin kubeconfig (server, CA, admin certificate)': (ws) =>
    `${['kubectl', ...viewArgs(adminKubeconfigPath(ws))].join(' ')}   (on this machine; without kubectl the file is parsed as YAML)`,
  'the API server answers this machine with the admin kubeconfig': (ws) => `${['kubectl', ...readyzArgs(adminKubeconfigPath(ws))].join(' ')}   (on this machine)`,
};

/** Remove anything that looks like a secret from a command line (PEM blocks, bearer tokens, passwords). */
export function redactCommand(command: string): string {
  return command
    .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '***')
    .replace(/(--token[= ]|Authorization: Bearer |password[= ])\S+/gi, '$1***');
}

/** The line of the dashboard's batched probe that makes one check (src/health/probe.ts), for a host. */
function dashboardCommand(key: keyof typeof DASHBOARD_CHECKS, host: { name: string; group: GroupName; ip: string }): string {
  const tag = DASHBOARD_CHECKS[key].tag;
  const line = probeScript(host)
    .split('\n')
    .find((l) => l.includes(`echo "${tag} $?`) || l.includes(`echo "${tag} -`));
  return redactCommand(line ?? probeScript(host));
}

function findCheck(name: string): { role: Role; task: Task<unknown> } | undefined {
  for (const role of ROLES) for (const t of role.tasks as Task<unknown>[]) if (t.name === name && t.tags?.includes('test')) return { role, task: t };
  return undefined;
}

type CheckOpts = { spec?: ClusterSpec; host?: string; workspace?: string };

function checkHost(o: OfflineRun, role: Role, hostName: string | undefined) {
  const candidates = role.hosts(o.run);
  return candidates.find((h) => h.name === hostName) ?? candidates[0];
}

const NO_HOST = '(no host of this spec runs it)';
const LATER = '(no command of its own: it judges what its role already gathered on the host)';

/**
 * A smoke test (by its task name) or one of the dashboard's checks (`etcd`, `apiserver`, `node`): what it
 * is, why it exists and the exact command it runs, secrets redacted. The command is shown for
 * `opts.host` of `opts.spec`, or for the first host that runs it of the default spec (`kcore-wizard init`
 * without flags). Synchronous: a smoke test's command is its probe's script, or what its check sends
 * before the first answer comes back (explainCheckFor follows it further).
 */
export function explainCheck(name: string, opts: CheckOpts = {}): CheckExplanation | undefined {
  const spec = opts.spec ?? defaultSpec();
  const dash = DASHBOARD_CHECKS[name as keyof typeof DASHBOARD_CHECKS];
  if (dash) {
    const hosts = plannedHosts(spec);
    const host = hosts.find((h) => h.name === opts.host && (h.group === dash.group || (name === 'node' && h.group === 'kube-master'))) ?? hosts.find((h) => h.group === dash.group);
    return { name, role: dash.role, why: dash.why, command: host ? dashboardCommand(name as keyof typeof DASHBOARD_CHECKS, host) : NO_HOST };
  }
  const found = findCheck(name);
  if (!found) return undefined;
  const { role, task: t } = found;
  const o = offlineRun(spec, opts.workspace ?? '.', ROLES);
  if (role.local) return { name, role: role.name, why: why(t), command: (LOCAL_COMMANDS[t.name] ?? (() => '(on this machine)'))(o.run.workspace) };
  const host = checkHost(o, role, opts.host);
  const command = host ? redactCommand(o.commandsNow(t, host).join('\n')) || LATER : NO_HOST;
  void o.close();
  return { name, role: role.name, why: why(t), command };
}

/** Like explainCheck, following a smoke test's reads as far as an offline run can (every command it sends that does not depend on an answer). */
export async function explainCheckFor(name: string, opts: CheckOpts = {}): Promise<CheckExplanation | undefined> {
  const c = explainCheck(name, opts);
  const found = findCheck(name);
  if (!c || !found || found.role.local) return c;
  const o = offlineRun(opts.spec ?? defaultSpec(), opts.workspace ?? '.', ROLES);
  try {
    const host = checkHost(o, found.role, opts.host);
    if (!host) return c;
    const cmds = await o.commands(found.task, host);
    return { ...c, command: redactCommand(cmds.join('\n')) || LATER };
  } finally {
    await o.close();
  }
}

// ---- files ----------------------------------------------------------------------------------------

const octal = (m: number) => m.toString(8).padStart(4, '0');

/** Every private key of the workspace PKI, by its PEM text (to say where a key in a file comes from). */
async function pkiKeys(workspace: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const root = path.join(workspace, 'pki');
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.key')) out.set((await readFile(p, 'utf8')).trim(), path.relative(workspace, p));
    }
  };
  await walk(root);
  return out;
}

interface KubeconfigView {
  servers: string[];
  users: string[];
  key?: string;
}

function kubeconfigView(text: string): KubeconfigView | undefined {
  if (!/^kind: Config$/m.test(text)) return undefined;
  try {
    const d = YAML.parse(text) as { clusters?: Array<{ cluster?: { server?: string } }>; users?: Array<{ name?: string; user?: { 'client-key-data'?: string } }> };
    const keyData = d.users?.[0]?.user?.['client-key-data'];
    return {
      servers: (d.clusters ?? []).map((c) => c.cluster?.server).filter((s): s is string => !!s),
      users: (d.users ?? []).map((u) => u.name).filter((s): s is string => !!s),
      key: keyData ? Buffer.from(keyData, 'base64').toString('utf8').trim() : undefined,
    };
  } catch {
    return undefined;
  }
}

/** Whether text carries a secret whatever its FileSpec says (a second line of defence). */
export function looksSecret(text: string): boolean {
  return /PRIVATE KEY-----/.test(text) || /client-key-data:|^\s*token:\s*\S/m.test(text);
}

function fileExplanation(f: OfflineFile, keys: Map<string, string>): FileExplanation {
  const s = f.spec;
  const owner = s.owner ?? 'root';
  const group = s.group ?? owner;
  const base = { path: s.path, mode: octal(s.mode), owner: `${owner}:${group}`, role: f.role, task: f.task, why: s.why?.trim() || NO_WHY };
  if (f.binaryFrom) return { ...base, content: null, note: `binary: ${path.basename(s.path)} from the release file ${f.binaryFrom}, checked against its published SHA-256 before use` };
  // A binary of the artifact cache left unread (LazyFile): binary content, not shown.
  if (typeof s.content !== 'string' && !Buffer.isBuffer(s.content)) return { ...base, content: null, note: 'binary content: not shown' };
  const buf = typeof s.content === 'string' ? Buffer.from(s.content) : s.content;
  const text = buf.toString('utf8');
  const kc = kubeconfigView(text);
  const where = (pem: string | undefined) => (pem && keys.get(pem.trim()) ? `${keys.get(pem.trim())} in the workspace (0600)` : 'a key of pki/ in the workspace (0600), not issued yet or not found there');
  if (kc) {
    const server = kc.servers.length ? `; it connects to ${kc.servers.join(', ')} as ${kc.users.join(', ') || 'its user'}` : '';
    return {
      ...base,
      content: null,
      servers: kc.servers,
      note: `kubeconfig that embeds a private key, not shown (the key is ${where(kc.key)})${server}`,
    };
  }
  if (s.secret || looksSecret(text)) return { ...base, content: null, note: `private key: not shown; kept in ${where(text)} and uploaded only over SSH, mode ${octal(s.mode)}` };
  if (buf.includes(0) || Buffer.from(text, 'utf8').length !== buf.length) return { ...base, content: null, note: 'binary content: not shown' };
  const placeholder = /^\(not issued yet: (.+)\)\n$/.exec(text);
  if (placeholder) return { ...base, content: text, note: `the workspace has no ${placeholder[1]} yet: the pki role issues it on the first converge` };
  return { ...base, content: text };
}

function hostOf(spec: ClusterSpec, name: string) {
  const hosts = plannedHosts(spec);
  const h = hosts.find((x) => x.name === name);
  if (!h) throw new UsageError(`there is no host ${JSON.stringify(name)} in this spec: the hosts are ${hosts.map((x) => x.name).join(', ')}`);
  return h;
}

async function hostFiles(o: OfflineRun, hostName: string): Promise<FileExplanation[]> {
  const host = o.hosts.find((h) => h.name === hostName)!;
  const keys = await pkiKeys(o.run.workspace);
  return (await o.files(host)).map((f) => fileExplanation(f, keys));
}

/** One host: what runs there and why; with `files`, every file converge writes on it. */
export async function explainHost(spec: ClusterSpec, name: string, opts: { workspace: string; files?: boolean }): Promise<HostExplanation> {
  const h = hostOf(spec, name);
  const roles = explainRoles(spec).filter((r) => r.hosts.includes(h.name));
  const units = SERVICES.filter((s) => s.groups.includes(h.group)).flatMap((s) => s.units.map((u) => explainUnit(u)!));
  const o = offlineRun(spec, opts.workspace, ROLES);
  try {
    const checks: CheckExplanation[] = [];
    for (const [key, d] of Object.entries(DASHBOARD_CHECKS))
      if (d.group === h.group || (key === 'node' && h.group === 'kube-master')) checks.push(explainCheck(key, { spec, host: h.name })!);
    for (const role of ROLES) {
      if (role.local || !roles.some((r) => r.name === role.name)) continue;
      const host = o.hosts.find((x) => x.name === h.name)!;
      for (const t of role.tasks as Task<unknown>[]) {
        if (!t.tags?.includes('test')) continue;
        const ctxSkip = t.skip?.({ run: o.run, host, facts: () => o.assumed(host).facts } as never);
        if (ctxSkip) continue;
        checks.push({ name: t.name, role: role.name, why: why(t), command: redactCommand((await o.commands(t, host)).join('\n')) || LATER });
      }
    }
    const out: HostExplanation = { name: h.name, group: h.group, ip: h.ip, why: GROUP_WHY[h.group], roles, units, checks };
    if (opts.files) {
      out.files = await hostFiles(o, h.name);
      out.assumptions = o.assumed(o.hosts.find((x) => x.name === h.name)!).assumptions;
    }
    return out;
  } finally {
    await o.close();
  }
}

/**
 * One file path on a host: the file converge writes there, annotated. Without `host`, the first host
 * that gets the file. A path no host gets, or a host that does not get it: UsageError naming what exists.
 */
export async function explainPath(spec: ClusterSpec, filePath: string, opts: { workspace: string; host?: string }): Promise<FileExplanation & { host: string }> {
  if (opts.host) hostOf(spec, opts.host);
  const o = offlineRun(spec, opts.workspace, ROLES);
  try {
    const keys = await pkiKeys(opts.workspace);
    const holders: string[] = [];
    const all = new Set<string>();
    for (const host of o.hosts) {
      if (opts.host && host.name !== opts.host) continue;
      const files = await o.files(host);
      for (const f of files) all.add(f.spec.path);
      const f = files.find((x) => x.spec.path === filePath);
      if (f) return { ...fileExplanation(f, keys), host: host.name };
    }
    for (const host of o.hosts) if ((await o.files(host)).some((x) => x.spec.path === filePath)) holders.push(host.name);
    if (opts.host && holders.length) throw new UsageError(`${opts.host} gets no ${filePath}: ${holders.join(', ')} ${holders.length === 1 ? 'does' : 'do'}`);
    if (!opts.host) for (const host of o.hosts) for (const f of await o.files(host)) all.add(f.spec.path);
    const near = [...all].filter((p) => path.basename(p) === path.basename(filePath) || path.dirname(p) === path.dirname(filePath)).slice(0, 8);
    const dirs = [...new Set([...all].map((p) => path.dirname(p)))].sort();
    const hint = near.length ? `did you mean ${near.join(', ')}?` : `files go into ${dirs.join(', ')}`;
    throw new UsageError(`no host${opts.host ? ` (${opts.host} asked for)` : ''} gets ${filePath}: ${hint} (\`kcore-wizard explain HOST --files\` lists every file of a host)`);
  } finally {
    await o.close();
  }
}
