// Rendering on the paths the first tests left out: the template environment's settings, the workspace
// files per provider, and the pure parts of the Kubernetes renderers (addresses, per-host values, the
// containerd config format, manifest stamping). Found by `npm run test:mutation`.
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { lxcBridgeName, renderInventory, renderTemplate, renderWorkspace, templateEnv, TEMPLATES_DIR, writeWorkspace } from '../../src/render/index.js';
import {
  apiServerUrl,
  apiserverUnit,
  clusterName,
  cniConflist,
  containerdConfig,
  containerdDropIn,
  containerdUnit,
  corednsManifest,
  dashboardManifest,
  etcdServers,
  flannelUnit,
  kubeletConfig,
  kubeletUnit,
  kubeProxyUnit,
  modulesLoadConf,
  kubernetesServiceIp,
  MANIFEST_HASH_ANNOTATION,
  nodeCidrMaskSize,
  smokeManifest,
  stampManifest,
  sysctlConf,
} from '../../src/roles/kube-common/render.js';
import { defaultSpec, hostsOf, type ClusterSpec } from '../../src/spec/index.js';

const worker = { name: 'kube-worker-01', ip: '10.0.0.121', group: 'kube-worker' };
const master = { name: 'kube-master-01', ip: '10.0.0.111', group: 'kube-master' };

function existingSpec(): ClusterSpec {
  const s = defaultSpec({ name: 'metal' });
  s.provider = 'existing';
  s.groups['kube-worker'].count = 1;
  s.machines = [
    { name: 'e1', address: '192.0.2.10', group: 'etcd', port: 22 },
    { name: 'm1', address: '192.0.2.11', group: 'kube-master', port: 2201 },
    { name: 'w1', address: '192.0.2.12', group: 'kube-worker', port: 22, privateIp: '10.0.0.12' },
  ];
  return s;
}

describe('template environment', () => {
  it('lives at the package root: templates/ next to src/', () => {
    expect(TEMPLATES_DIR).toBe(path.resolve(import.meta.dirname, '..', '..', 'templates'));
  });

  it('a variable the template needs but was not given is an error, not an empty string', () => {
    expect(() => renderTemplate('kubernetes/sysctl.conf.njk', {})).toThrow(/undefined|null/);
  });

  it('values are written as they are (config files, not HTML)', () => {
    expect(renderTemplate('kubernetes/sysctl.conf.njk', { cluster: 'a<b&"c' })).toContain('a<b&"c');
  });

  it('an indented block tag leaves its indentation out', () => {
    expect(templateEnv().renderString('  {% if true %}\nx\n  {% endif %}\n', {})).toBe('x\n');
  });

  it('block tags leave no blank lines or indentation behind', () => {
    const inv = renderInventory(existingSpec());
    expect(inv).not.toMatch(/^[ \t]+\S/m);
    expect(inv).toContain('[etcd]\ne1 ip=192.0.2.10 ansible_host=192.0.2.10 ansible_port=22\n');
  });
});

describe('workspace files', () => {
  it('the lxc bridge is kc-<name>, cut to the 15 characters Linux allows', () => {
    expect(lxcBridgeName(defaultSpec({ name: 'demo' }))).toBe('kc-demo');
    expect(lxcBridgeName(defaultSpec({ name: 'a-rather-long-cluster' }))).toBe('kc-a-rather-lon');
  });

  it('vagrant providers get a Vagrantfile and the inventory; existing machines the inventory only, both 0644', () => {
    expect(renderWorkspace(defaultSpec()).map((f) => [f.path, f.mode])).toEqual([
      ['Vagrantfile', 0o644],
      ['inventory.ini', 0o644],
    ]);
    const files = renderWorkspace(existingSpec());
    expect(files.map((f) => [f.path, f.mode])).toEqual([['inventory.ini', 0o644]]);
    expect(files[0]!.content).toContain('m1 ip=192.0.2.11 ansible_host=192.0.2.11 ansible_port=2201');
    expect(files[0]!.content).toContain('w1 ip=10.0.0.12 ansible_host=192.0.2.12 ansible_port=22');
    expect(files[0]!.content).toContain('machines listed by address');
  });

  it('the inventory of vagrant machines has no ansible_host: ssh.config says where they are', () => {
    const inv = renderInventory(defaultSpec());
    expect(inv).toContain('[kube-worker]\nkube-worker-01 ip=10.0.0.121\nkube-worker-02 ip=10.0.0.122\n');
    expect(inv).not.toContain('ansible_host');
    expect(inv).toContain("-F ssh.config");
  });

  it('writeWorkspace writes each file and says which changed', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-render-m-'));
    const spec = existingSpec();
    expect(await writeWorkspace(ws, spec)).toEqual([{ path: 'inventory.ini', changed: true }]);
    expect(await readFile(path.join(ws, 'inventory.ini'), 'utf8')).toBe(renderInventory(spec));
    expect((await stat(path.join(ws, 'inventory.ini'))).mode & 0o777).toBe(0o644);
    expect(await writeWorkspace(ws, spec)).toEqual([{ path: 'inventory.ini', changed: false }]);
  });
});

