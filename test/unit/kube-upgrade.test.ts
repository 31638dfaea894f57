// The Kubernetes half of `upgrade`: the upstream version skew policy, the rolling order and the node
// operations' command lines. Pure logic; the rolling itself runs on real hosts in
// test/integration/kube-upgrade.test.ts.
//
// Upstream, https://kubernetes.io/releases/version-skew-policy/ (checked 2026):
//  - "In highly-available (HA) clusters, the newest and oldest kube-apiserver instances must be within
//    one minor version" → one minor per upgrade, and no downgrade;
//  - "kubelet must not be newer than kube-apiserver" → every master before any worker.
// `kubectl drain` flags: kubernetes/kubectl pkg/cmd/drain/drain.go (and the kubectl reference page
// "kubectl drain"): --ignore-daemonsets ("Ignore DaemonSet-managed pods"), --delete-emptydir-data
// ("Continue even if there are pods using emptyDir"), --timeout ("The length of time to wait before
// giving up, zero means infinite"), --force (pods without a controller; deliberately not passed).
import { describe, expect, it } from 'vitest';
import { checkKubernetesUpgrade, kubeletSkewProblem, SKEW_POLICY } from '../../src/commands/upgrade.js';
import { DRAIN_FLAGS, kubeRollingOrder, nodeOpCommand, pendingHosts } from '../../src/commands/run-common.js';
import { defaultSpec } from '../../src/spec/index.js';
import type { EngineEvent } from '../../src/engine/events.js';

describe('Kubernetes upgrade rules (upstream version skew policy)', () => {
  it('cites the policy page', () => expect(SKEW_POLICY).toBe('https://kubernetes.io/releases/version-skew-policy/'));
  it('a patch, the next minor, or the same version (a resume) are fine', () => {
    expect(checkKubernetesUpgrade('1.36.2', '1.36.5')).toBeNull();
    expect(checkKubernetesUpgrade('1.36.2', '1.37.1')).toBeNull();
    expect(checkKubernetesUpgrade('1.35.0', '1.36.0')).toBeNull();
    expect(checkKubernetesUpgrade('1.37.1', '1.37.1')).toBeNull();
  });
  it('two minors at once are refused, naming the step to take first', () => {
    expect(checkKubernetesUpgrade('1.35.3', '1.37.1')).toBe(
      '--kubernetes 1.37.1: Kubernetes upgrades one minor at a time (the newest and oldest kube-apiserver must be within one minor: https://kubernetes.io/releases/version-skew-policy/); upgrade 1.35.3 → 1.36.x first',
    );
  });
  it('a downgrade is refused, a patch downgrade too', () => {
    expect(checkKubernetesUpgrade('1.37.1', '1.36.4')).toMatch(/^--kubernetes 1\.36\.4: Kubernetes 1\.37\.1 cannot be downgraded .*restore a backup taken on 1\.36\.4 instead$/);
    expect(checkKubernetesUpgrade('1.37.2', '1.37.1')).toMatch(/cannot be downgraded/);
  });
  it('only the minors of src/spec/versions.ts, and only versions', () => {
    expect(checkKubernetesUpgrade('1.37.1', '1.38.0')).toBe('--kubernetes 1.38.0: kcore-wizard supports Kubernetes 1.35, 1.36, 1.37; 1.38 is not among them');
    expect(checkKubernetesUpgrade('1.37.1', '2.0.0')).toMatch(/not among them/);
    expect(checkKubernetesUpgrade('1.37.1', 'v1.37.2')).toBe('--kubernetes v1.37.2: not a version (want MAJOR.MINOR.PATCH, e.g. 1.37.1)');
  });
  it('kubelet never newer than kube-apiserver: workers only once no master outside the run has the upgrade to do', () => {
    const spec = defaultSpec();
    spec.groups['kube-master'].count = 2;
    const pending = new Set(['kube-master-02', 'kube-worker-01']);
    expect(kubeletSkewProblem(spec, ['kube-worker-01'], pending, '1.37.2')).toBe(
      '--limit: kube-worker-01 would run a kubelet 1.37.2 while kube-master-02 still runs the older kube-apiserver; a kubelet must not be newer than kube-apiserver (https://kubernetes.io/releases/version-skew-policy/): upgrade the masters first (--limit kube-master, or no --limit)',
    );
    // The master in the run comes first: fine. Masters done: fine. Only masters: fine.
    expect(kubeletSkewProblem(spec, ['kube-master-02', 'kube-worker-01'], pending, '1.37.2')).toBeNull();
    expect(kubeletSkewProblem(spec, ['kube-worker-01'], new Set(['kube-worker-01']), '1.37.2')).toBeNull();
    expect(kubeletSkewProblem(spec, ['kube-master-01'], pending, '1.37.2')).toBeNull();
    // A worker with nothing to do does not count.
    expect(kubeletSkewProblem(spec, ['kube-worker-02'], pending, '1.37.2')).toBeNull();
  });
});

