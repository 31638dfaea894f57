// Pure parts of the Kubernetes roles: add-on plans from live objects, leader leases, node readiness,
// role wiring (which hosts, which order), and the artifact failure message.
import { describe, expect, it } from 'vitest';
import { ArtifactError, ARTIFACTS, type ArtifactStore } from '../../src/engine/artifacts.js';
import type { HostInfo, RunContext } from '../../src/engine/task.js';
import { addonPlan, addonsRole, parseGetOutput } from '../../src/roles/addons/index.js';
import { ADMIN_KUBECONFIG, artifactFailure, corednsManifest, getNodeCommand, getNodesCommand, KUBELET_KUBECONFIG, MANIFEST_HASH_ANNOTATION, nodesProblem, parseNode } from '../../src/roles/kube-common/index.js';
import { flannelRbacManifest, kubeMasterRole, leaseProblem, rbacPlan } from '../../src/roles/kube-master/index.js';
import { kubeWorkerRole } from '../../src/roles/kube-worker/index.js';
import { kubectlRole } from '../../src/roles/kubectl/index.js';
import { defaultSpec, plannedHosts } from '../../src/spec/index.js';

const spec = defaultSpec({ name: 'demo' });

describe('add-on plans', () => {
  const m = corednsManifest(spec);
  it('all objects missing: create each', () => {
    expect(addonPlan(m, parseGetOutput(''))).toEqual([
      'create ServiceAccount kube-system/coredns',
      'create ClusterRole system:coredns',
      'create ClusterRoleBinding system:coredns',
      'create ConfigMap kube-system/coredns',
      'create Deployment kube-system/coredns',
      'create Service kube-system/kube-dns',
    ]);
  });
  it('applied with this manifest: nothing; another manifest: update; a deleted object: create', () => {
    const live = m.objects.map((o) => ({ kind: o.kind, metadata: { name: o.name, namespace: o.namespace, annotations: { [MANIFEST_HASH_ANNOTATION]: m.sha256 } } }));
    expect(addonPlan(m, parseGetOutput(JSON.stringify({ kind: 'List', items: live })))).toEqual([]);
    const old = live.map((o) => (o.kind === 'ConfigMap' ? { ...o, metadata: { ...o.metadata, annotations: { [MANIFEST_HASH_ANNOTATION]: 'old' } } } : o));
    expect(addonPlan(m, old.filter((o) => o.kind !== 'Service'))).toEqual(['update ConfigMap kube-system/coredns (manifest changed)', 'create Service kube-system/kube-dns']);
  });
  it('a single object comes back without a List', () => {
    expect(parseGetOutput('{"kind":"Service","metadata":{"name":"x"}}')).toEqual([{ kind: 'Service', metadata: { name: 'x' } }]);
  });
});

describe('flannel RBAC from the first master', () => {
  const m = flannelRbacManifest(spec);
  it('creates the ClusterRole and binding when missing, nothing when applied with this manifest, an update when it changed', () => {
    expect(rbacPlan(m, [])).toEqual(['create ClusterRole kcore:flannel', 'create ClusterRoleBinding kcore:flannel']);
    const live = m.objects.map((o) => ({ kind: o.kind, metadata: { name: o.name, annotations: { [MANIFEST_HASH_ANNOTATION]: m.sha256 } } }));
    expect(rbacPlan(m, live)).toEqual([]);
    expect(rbacPlan(m, [live[0]!, { ...live[1]!, metadata: { name: 'kcore:flannel', annotations: { [MANIFEST_HASH_ANNOTATION]: 'old' } } }])).toEqual(['update ClusterRoleBinding kcore:flannel (manifest changed)']);
  });
  it('binds the user of flanneld\'s certificate', () => {
    expect(m.text).toMatch(/subjects:\n\s+- apiGroup: rbac.authorization.k8s.io\n\s+kind: User\n\s+name: kcore:flannel/);
  });
  it('comes after /readyz in kube-master, which runs before kube-worker (where nodes wait for Ready)', () => {
    const names = kubeMasterRole.tasks.map((t) => t.name);
    expect(names.indexOf('flannel RBAC (ClusterRole and binding for flanneld)')).toBeGreaterThan(names.indexOf('API server answers /readyz'));
  });
});

describe('node reads: a node only itself, the cluster view with the admin kubeconfig', () => {
  it('get node <name> with the kubelet kubeconfig; get nodes only with the admin one', () => {
    expect(getNodeCommand('kube-worker-01', { kubeconfig: KUBELET_KUBECONFIG })).toBe(`/opt/bin/kubectl --kubeconfig=${KUBELET_KUBECONFIG} --request-timeout=10s get node kube-worker-01 -o json --ignore-not-found`);
    expect(getNodesCommand()).toBe(`/opt/bin/kubectl --kubeconfig=${ADMIN_KUBECONFIG} --request-timeout=10s get nodes -o json`);
  });
});