describe('Kubernetes renderers: values from the spec and the host', () => {
  it('the API server URL is the first master unless an address is given; no master is an error', () => {
    const s = defaultSpec();
    s.groups['kube-master'].count = 2;
    expect(apiServerUrl(s)).toBe('https://10.0.0.111:6443');
    expect(apiServerUrl(s, '10.0.0.112')).toBe('https://10.0.0.112:6443');
    const none = existingSpec();
    none.machines = none.machines.filter((m) => m.group !== 'kube-master');
    expect(apiServerUrl(none, '10.9.9.9')).toBe('https://10.9.9.9:6443');
    expect(() => apiServerUrl(none)).toThrow('the spec has no kube-master host');
  });

  it('every etcd member in the API server flags, comma-separated', () => {
    const s = defaultSpec();
    s.groups.etcd.count = 3;
    expect(etcdServers(s)).toBe('https://10.0.0.101:2379,https://10.0.0.102:2379,https://10.0.0.103:2379');
    expect(apiserverUnit(s, master)).toContain('--etcd-servers=https://10.0.0.101:2379,https://10.0.0.102:2379,https://10.0.0.103:2379');
  });

  it('names, sizes and addresses derived from the spec', () => {
    const s = defaultSpec({ name: 'lab' });
    expect(clusterName(s)).toBe('kcore-lab');
    s.network.podCidr = '10.2.0.0/21';
    expect(nodeCidrMaskSize(s)).toBe(26);
    s.network.serviceCidr = '10.96.0.0/16';
    expect(kubernetesServiceIp(s)).toBe('10.96.0.1');
  });

  it('binaries come from /opt/bin unless a folder is given', () => {
    const s = defaultSpec();
    expect(kubeletUnit(s, worker)).toContain('/opt/bin/kubelet');
    expect(kubeletUnit(s, worker, { bin: '/tmp/stub' })).toContain('/tmp/stub/kubelet');
    expect(kubeletUnit(s, worker, { bin: '/tmp/stub' })).not.toContain('/opt/bin/kubelet');
    expect(containerdUnit(s)).toContain('/opt/bin/containerd');
    expect(containerdUnit(s, { bin: '/tmp/stub' })).toContain('/tmp/stub/containerd');
  });

  it('kubelet config: the control-plane taint on masters only, cgroup v1 as the spec says, the resolv.conf given', () => {
    const s = defaultSpec();
    const w = YAML.parse(kubeletConfig(s, worker, { resolvConf: '/run/systemd/resolve/resolv.conf' })) as Record<string, unknown>;
    const m = YAML.parse(kubeletConfig(s, master, { resolvConf: '/etc/resolv.conf' })) as Record<string, unknown>;
    expect(w.registerWithTaints).toBeUndefined();
    expect(m.registerWithTaints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(w).toMatchObject({ resolvConf: '/run/systemd/resolve/resolv.conf', failCgroupV1: true, clusterDNS: ['10.3.0.10'], clusterDomain: 'cluster.local' });
    s.kubelet.allowCgroupV1 = true;
    expect(YAML.parse(kubeletConfig(s, worker, { resolvConf: '/etc/resolv.conf' }))).toMatchObject({ failCgroupV1: false });
  });
});

describe('containerd config format by version', () => {
  const s = defaultSpec();
  it.each([
    ['1.7.20', 'version = 2', false],
    ['2.0.5', 'version = 3', false],
    ['2.1.0', 'version = 3', true],
    ['3.0.0', 'version = 3', true],
  ])('containerd %s: %s, CNI bin_dirs %s', (version, format, binDirs) => {
    const c = containerdConfig(s, version);
    expect(c).toMatch(new RegExp(`^${format}$`, 'm'));
    expect(/^\s*bin_dirs = /m.test(c)).toBe(binDirs);
    expect(/^\s*bin_dir = /m.test(c)).toBe(!binDirs);
  });

  it("defaults to the spec's containerd", () => {
    const old = defaultSpec();
    old.versions.containerd = '1.7.22';
    expect(containerdConfig(old)).toMatch(/^version = 2$/m);
  });
});

describe('manifests', () => {
  it('stamps every object with the hash of the whole rendering, keeping its own annotations and the header', () => {
    const text = [
      '# first comment',
      '# second comment',
      '# third comment',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: a',
      '  namespace: ns',
      '  annotations:',
      '    keep: me',
      '---',
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      '  name: ns',
      '',
    ].join('\n');
    const m = stampManifest('demo', text);
    expect(m.name).toBe('demo');
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.objects).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'a', namespace: 'ns' },
      { apiVersion: 'v1', kind: 'Namespace', name: 'ns', namespace: undefined },
    ]);
    expect(m.text.startsWith('# first comment\n# second comment\n---\n')).toBe(true);
    const docs = YAML.parseAllDocuments(m.text)
      .map((d) => d.toJS() as { metadata: { annotations: Record<string, string> } } | null)
      .filter((d) => d !== null);
    expect(docs.map((d) => d!.metadata.annotations)).toEqual([
      { keep: 'me', [MANIFEST_HASH_ANNOTATION]: m.sha256 },
      { [MANIFEST_HASH_ANNOTATION]: m.sha256 },
    ]);
    expect(stampManifest('demo', text.replace('name: a', 'name: b')).sha256).not.toBe(m.sha256);
  });

  it('a manifest that does not parse names the add-on', () => {
    expect(() => stampManifest('broken', 'kind: [x\n')).toThrow(/^broken manifest: /);
  });

  it('CoreDNS: one replica for one worker, two for more; no forwarding on lxc machines', () => {
    const one = defaultSpec();
    one.groups['kube-worker'].count = 1;
    const deployment = (s: ClusterSpec) =>
      YAML.parseAllDocuments(corednsManifest(s).text)
        .map((d) => d.toJS() as { kind: string; spec?: { replicas?: number } })
        .find((o) => o.kind === 'Deployment')!;
    expect(deployment(one).spec!.replicas).toBe(1);
    const three = defaultSpec();
    three.groups['kube-worker'].count = 3;
    expect(deployment(three).spec!.replicas).toBe(2);
    expect(corednsManifest(three).text).toContain('forward . /etc/resolv.conf');
    const lxc = defaultSpec({ provider: 'lxc' });
    expect(corednsManifest(lxc).text).not.toContain('forward . /etc/resolv.conf');
  });

  it('the smoke workload pins one pod to each worker', () => {
    const s = defaultSpec();
    s.groups['kube-worker'].count = 3;
    const pods = YAML.parseAllDocuments(smokeManifest(s).text)
      .map((d) => d.toJS() as { kind: string; metadata: { namespace?: string }; spec: { nodeName?: string } } | null)
      .filter((o) => o?.kind === 'Pod');
    expect(pods.map((p) => p!.spec.nodeName)).toEqual(hostsOf(s, 'kube-worker').map((h) => h.name));
    expect(pods.every((p) => p!.metadata.namespace === 'kcore-smoke')).toBe(true);
  });
});

