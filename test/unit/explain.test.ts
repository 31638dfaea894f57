/**
 * The teaching view (src/explain): roles in run order, the ideas of the etcd role, every task and every
 * file of every role with its why, files computed by the roles' own code against an offline context,
 * and no private key anywhere. Pure: no SSH, no hosts (explain is offline by design); the PKI is a real
 * one made by ensurePki in a temp workspace, so the key scan looks at real keys.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/engine/task.js';
import { explainCheck, explainCheckFor, explainHost, explainPath, explainRole, explainRoles, explainUnit, LOCAL_COMMANDS, NO_WHY } from '../../src/explain/index.js';
import { ensurePki } from '../../src/pki/index.js';
import { ROLES, SERVICES } from '../../src/roles/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { UsageError } from '../../src/spec/errors.js';
import { plannedHosts } from '../../src/spec/hosts.js';
import type { ClusterSpec } from '../../src/spec/schema.js';

const RUN_ORDER = ['bootstrap', 'pki', 'etcd', 'kube-master', 'kube-worker', 'kubectl', 'addons'];

function spec(over: { masters?: number; provider?: ClusterSpec['provider']; dashboard?: boolean } = {}): ClusterSpec {
  const s = defaultSpec({ provider: over.provider });
  s.groups['kube-master'].count = over.masters ?? 1;
  s.groups.etcd.count = 3;
  s.addons.dashboard = over.dashboard ?? false;
  return s;
}

let ws: string;
/** Every private key of the workspace PKI, as PEM text. */
const keys: string[] = [];

beforeAll(async () => {
  ws = await mkdtemp(path.join(tmpdir(), 'kcore-explain-test-'));
  await ensurePki(ws, pkiInput(spec({ masters: 3 })));
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.key')) keys.push(await readFile(p, 'utf8'));
    }
  };
  await walk(path.join(ws, 'pki'));
}, 120_000);

afterAll(async () => {
  await rm(ws, { recursive: true, force: true });
});

/** No private key, whole or as any of its base64 lines, and no base64 of a PEM key header, in `text`. */
function expectNoKey(text: string) {
  expect(text).not.toMatch(/PRIVATE KEY/);
  // base64 of "-----BEGIN" (a key embedded in a kubeconfig's client-key-data starts with it)
  expect(text).not.toContain('LS0tLS1CRUdJTi');
  for (const k of keys) {
    const body = k.split('\n').filter((l) => l && !l.startsWith('-----'));
    // The last lines hold the private exponent's CRT parts; the first ones hold the modulus, which the
    // public key and the certificates carry too.
    for (const line of body.slice(-4, -1)) expect(text).not.toContain(line);
    expect(text).not.toContain(Buffer.from(k).toString('base64').slice(0, 60));
  }
}

describe('roles', () => {
  it('lists the 7 roles in the order converge runs them, each with its why and its tasks', () => {
    const roles = explainRoles(spec());
    expect(roles.map((r) => r.name)).toEqual(RUN_ORDER);
    expect(ROLES.map((r) => r.name)).toEqual(RUN_ORDER);
    for (const r of roles) {
      expect(r.why).not.toBe(NO_WHY);
      expect(r.tasks.length).toBeGreaterThan(0);
    }
    expect(roles.find((r) => r.name === 'pki')!.hosts).toEqual(['this machine']);
    expect(roles.find((r) => r.name === 'etcd')!.hosts).toEqual(['etcd-01', 'etcd-02', 'etcd-03']);
    // addons run on one master only (the first still in the run)
    expect(explainRoles(spec({ masters: 2 })).find((r) => r.name === 'addons')!.hosts).toEqual(['kube-master-01']);
  });

  it('etcd: members and ETCD_INITIAL_CLUSTER, peer and client TLS, client-certificate auth, quorum', () => {
    const etcd = explainRole(spec(), 'etcd');
    const text = etcd.concepts.map((c) => `${c.name}: ${c.text}`).join('\n');
    expect(text).toMatch(/ETCD_INITIAL_CLUSTER/);
    expect(text).toMatch(/client-certificate auth/i);
    expect(text).toMatch(/ETCD_CLIENT_CERT_AUTH=true/);
    expect(text).toMatch(/quorum/);
    expect(text).toMatch(/2380/);
    expect(etcd.tasks.map((t) => t.name)).toContain('etcd: a client without a certificate is refused');
  });

  it('concepts where a learner meets ideas: PKI (CA, SANs), the control plane, the node (kubelet, kube-proxy, flannel, the API load balancer)', () => {
    const text = (role: string) => explainRole(spec(), role).concepts.map((c) => `${c.name} ${c.text}`).join('\n');
    expect(text('pki')).toMatch(/certificate authority/);
    expect(text('pki')).toMatch(/subject alternative names/);
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) expect(text('kube-master')).toContain(c);
    for (const c of ['kubelet', 'kube-proxy', 'flannel', '127.0.0.1:6444']) expect(text('kube-worker')).toContain(c);
  });

  it('an unknown role is a usage error naming the roles', () => {
    expect(() => explainRole(spec(), 'etc')).toThrow(UsageError);
    expect(() => explainRole(spec(), 'etc')).toThrow(/bootstrap, pki, etcd, kube-master, kube-worker, kubectl, addons/);
  });
});