describe('control plane and nodes', () => {
  const now = Date.parse('2025-01-01T00:00:30Z');
  it('leader leases', () => {
    expect(leaseProblem('kube-scheduler', { spec: { holderIdentity: 'kube-master-01_x', renewTime: '2025-01-01T00:00:25.000000Z', leaseDurationSeconds: 15 } }, now)).toBeNull();
    expect(leaseProblem('kube-scheduler', { spec: { holderIdentity: 'kube-master-01_x', renewTime: '2024-12-31T23:00:00Z', leaseDurationSeconds: 15 } }, now)).toMatch(/the leader is not running/);
    expect(leaseProblem('kube-scheduler', null, now)).toMatch(/holds no leader lease/);
  });
  it('node readiness names what is missing or not Ready', () => {
    const ready = parseNode({ metadata: { name: 'a' }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '10.0.0.121' }] } });
    const notReady = parseNode({ metadata: { name: 'b' }, status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready' }] } });
    expect(ready.internalIP).toBe('10.0.0.121');
    expect(nodesProblem([ready, notReady], ['a', 'b', 'c'])).toBe('b not Ready (KubeletNotReady: container runtime network not ready); c not registered');
    expect(nodesProblem([ready], ['a'])).toBeNull();
  });
});

describe('role wiring', () => {
  const hosts = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } })) as HostInfo[];
  const run = { spec, hosts, hostsOf: (g: string) => hosts.filter((h) => h.group === g) } as unknown as RunContext;
  it('masters get kube-master; every node (masters too) kube-worker; add-ons from the first master; kubectl is local', () => {
    expect(kubeMasterRole.hosts(run).map((h) => h.name)).toEqual(['kube-master-01']);
    expect(kubeWorkerRole.hosts(run).map((h) => h.name)).toEqual(['kube-master-01', 'kube-worker-01', 'kube-worker-02']);
    expect(addonsRole.hosts(run).map((h) => h.name)).toEqual(['kube-master-01']);
    expect(addonsRole.firstAvailable).toBe(true);
    expect(kubectlRole.local).toBe(true);
  });
  it('nothing talks to the API server before /readyz: the gate comes before the controller manager, and first in add-ons', () => {
    const names = (kubeMasterRole.tasks as Array<{ name: string }>).map((t) => t.name);
    expect(names.indexOf('API server answers /readyz')).toBeLessThan(names.indexOf('kube-controller-manager service enabled and running'));
    const addons = (addonsRole.tasks as Array<{ name: string }>).map((t) => t.name);
    expect(addons.indexOf('API server answers /readyz')).toBeLessThan(addons.indexOf('every node registered and Ready'));
    expect(addons.indexOf('every node registered and Ready')).toBeLessThan(addons.indexOf('CoreDNS applied'));
  });
  it('every check-only task (no plan) is a smoke test tagged test, but the dry-run blocker check', () => {
    for (const r of [kubeMasterRole, kubeWorkerRole, kubectlRole, addonsRole])
      for (const t of r.tasks as Array<{ name: string; tags?: string[]; plan?: unknown }>)
        if (!t.plan && t.name !== 'release artifacts and prerequisites available') expect(t.tags, `${r.name}: ${t.name}`).toContain('test');
  });
});

describe('artifact failures', () => {
  it('name the file, where it was looked for and the official URL', () => {
    const a = ARTIFACTS.kubernetesServer('1.34.2', 'amd64');
    const store = { describe: () => '/mirror/kubernetes-server-linux-amd64.tar.gz' } as unknown as ArtifactStore;
    const f = artifactFailure(store, a, new ArtifactError(a.file, '/mirror/SHA256SUMS', `${a.file} is not listed in /mirror/SHA256SUMS: add its sha256sum line`));
    expect(f.message).toBe(
      'kubernetes-server 1.34.2 is not available: kubernetes-server-linux-amd64.tar.gz is not listed in /mirror/SHA256SUMS: add its sha256sum line\n' +
        '  → file kubernetes-server-linux-amd64.tar.gz, looked for at /mirror/kubernetes-server-linux-amd64.tar.gz; official download https://dl.k8s.io/v1.34.2/kubernetes-server-linux-amd64.tar.gz. Put it in the artifact source with its sha256sum line in SHA256SUMS, or use --artifacts official on a machine with internet access',
    );
  });
});