describe('the other node files and add-ons', () => {
  const s = defaultSpec({ name: 'lab' });
  it('kube-proxy unit, kernel settings and modules, the Flatcar containerd drop-in, the CNI list, flanneld', () => {
    expect(kubeProxyUnit(s, worker)).toContain('/opt/bin/kube-proxy');
    expect(kubeProxyUnit(s, worker, { bin: '/tmp/stub' })).toContain('/tmp/stub/kube-proxy');
    expect(sysctlConf(s)).toContain('(cluster lab)');
    expect(sysctlConf(s)).toMatch(/^net\.ipv4\.ip_forward = 1$/m);
    expect(modulesLoadConf(s)).toContain('(cluster lab)');
    expect(modulesLoadConf(s)).toMatch(/^br_netfilter$/m);
    expect(containerdDropIn()).toMatch(/^Environment=CONTAINERD_CONFIG=\/etc\/containerd\/config\.toml$/m);
    expect((JSON.parse(cniConflist()) as { plugins: Array<{ subnetFile?: string }> }).plugins[0]!.subnetFile).toBe('/run/flannel/subnet.env');
    const f = flannelUnit(s, worker, { iface: 'eth1' });
    expect(f).toContain('--iface=eth1');
    expect(f).toContain('NODE_NAME=kube-worker-01');
  });

  it('add-on manifests carry their names', () => {
    expect(corednsManifest(s).name).toBe('coredns');
    expect(smokeManifest(s).name).toBe('smoke');
    const d = dashboardManifest();
    expect(d.name).toBe('dashboard');
    expect(d.text).toContain('docker.io/kubernetesui/dashboard:v');
  });

  it('stamping: the header is the first two comment lines wherever they are, empty documents are dropped, long lines stay whole', () => {
    const long = 'x'.repeat(150);
    const rendered = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: ${long}\n---\n# note one\n# note two\n# note three\n---\n`;
    const m = stampManifest('demo', rendered);
    expect(m.objects).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', name: 'a', namespace: undefined }]);
    expect(m.text).toBe(
      `# note one\n# note two\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    ${MANIFEST_HASH_ANNOTATION}: ${m.sha256}\ndata:\n  k: ${long}\n`,
    );
  });
});