describe('rolling order', () => {
  const spec = defaultSpec();
  spec.groups['kube-master'].count = 2;
  spec.groups['kube-worker'].count = 3;
  it('every master, one at a time, before any worker; etcd members are not Kubernetes nodes', () => {
    expect(kubeRollingOrder(spec).map((h) => h.name)).toEqual(['kube-master-01', 'kube-master-02', 'kube-worker-01', 'kube-worker-02', 'kube-worker-03']);
  });
  it('--limit narrows it, by name or group, keeping masters first', () => {
    expect(kubeRollingOrder(spec, ['kube-worker-02', 'kube-master-02']).map((h) => h.name)).toEqual(['kube-master-02', 'kube-worker-02']);
    expect(kubeRollingOrder(spec, ['kube-worker']).map((h) => h.name)).toEqual(['kube-worker-01', 'kube-worker-02', 'kube-worker-03']);
    expect(kubeRollingOrder(spec, ['etcd-01'])).toEqual([]);
  });
  it('a host is pending when its dry run plans a change or would fail', () => {
    const end = (host: string, status: string, wouldFail?: boolean) => ({ type: 'task-end', at: 0, host, role: 'r', task: 't', status, changes: [], durationMs: 0, wouldFail }) as unknown as EngineEvent;
    expect([...pendingHosts([end('a', 'ok'), end('b', 'changed'), end('c', 'failed', true), end('d', 'failed'), end('e', 'skipped')])].sort()).toEqual(['b', 'c']);
  });
});

describe('node operations: admin kubeconfig, the master that answers, upstream kubectl flags', () => {
  const server = 'https://10.0.0.112:6443';
  it('drain evicts with the DaemonSet and emptyDir flags and a bounded timeout, never --force', () => {
    expect(DRAIN_FLAGS).toEqual(['--ignore-daemonsets', '--delete-emptydir-data', '--timeout=300s']);
    expect(nodeOpCommand('drain', 'kube-worker-01', server)).toBe(
      '/opt/bin/kubectl --kubeconfig=/etc/kubernetes/admin.kubeconfig --server=https://10.0.0.112:6443 --request-timeout=30s drain kube-worker-01 --ignore-daemonsets --delete-emptydir-data --timeout=300s',
    );
    expect(nodeOpCommand('drain', 'kube-worker-01', server)).not.toContain('--force');
  });
  it('cordon, uncordon, get and delete use the admin kubeconfig against the chosen server', () => {
    for (const op of ['cordon', 'uncordon', 'get', 'delete'] as const) {
      const c = nodeOpCommand(op, 'kube-worker-02', server);
      expect(c.startsWith('/opt/bin/kubectl --kubeconfig=/etc/kubernetes/admin.kubeconfig --server=https://10.0.0.112:6443 ')).toBe(true);
    }
    expect(nodeOpCommand('cordon', 'kube-worker-02', server)).toMatch(/ cordon kube-worker-02$/);
    expect(nodeOpCommand('uncordon', 'kube-worker-02', server)).toMatch(/ uncordon kube-worker-02$/);
    expect(nodeOpCommand('delete', 'kube-worker-02', server)).toMatch(/ delete node kube-worker-02 --ignore-not-found$/);
    expect(nodeOpCommand('get', 'kube-worker-02', server)).toMatch(/ get node kube-worker-02 -o json --ignore-not-found$/);
  });
});
