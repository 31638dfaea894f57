// What cannot run here, proven with real tools: every rendered unit passes `systemd-analyze verify`
// (binaries stubbed in a temp folder for that check only), kubectl reads every generated kubeconfig and
// `openssl verify` accepts the embedded certificates, manifests and configs parse and follow the spec.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Facts } from '../../src/engine/facts.js';
import type { HostInfo, RunContext, TaskContext } from '../../src/engine/task.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { defaultSpec, hostsOf, plannedHosts, type ClusterSpec } from '../../src/spec/index.js';
import {
  apiserverUnit,
  cniConflist,
  containerdConfig,
  containerdDropIn,
  containerdUnit,
  controllerManagerUnit,
  corednsManifest,
  dashboardManifest,
  flannelNetConf,
  flannelUnit,
  kubeletUnit,
  kubeProxyUnit,
  MANIFEST_HASH_ANNOTATION,
  schedulerUnit,
  smokeManifest,
  type Manifest,
} from '../../src/roles/kube-common/index.js';
import { masterKubeconfigs, masterUnits } from '../../src/roles/kube-master/index.js';
import { containerdMode, kernelPlan, nodeConfigFiles, nodeKubeconfigs, nodeUnits } from '../../src/roles/kube-worker/index.js';
import { FLATCAR_PINNED } from '../../src/roles/kube-common/flatcar-containerd.js';
import { adminKubeconfig, kubeconfigProblem } from '../../src/roles/kubectl/index.js';

const exec = promisify(execFile);
const KUBECTL = '/usr/bin/kubectl';

let dir: string;
let ws: string;
let stubBin: string;

/** A non-default spec, so every check proves the value comes from the spec. */
function testSpec(): ClusterSpec {
  const s = defaultSpec({ name: 'demo' });
  s.network = { prefix: '10.20.0', serviceCidr: '10.96.0.0/16', podCidr: '10.244.0.0/16', dnsIp: '10.96.0.53', domain: 'k8s.test' };
  s.groups.etcd.count = 3;
  // Two masters: a master's own components must talk to that master, not to the first one.
  s.groups['kube-master'].count = 2;
  s.versions.coredns = '1.12.4';
  return s;
}
const spec = testSpec();

function facts(family: 'flatcar' | 'debian', containerd: string | null): Facts {
  return {
    hostname: 'x',
    os: { id: family, versionId: '1', prettyName: family, idLike: '', family },
    arch: 'amd64',
    systemd: true,
    containerRuntime: { containerd, docker: null },
    privateIp: '10.20.0.121',
    privateInterface: 'eth1',
    addresses: [],
    optBinWritable: true,
  };
}