describe('every role, task and file says why it exists', () => {
  it('every role and every task of every role has a why of its own (2 sentences at least)', () => {
    const missing: string[] = [];
    for (const role of ROLES) {
      if (!role.why?.trim()) missing.push(role.name);
      for (const t of role.tasks as Task<unknown>[]) if (!t.why?.trim()) missing.push(`${role.name}: ${t.name}`);
    }
    expect(missing).toEqual([]);
    for (const role of ROLES) for (const t of role.tasks as Task<unknown>[]) expect(t.why!.length, `${role.name}: ${t.name}`).toBeGreaterThan(40);
  });

  it('every unit a role keeps running is explained by its service task', () => {
    for (const s of SERVICES) for (const u of s.units) expect(explainUnit(u)?.why, u).not.toBe(NO_WHY);
    expect(explainUnit('kubelet.service')?.role).toBe('kube-worker');
    expect(explainUnit('nginx')).toBeUndefined();
  });

  // Every FileSpec every task writes, for the shapes that write different files: 1 and 3 masters,
  // Flatcar (containerd drop-in) and the lxc Debian box (containerd unit and binaries), the dashboard on.
  for (const [label, s] of [
    ['one master, Flatcar', spec()],
    ['three masters (API load balancer on workers)', spec({ masters: 3 })],
    ['lxc (Debian, containerd installed), dashboard on', spec({ provider: 'lxc', dashboard: true })],
  ] as const)
    it(`every file of every host has a why: ${label}`, async () => {
      const missing: string[] = [];
      for (const h of plannedHosts(s)) {
        const e = await explainHost(s, h.name, { workspace: ws, files: true });
        expect(e.files!.length, h.name).toBeGreaterThan(5);
        for (const f of e.files!) if (f.why === NO_WHY || !f.why.trim()) missing.push(`${h.name} ${f.path} (${f.role}: ${f.task})`);
        expectNoKey(JSON.stringify(e));
      }
      expect(missing).toEqual([]);
    }, 60_000);
});