/** A TaskContext for the file builders: they read the spec, the PKI, the host and its facts only. */
function ctxFor(hostName: string, f: Facts = facts('flatcar', '/usr/bin/containerd')): TaskContext {
  const hosts = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } })) as HostInfo[];
  const run = { spec, workspace: ws, hosts, pki: pkiPaths(ws), dryRun: false, facts: new Map(), hostsOf: (g: string) => hosts.filter((h) => h.group === g) } as unknown as RunContext;
  // readFile: no Flatcar containerd config on this fake host (its pinned settings are used).
  const conn = { exec: async () => ({ stdout: '/run/systemd/resolve/resolv.conf\n', stderr: '', exitCode: 0, durationMs: 0 }), readFile: async () => null };
  return { run, host: hosts.find((h) => h.name === hostName)!, conn, facts: () => f, output: () => undefined, signal: new AbortController().signal } as unknown as TaskContext;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcore-kube-render-'));
  ws = path.join(dir, 'ws');
  await mkdir(ws);
  await ensurePki(ws, pkiInput(spec));
  stubBin = path.join(dir, 'bin');
  await mkdir(stubBin);
  for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'flanneld', 'containerd']) {
    await writeFile(path.join(stubBin, b), '#!/bin/sh\nexit 0\n');
    await chmod(path.join(stubBin, b), 0o755);
  }
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** systemd-analyze verify a folder of units; returns its complaints (exit code and stderr lines). */
async function verifyUnits(unitDir: string, units: string[]): Promise<{ code: number; complaints: string[] }> {
  const r = await exec('systemd-analyze', ['verify', ...units.map((u) => path.join(unitDir, u))], { cwd: unitDir }).then(
    (x) => ({ code: 0, stderr: x.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return { code: r.code, complaints: r.stderr.split('\n').filter((l) => l.trim()) };
}

describe('systemd units pass systemd-analyze verify (binaries stubbed)', () => {
  it('control plane, node components, flanneld and our containerd unit', async () => {
    const master = hostsOf(spec, 'kube-master')[0]!;
    const worker = hostsOf(spec, 'kube-worker')[0]!;
    const o = { bin: stubBin };
    const unitDir = path.join(dir, 'units');
    await mkdir(unitDir);
    const units: Record<string, string> = {
      'kube-apiserver.service': apiserverUnit(spec, master, o),
      'kube-controller-manager.service': controllerManagerUnit(spec, master, o),
      'kube-scheduler.service': schedulerUnit(spec, master, o),
      'kubelet.service': kubeletUnit(spec, worker, o),
      'kube-proxy.service': kubeProxyUnit(spec, worker, o),
      'flanneld.service': flannelUnit(spec, worker, { ...o, iface: 'eth1' }),
      'containerd.service': containerdUnit(spec, o),
    };
    for (const [n, c] of Object.entries(units)) await writeFile(path.join(unitDir, n), c);
    const r = await verifyUnits(unitDir, Object.keys(units));
    expect(r.complaints).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('the real /opt/bin paths are what the roles install (a missing binary is caught by verify)', async () => {
    const unitDir = path.join(dir, 'units-optbin');
    await mkdir(unitDir);
    await writeFile(path.join(unitDir, 'kube-scheduler.service'), schedulerUnit(spec, hostsOf(spec, 'kube-master')[0]!));
    const r = await verifyUnits(unitDir, ['kube-scheduler.service']);
    expect(r.code).not.toBe(0);
    expect(r.complaints.join('\n')).toMatch(/\/opt\/bin\/kube-scheduler is not executable/);
  });

  it("Flatcar: our drop-in over Flatcar's own containerd unit", async () => {
    const unitDir = path.join(dir, 'flatcar');
    await mkdir(path.join(unitDir, 'containerd.service.d'), { recursive: true });
    // Flatcar's unit as shipped (ExecStart reads $CONTAINERD_CONFIG), with the binary stubbed.
    await writeFile(
      path.join(unitDir, 'containerd.service'),
      `[Unit]\nDescription=containerd container runtime\nAfter=network.target\n[Service]\nDelegate=yes\nEnvironment=CONTAINERD_CONFIG=/usr/share/containerd/config.toml\nExecStart=${stubBin}/containerd --config \${CONTAINERD_CONFIG}\nKillMode=process\nRestart=always\n[Install]\nWantedBy=multi-user.target\n`,
    );
    await writeFile(path.join(unitDir, 'containerd.service.d', '10-kcore.conf'), containerdDropIn());
    const r = await verifyUnits(unitDir, ['containerd.service']);
    expect(r.complaints).toEqual([]);
    expect(containerdDropIn()).toMatch(/^Environment=CONTAINERD_CONFIG=\/etc\/containerd\/config\.toml$/m);
  });

  it('every unit file a role uploads is one of the verified templates, at the path systemd reads', () => {
    const m = masterUnits(ctxFor('kube-master-01')).map((f) => f.path);
    expect(m).toEqual(['/etc/systemd/system/kube-apiserver.service', '/etc/systemd/system/kube-controller-manager.service', '/etc/systemd/system/kube-scheduler.service']);
    const flatcar = nodeUnits(ctxFor('kube-worker-01')).map((f) => f.path);
    expect(flatcar).toEqual(['/etc/systemd/system/kubelet.service', '/etc/systemd/system/kube-proxy.service', '/etc/systemd/system/flanneld.service', '/etc/systemd/system/containerd.service.d/10-kcore.conf']);
    const debian = nodeUnits(ctxFor('kube-worker-01', facts('debian', null))).map((f) => f.path);
    expect(debian.at(-1)).toBe('/etc/systemd/system/containerd.service');
    expect(containerdMode(facts('debian', '/usr/bin/containerd'))).toBe('system');
    expect(containerdMode(facts('debian', '/opt/bin/containerd'))).toBe('install');
  });
});

interface View {
  clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data': string } }>;
  users: Array<{ name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context': string;
}

async function kubectlView(file: string): Promise<View> {
  const r = await exec(KUBECTL, ['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json']);
  return JSON.parse(r.stdout) as View;
}

async function opensslVerify(caFile: string, certPem: string): Promise<string> {
  const f = path.join(dir, `cert-${Math.random().toString(36).slice(2)}.pem`);
  await writeFile(f, certPem);
  const r = await exec('openssl', ['verify', '-CAfile', caFile, f]);
  return r.stdout.trim();
}

async function subject(certPem: string): Promise<string> {
  const f = path.join(dir, `subj-${Math.random().toString(36).slice(2)}.pem`);
  await writeFile(f, certPem);
  return (await exec('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', f])).stdout.trim().replace(/^subject=/, '');
}

describe('kubectl reads every generated kubeconfig; openssl verifies the embedded certificates', () => {
  const b64 = (s: string) => Buffer.from(s, 'base64').toString();

  async function check(content: string, want: { server: string; certFile: string; keyFile: string; subject: RegExp }) {
    const file = path.join(dir, `kc-${Math.random().toString(36).slice(2)}`);
    await writeFile(file, content, { mode: 0o600 });
    const v = await kubectlView(file);
    const ctx = v.contexts.find((c) => c.name === v['current-context'])!;
    const cluster = v.clusters.find((c) => c.name === ctx.context.cluster)!;
    const user = v.users.find((u) => u.name === ctx.context.user)!;
    expect(cluster.cluster.server).toBe(want.server);
    const p = pkiPaths(ws);
    expect(b64(cluster.cluster['certificate-authority-data'])).toBe(await readFile(p.ca.cert, 'utf8'));
    const cert = b64(user.user['client-certificate-data']);
    expect(cert).toBe(await readFile(want.certFile, 'utf8'));
    expect(b64(user.user['client-key-data'])).toBe(await readFile(want.keyFile, 'utf8'));
    expect(await opensslVerify(p.ca.cert, cert)).toMatch(/: OK$/);
    expect(await subject(cert)).toMatch(want.subject);
  }

  it('control plane and the admin kubeconfig on a master talk to that master', async () => {
    const p = pkiPaths(ws);
    for (const [name, server] of [['kube-master-01', 'https://10.20.0.111:6443'], ['kube-master-02', 'https://10.20.0.112:6443']] as const) {
      const files = await masterKubeconfigs(ctxFor(name));
      expect(files.map((f) => [f.path, f.mode, f.secret])).toEqual([
        ['/etc/kubernetes/controller-manager.kubeconfig', 0o600, true],
        ['/etc/kubernetes/scheduler.kubeconfig', 0o600, true],
        ['/etc/kubernetes/admin.kubeconfig', 0o600, true],
      ]);
      await check(files[0]!.content as string, { server, certFile: p.controllerManager.cert, keyFile: p.controllerManager.key, subject: /^CN=system:kube-controller-manager$/ });
      await check(files[1]!.content as string, { server, certFile: p.scheduler.cert, keyFile: p.scheduler.key, subject: /^CN=system:kube-scheduler$/ });
      await check(files[2]!.content as string, { server, certFile: p.admin.cert, keyFile: p.admin.key, subject: /^CN=kube-admin,O=system:masters$/ });
    }
  });

  it('kubelet (its own certificate per node), kube-proxy and flanneld (its own, not a node identity): a master talks to itself, workers (two masters) to their local load balancer', async () => {
    const p = pkiPaths(ws);
    const want: Array<[string, string]> = [
      ['kube-master-01', 'https://10.20.0.111:6443'],
      ['kube-master-02', 'https://10.20.0.112:6443'],
      ['kube-worker-01', 'https://127.0.0.1:6444'],
      ['kube-worker-02', 'https://127.0.0.1:6444'],
    ];
    for (const [name, server] of want) {
      const files = await nodeKubeconfigs(ctxFor(name));
      const file = (f: string) => files.find((x) => x.path === `/etc/kubernetes/${f}`)!.content as string;
      await check(file('kubelet.kubeconfig'), { server, certFile: p.kubelet(name).cert, keyFile: p.kubelet(name).key, subject: new RegExp(`^CN=system:node:${name},O=system:nodes$`) });
      await check(file('kube-proxy.kubeconfig'), { server, certFile: p.kubeProxy.cert, keyFile: p.kubeProxy.key, subject: /^CN=system:kube-proxy,O=system:node-proxier$/ });
      // flanneld lists and watches every Node: its own user, no system:node: / system:nodes (issue 11, defect 1).
      await check(file('flannel.kubeconfig'), { server, certFile: p.flannel.cert, keyFile: p.flannel.key, subject: /^CN=kcore:flannel$/ });
    }
  }, 60_000); // a PKI for the cluster: seconds on a loaded 2-core machine

  it('the workspace admin kubeconfig: cluster kcore-<name>, first master, admin certificate', async () => {
    const content = await adminKubeconfig({ spec, pki: pkiPaths(ws) });
    const p = pkiPaths(ws);
    await check(content, { server: 'https://10.20.0.111:6443', certFile: p.admin.cert, keyFile: p.admin.key, subject: /^CN=kube-admin,O=system:masters$/ });
    const file = path.join(dir, 'admin-view');
    await writeFile(file, content);
    const v = await kubectlView(file);
    expect(v['current-context']).toBe('kcore-demo');
    // Two masters: a second context reaches kube-master-02 (same CA, same admin user) while master-01 is down.
    const ctx2 = v.contexts.find((c) => c.name === 'kcore-demo-kube-master-02')!;
    expect(ctx2.context).toEqual({ cluster: 'kcore-demo-kube-master-02', user: 'kcore-demo-admin' });
    const c2 = v.clusters.find((c) => c.name === 'kcore-demo-kube-master-02')!;
    expect(c2.cluster.server).toBe('https://10.20.0.112:6443');
    expect(b64(c2.cluster['certificate-authority-data'])).toBe(await readFile(p.ca.cert, 'utf8'));
    expect(v.contexts.map((c) => c.name)).toEqual(['kcore-demo', 'kcore-demo-kube-master-02']);
    expect(kubeconfigProblem(v, { spec }, await readFile(p.ca.cert, 'utf8'), await readFile(p.admin.cert, 'utf8'))).toBeNull();
    expect(kubeconfigProblem(v, { spec }, await readFile(p.ca.cert, 'utf8'), await readFile(p.scheduler.cert, 'utf8'))).toMatch(/not the workspace admin certificate/);
  });
});

async function kubectlLocal(m: Manifest): Promise<Array<{ kind: string; metadata: { name: string; annotations: Record<string, string> } }>> {
  const file = path.join(dir, `${m.name}.yaml`);
  await writeFile(file, m.text);
  // kubectl's own decoder, offline (--local): every document must be a Kubernetes object.
  const r = await exec(KUBECTL, ['annotate', '--local', '-f', file, 'kcore-wizard.io/check=1', '-o', 'json'], { env: { ...process.env, KUBECONFIG: path.join(dir, 'none') } });
  const out = r.stdout.trim();
  const parsed = JSON.parse(out.startsWith('{') && out.includes('\n}\n{') ? `[${out.replace(/\n}\n{/g, '\n},\n{')}]` : out) as unknown;
  return (Array.isArray(parsed) ? parsed : (parsed as { kind: string; items?: unknown[] }).kind === 'List' ? (parsed as { items: unknown[] }).items : [parsed]) as never;
}

describe('manifests and configuration files parse and follow the spec', () => {
  const docs = (m: Manifest) => YAML.parseAllDocuments(m.text).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: never; data?: Record<string, string> }).filter(Boolean);

  it('CoreDNS: service at dnsIp, Corefile with the cluster domain, pinned image, RBAC; kubectl reads it', async () => {
    const m = corednsManifest(spec);
    const d = docs(m);
    expect(d.map((o) => o.kind)).toEqual(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Service']);
    const svc = d.find((o) => o.kind === 'Service') as unknown as { spec: { clusterIP: string; ports: Array<{ port: number; protocol: string }> } };
    expect(svc.spec.clusterIP).toBe('10.96.0.53');
    expect(svc.spec.ports.map((p) => `${p.port}/${p.protocol}`)).toEqual(['53/UDP', '53/TCP', '9153/TCP']);
    expect(d.find((o) => o.kind === 'ConfigMap')!.data!.Corefile).toMatch(/kubernetes k8s\.test in-addr\.arpa ip6\.arpa \{/);
    const dep = d.find((o) => o.kind === 'Deployment') as unknown as { spec: { replicas: number; template: { spec: { containers: Array<{ image: string }>; serviceAccountName: string } } } };
    expect(dep.spec.template.spec.containers[0]!.image).toBe('registry.k8s.io/coredns/coredns:v1.12.4');
    expect(dep.spec.template.spec.serviceAccountName).toBe('coredns');
    expect(dep.spec.replicas).toBe(2);
    for (const o of d) expect(o.metadata.annotations?.[MANIFEST_HASH_ANNOTATION]).toBe(m.sha256);
    const viaKubectl = await kubectlLocal(m);
    expect(viaKubectl.map((o) => o.kind)).toEqual(d.map((o) => o.kind));
    expect(corednsManifest(spec).text).toBe(m.text); // deterministic: same spec, same hash, no re-apply
  });

  it('dashboard and the smoke-test workload parse (kubectl reads them)', async () => {
    const dash = dashboardManifest();
    expect((await kubectlLocal(dash)).length).toBe(docs(dash).length);
    expect(docs(dash).filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual(['kubernetes-dashboard', 'dashboard-metrics-scraper']);
    const smoke = smokeManifest(spec);
    const s = docs(smoke);
    expect(s.filter((o) => o.kind === 'Pod').map((o) => (o as unknown as { spec: { nodeName: string } }).spec.nodeName)).toEqual(['kube-worker-01', 'kube-worker-02']);
    expect(s.find((o) => o.kind === 'Service')).toMatchObject({ spec: { type: 'NodePort' } });
    expect((await kubectlLocal(smoke)).length).toBe(s.length);
  });

  it('apiserver, controller manager: ranges, etcd over TLS, issuer, Node+RBAC, NodeRestriction', () => {
    const m = hostsOf(spec, 'kube-master')[0]!;
    const a = apiserverUnit(spec, m);
    expect(a).toContain('--service-cluster-ip-range=10.96.0.0/16 ');
    expect(a).toContain('--etcd-servers=https://10.20.0.101:2379,https://10.20.0.102:2379,https://10.20.0.103:2379 ');
    expect(a).toContain('--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt');
    expect(a).toContain('--service-account-issuer=https://kubernetes.default.svc.k8s.test ');
    expect(a).toContain('--service-account-key-file=/etc/kubernetes/pki/sa.pub');
    expect(a).toContain('--service-account-signing-key-file=/etc/kubernetes/pki/sa.key');
    expect(a).toContain('--authorization-mode=Node,RBAC ');
    expect(a).toMatch(/--enable-admission-plugins=\S*NodeRestriction/);
    expect(a).toContain('--bind-address=10.20.0.111 ');
    expect(a).toContain('--advertise-address=10.20.0.111 ');
    const cm = controllerManagerUnit(spec, m);
    expect(cm).toContain('--cluster-cidr=10.244.0.0/16 ');
    expect(cm).toContain('--allocate-node-cidrs=true ');
    expect(cm).toContain('--service-cluster-ip-range=10.96.0.0/16 ');
    expect(cm).toContain('--cluster-signing-cert-file=/etc/kubernetes/pki/ca-signing.crt ');
    expect(cm).toContain('--cluster-signing-key-file=/etc/kubernetes/pki/ca.key ');
    expect(cm).toContain('--use-service-account-credentials=true ');
  });

  it('kubelet, kube-proxy, containerd, CNI and flannel configuration', async () => {
    const files = async (name: string) => Object.fromEntries((await nodeConfigFiles(ctxFor(name))).map((f) => [f.path, f.content as string]));
    const w = await files('kube-worker-01');
    const kubelet = YAML.parse(w['/etc/kubernetes/kubelet-config.yaml']!) as Record<string, unknown>;
    expect(kubelet).toMatchObject({
      kind: 'KubeletConfiguration',
      clusterDNS: ['10.96.0.53'],
      clusterDomain: 'k8s.test',
      cgroupDriver: 'systemd',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/etc/kubernetes/pki/ca.crt' } },
      authorization: { mode: 'Webhook' },
      resolvConf: '/run/systemd/resolve/resolv.conf',
      tlsCertFile: '/etc/kubernetes/pki/kubelet.crt',
    });
    expect(kubelet.registerWithTaints).toBeUndefined();
    const master = YAML.parse((await files('kube-master-01'))['/etc/kubernetes/kubelet-config.yaml']!) as Record<string, unknown>;
    expect(master.registerWithTaints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(kubeletUnit(spec, hostsOf(spec, 'kube-worker')[0]!)).toMatch(/--node-ip=10\.20\.0\.121 /);
    expect(YAML.parse(w['/etc/kubernetes/kube-proxy-config.yaml']!)).toMatchObject({ kind: 'KubeProxyConfiguration', clusterCIDR: '10.244.0.0/16', mode: 'iptables', hostnameOverride: 'kube-worker-01' });
    expect(JSON.parse(w['/etc/kube-flannel/net-conf.json']!)).toEqual({ Network: '10.244.0.0/16', SubnetLen: 24, EnableIPv4: true, Backend: { Type: 'vxlan' } });
    const cni = JSON.parse(w['/etc/cni/net.d/10-flannel.conflist']!) as { plugins: Array<{ type: string }> };
    expect(cni.plugins.map((p) => p.type)).toEqual(['flannel', 'portmap']);
    const toml = w['/etc/containerd/config.toml']!;
    expect(toml).toMatch(/^\s*SystemdCgroup = true$/m);
    expect(toml).toMatch(/^version = 3$/m); // Flatcar's containerd of unknown version: config for the spec's 2.x
    expect(toml).toMatch(/^\s*bin_dirs = \["\/opt\/cni\/bin"\]$/m);
    expect(containerdConfig(spec, spec.versions.containerd, FLATCAR_PINNED)).toBe(toml);
    expect(flannelNetConf(spec)).toBe(w['/etc/kube-flannel/net-conf.json']);
    expect(cniConflist()).toBe(w['/etc/cni/net.d/10-flannel.conflist']);
    expect(flannelUnit(spec, hostsOf(spec, 'kube-worker')[0]!, { iface: 'eth1' })).toMatch(/--kube-subnet-mgr[\s\S]*--iface=eth1[\s\S]*Environment=NODE_NAME=kube-worker-01|Environment=NODE_NAME=kube-worker-01[\s\S]*--kube-subnet-mgr[\s\S]*--iface=eth1/);
    // flanneld logs in with its own kubeconfig, never the kubelet's (issue 11, defect 1).
    expect(flannelUnit(spec, hostsOf(spec, 'kube-worker')[0]!, { iface: 'eth1' })).toMatch(/^\s*--kubeconfig-file=\/etc\/kubernetes\/flannel\.kubeconfig \\$/m);
  });

  it('kernel settings plan reads /proc state', () => {
    expect(kernelPlan('ip_forward=1\nbridge_nf=1\n')).toEqual([]);
    expect(kernelPlan('ip_forward=0\nbridge_nf=unloaded\n')).toEqual(['load kernel modules overlay, br_netfilter', 'set net.ipv4.ip_forward = 1', 'set net.bridge.bridge-nf-call-iptables = 1']);
  });
});