describe('a host and its files', () => {
  it('a worker: what runs there, every file it gets (kubelet unit and config among them) with path, mode, owner, role, task, why, content', async () => {
    const e = await explainHost(spec(), 'kube-worker-01', { workspace: ws, files: true });
    expect(e.group).toBe('kube-worker');
    expect(e.ip).toBe('10.0.0.121');
    expect(e.roles.map((r) => r.name)).toEqual(['bootstrap', 'kube-worker']);
    expect(e.units.map((u) => u.unit)).toEqual(['containerd', 'kubelet', 'kube-proxy', 'flanneld']);
    const byPath = new Map(e.files!.map((f) => [f.path, f]));
    const unit = byPath.get('/etc/systemd/system/kubelet.service')!;
    expect(unit).toMatchObject({ mode: '0644', owner: 'root:root', role: 'kube-worker', task: 'node units' });
    expect(unit.content).toContain('--config=/etc/kubernetes/kubelet-config.yaml');
    const config = byPath.get('/etc/kubernetes/kubelet-config.yaml')!;
    expect(config.content).toMatch(/^kind: KubeletConfiguration$/m);
    // Flatcar (the virtualbox box) runs systemd-resolved: the kubelet hands pods its upstream list.
    expect(config.content).toContain('resolvConf: /run/systemd/resolve/resolv.conf');
    expect(e.assumptions!.join('\n')).toMatch(/Flatcar/);
    // The CA certificate is real (from the workspace PKI), its key never.
    expect(byPath.get('/etc/kubernetes/pki/ca.crt')!.content).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const key = byPath.get('/etc/kubernetes/pki/kubelet.key')!;
    expect(key.content).toBeNull();
    expect(key.note).toMatch(/private key: not shown; kept in pki\/kubelet\/kube-worker-01\.key/);
    // Binaries: where they come from, not their bytes.
    const kubelet = byPath.get('/opt/bin/kubelet')!;
    expect(kubelet).toMatchObject({ mode: '0755', content: null, task: 'Kubernetes node binaries' });
    expect(kubelet.note).toContain('kubernetes-node-linux-amd64.tar.gz');
    // One master: every kubeconfig names it directly, and there is no load balancer.
    for (const p of ['/etc/kubernetes/kubelet.kubeconfig', '/etc/kubernetes/kube-proxy.kubeconfig', '/etc/kubernetes/flannel.kubeconfig']) {
      expect(byPath.get(p)!.content).toBeNull();
      expect(byPath.get(p)!.servers).toEqual(['https://10.0.0.111:6443']);
    }
    expect([...byPath.keys()].some((p) => p.includes('haproxy'))).toBe(false);
    expectNoKey(JSON.stringify(e));
  });

  it('more than one master: the worker gets the API load balancer, and every kubeconfig of it names 127.0.0.1:6444, none a single master', async () => {
    const e = await explainHost(spec({ masters: 3 }), 'kube-worker-02', { workspace: ws, files: true });
    const byPath = new Map(e.files!.map((f) => [f.path, f]));
    const cfg = byPath.get('/etc/kubernetes/haproxy/haproxy.cfg')!;
    expect(cfg.task).toBe('API load balancer (haproxy static pod, more than one master)');
    for (const ip of ['10.0.0.111', '10.0.0.112', '10.0.0.113']) expect(cfg.content).toContain(`${ip}:6443`);
    expect(byPath.get('/etc/kubernetes/manifests/kcore-apiserver-lb.yaml')!.content).toMatch(/kind: Pod/);
    const kubeconfigs = e.files!.filter((f) => f.servers);
    expect(kubeconfigs.map((f) => f.path).sort()).toEqual(['/etc/kubernetes/flannel.kubeconfig', '/etc/kubernetes/kube-proxy.kubeconfig', '/etc/kubernetes/kubelet.kubeconfig']);
    for (const f of kubeconfigs) expect(f.servers).toEqual(['https://127.0.0.1:6444']);
    // A master's node components use its own API server, and it gets no load balancer.
    const m = await explainHost(spec({ masters: 3 }), 'kube-master-02', { workspace: ws, files: true });
    expect(m.files!.find((f) => f.path === '/etc/kubernetes/kubelet.kubeconfig')!.servers).toEqual(['https://10.0.0.112:6443']);
    expect(m.files!.some((f) => f.path.includes('haproxy'))).toBe(false);
  });

  it('a machine of the lxc provider is the Debian box: containerd installed by kcore-wizard, /etc/resolv.conf', async () => {
    const e = await explainHost(spec({ provider: 'lxc' }), 'kube-worker-01', { workspace: ws, files: true });
    const paths = e.files!.map((f) => f.path);
    expect(paths).toContain('/etc/systemd/system/containerd.service');
    expect(paths).toContain('/opt/bin/containerd');
    expect(paths).not.toContain('/etc/systemd/system/containerd.service.d/10-kcore.conf');
    expect(e.files!.find((f) => f.path === '/etc/kubernetes/kubelet-config.yaml')!.content).toContain('resolvConf: /etc/resolv.conf');
    expect(e.assumptions!.join('\n')).toMatch(/Debian 12/);
  });

  it('an etcd member: its drop-in names every member (ETCD_INITIAL_CLUSTER), keys owned by etcd and not shown', async () => {
    const e = await explainHost(spec(), 'etcd-02', { workspace: ws, files: true });
    const dropIn = e.files!.find((f) => f.path === '/etc/systemd/system/etcd.service.d/10-kcore.conf')!;
    expect(dropIn.content).toContain('ETCD_INITIAL_CLUSTER=etcd-01=https://10.0.0.101:2380,etcd-02=https://10.0.0.102:2380,etcd-03=https://10.0.0.103:2380');
    const key = e.files!.find((f) => f.path === '/etc/etcd/pki/server.key')!;
    expect(key).toMatchObject({ owner: 'etcd:etcd', mode: '0600', content: null });
    expect(key.note).toContain('pki/etcd/server-etcd-02.key');
    expect(e.files!.map((f) => f.path)).toEqual(expect.arrayContaining(['/opt/bin/etcd', '/opt/bin/etcdctl', '/opt/bin/etcdutl']));
    expect(e.checks.map((c) => c.name)).toContain('etcd: member healthy over TLS');
  });

  it('without a PKI in the workspace, certificates are placeholders that say so', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'kcore-explain-empty-'));
    try {
      const f = await explainPath(spec(), '/etc/kubernetes/pki/ca.crt', { workspace: empty, host: 'kube-worker-01' });
      expect(f.content).toBe('(not issued yet: pki/ca.crt)\n');
      expect(f.note).toMatch(/no pki\/ca.crt yet/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('an unknown host is a usage error naming the hosts', async () => {
    await expect(explainHost(spec(), 'kube-worker-09', { workspace: ws })).rejects.toThrow(/no host "kube-worker-09".*kube-worker-01, kube-worker-02/);
  });
});

describe('a path', () => {
  it('the file on the host asked for, or on the first host that gets it', async () => {
    const f = await explainPath(spec(), '/etc/kubernetes/kubelet-config.yaml', { workspace: ws, host: 'kube-worker-02' });
    expect(f.host).toBe('kube-worker-02');
    expect(f.content).toContain('kube-worker-02');
    expect((await explainPath(spec(), '/etc/kubernetes/kubelet-config.yaml', { workspace: ws })).host).toBe('kube-master-01');
  });

  it('a path no host gets, or a host that does not get it: a usage error naming what exists', async () => {
    await expect(explainPath(spec(), '/etc/nope', { workspace: ws })).rejects.toThrow(UsageError);
    await expect(explainPath(spec(), '/etc/etcd/pki/server.key', { workspace: ws, host: 'kube-worker-01' })).rejects.toThrow(/kube-worker-01 gets no \/etc\/etcd\/pki\/server.key: etcd-01, etcd-02, etcd-03 do/);
  });
});

describe('checks', () => {
  it("a smoke test: its why and the exact command (the probe's script)", () => {
    const c = explainCheck('etcd: a client without a certificate is refused')!;
    expect(c.role).toBe('etcd');
    // The request of this check alone (the four etcd smoke tests share one curl on the host): TLS 1.2 at most, no certificate.
    const [curl, without] = c.command.split('\n');
    expect(curl).toMatch(/^curl .*--tls-max 1\.2 .*https:\/\/10\.0\.0\.101:2379\/version$/);
    expect(curl).not.toMatch(/--cert|--key/);
    expect(without).toMatch(/^# without curl on the host: timeout 2 bash -c ': <\/dev\/tcp\/10\.0\.0\.101\/2379'/);
    expect(explainCheck('etcd: put/get round trip')!.command).toMatch(/"value":"<a random value, base64>"\}' https:\/\/10\.0\.0\.101:2379\/v3\/kv\/put\n/);
  });

  it("the dashboard's checks: the line of its batched probe", () => {
    expect(explainCheck('etcd')!.command).toContain('endpoint health');
    expect(explainCheck('apiserver')!.command).toContain('get --raw /readyz');
    expect(explainCheck('node', { spec: spec(), host: 'kube-worker-02' })!.command).toContain("get node kube-worker-02");
    expect(explainCheck('no such check')).toBeUndefined();
  });

  it('every smoke test of a role that runs on this machine says what it runs (a renamed test fails here)', () => {
    const local = ROLES.filter((r) => r.local).flatMap((r) => (r.tasks as Task<unknown>[]).filter((t) => t.tags?.includes('test')).map((t) => t.name));
    expect(local.length).toBeGreaterThan(0);
    expect(local.filter((n) => !LOCAL_COMMANDS[n])).toEqual([]);
    expect(Object.keys(LOCAL_COMMANDS).filter((n) => !local.includes(n))).toEqual([]);
  });

  it('a check that reads the host with plain commands shows them (offline: up to the first answer)', async () => {
    const c = await explainCheckFor('node: containerd, kubelet, kube-proxy and flanneld running', { spec: spec(), host: 'kube-worker-01' });
    expect(c!.command).toContain('systemctl is-active');
    const kubectl = explainCheck('the API server answers this machine with the admin kubeconfig', { workspace: ws })!;
    expect(kubectl.command).toContain(`kubectl --kubeconfig ${path.join(ws, 'kubeconfig')}`);
  });
});
