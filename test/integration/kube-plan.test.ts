// `plan` for a 1 etcd / 1 master / 2 worker cluster on real light hosts (sshd, no systemd: a dry run only
// reads) with a local artifact mirror that has etcd but no Kubernetes binaries: the plan lists, per host,
// every file, unit and artifact the Kubernetes roles would install, says which artifact files are missing
// (file name, where they were looked for, official URL) as "would fail here" at the task that needs them,
// plans every later role anyway (the add-ons on a master that would block), and changes nothing anywhere.
import { readCgroupInfo } from '../../src/vagrant/preflight.js';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { buildLocalEtcdMirror, type Mirror } from '../support/mirror.js';
import { runConverge } from '../../src/converge/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { Role } from '../../src/engine/task.js';
import { bootstrapRole } from '../../src/roles/bootstrap/index.js';
import { pkiRole } from '../../src/roles/pki/index.js';
import { kubeMasterRole } from '../../src/roles/kube-master/index.js';
import { kubeWorkerRole } from '../../src/roles/kube-worker/index.js';
import { kubectlRole } from '../../src/roles/kubectl/index.js';
import { addonsRole } from '../../src/roles/addons/index.js';
import type { ClusterSpec } from '../../src/spec/index.js';

const LAYOUT = { etcd: 1, 'kube-master': 1, 'kube-worker': 2 };
// Light hosts have no systemd: bootstrap's facts only (its own smoke test would rightly fail).
const facts: Role = { ...bootstrapRole, tasks: [bootstrapRole.tasks[0]!] };
const ROLES = [facts, pkiRole, kubeMasterRole, kubeWorkerRole, kubectlRole, addonsRole];

let hosts: TestHosts;
let mirror: Mirror;
let spec: ClusterSpec;
let ws: string;
type End = Extract<EngineEvent, { type: 'task-end' }>;
let ends: End[];
let summary: Awaited<ReturnType<typeof runConverge>>;
const perHost = new Map<string, string[]>();

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  mirror = await buildLocalEtcdMirror();
  const plan = layoutHosts(LAYOUT);
  hosts = await startSshHosts({ count: plan.length, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet) });
  // The test hosts share this machine's kernel: on a cgroup v1 or hybrid machine (ours) the kubelet of
  // the supported minors refuses to start unless the spec opts in, as a user on such a machine would.
  const cgroupV1 = (await readCgroupInfo()).layout !== 2;
  spec = specForHosts(hosts, LAYOUT, (s) => {
    s.kubelet.allowCgroupV1 = cgroupV1;
    s.versions.etcd = mirror.etcdVersion;
    s.artifacts.source = mirror.dir;
  });
  ws = await workspaceFor(spec);
  const events: EngineEvent[] = [];
  const t0 = Date.now();
  // As `kcore-wizard plan` runs: smoke tests check a live cluster, so a dry run skips them.
  summary = await runConverge({ workspace: ws, spec, roles: ROLES, dryRun: true, skipTags: ['test'], signal: new AbortController().signal, emit: (e) => events.push(e) });
  console.log(`dry run of the Kubernetes roles on 4 light hosts: ${Date.now() - t0} ms`);
  ends = events.filter((e): e is End => e.type === 'task-end');
  // As `kcore-wizard plan` lists them: what would change, and what a blocked task would do once unblocked.
  for (const e of ends) if (e.status === 'changed' || e.wouldFail) perHost.set(e.host, [...(perHost.get(e.host) ?? []), ...e.changes]);
  // What `kcore-wizard plan` prints, for the record.
  for (const [h, c] of perHost) console.log(`${h}: ${c.length} changes\n  - ${c.join('\n  - ')}`);
  for (const e of ends.filter((x) => x.status === 'failed')) console.log(`${e.host} ${e.task}: FAILED\n${e.message}`);
}, 600_000);

afterAll(async () => {
  await hosts?.teardown();
});

const plan = (host: string) => perHost.get(host) ?? [];
const has = (host: string, re: RegExp) => expect(plan(host).some((c) => re.test(c)), `${host} plan has ${re}:\n${plan(host).join('\n')}`).toBe(true);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('plan (dry run) of the Kubernetes roles on real light hosts', () => {
  it('master: every certificate, kubeconfig, unit and server binary, with the missing artifact named', () => {
    const m = 'kube-master-01';
    for (const f of ['ca.crt', 'ca.key', 'apiserver.crt', 'apiserver.key', 'apiserver-kubelet-client.crt', 'apiserver-kubelet-client.key', 'etcd-ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key', 'sa.key', 'sa.pub'])
      has(m, new RegExp(`^create /etc/kubernetes/pki/${esc(f)} \\(mode 06[04][04], root:root\\)$`));
    has(m, /^create \/etc\/kubernetes\/pki\/apiserver\.key \(mode 0600, root:root\)$/);
    for (const f of ['controller-manager', 'scheduler', 'admin', 'kubelet', 'kube-proxy', 'flannel']) has(m, new RegExp(`^create /etc/kubernetes/${f}\\.kubeconfig \\(mode 0600, root:root\\)$`));
    for (const u of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'flanneld', 'containerd']) has(m, new RegExp(`^create /etc/systemd/system/${u}\\.service \\(mode 0644, root:root\\)$`));
    const file = 'kubernetes-server-linux-amd64.tar.gz';
    has(m, new RegExp(`^install /opt/bin/kube-apiserver, /opt/bin/kube-controller-manager, /opt/bin/kube-scheduler, /opt/bin/kubectl from ${esc(file)} \\(kubernetes-server 1\\.37\\.1\\): ARTIFACT MISSING — ${esc(file)} is not listed in ${esc(path.join(mirror.dir, 'SHA256SUMS'))}`));
    has(m, /^enable kube-apiserver \(is unknown\)$/);
    has(m, /^wait up to 180 s for the API server \(now: https:\/\/[\d.]+:6443\/readyz: \/opt\/bin\/kubectl is not installed\)$/);
    // flanneld's RBAC comes from the first master, before any node waits for Ready.
    has(m, /^apply flannel-rbac \(2 objects; the cluster cannot be read yet: /);
  });

  it('workers: node certificates, kubeconfigs, configs, units and every node artifact', () => {
    for (const w of ['kube-worker-01', 'kube-worker-02']) {
      for (const f of ['/etc/kubernetes/pki/ca.crt', '/etc/kubernetes/pki/kubelet.crt', '/etc/kubernetes/pki/kubelet.key', '/etc/kubernetes/kubelet.kubeconfig', '/etc/kubernetes/kube-proxy.kubeconfig', '/etc/kubernetes/flannel.kubeconfig', '/etc/kubernetes/kubelet-config.yaml', '/etc/kubernetes/kube-proxy-config.yaml', '/etc/containerd/config.toml', '/etc/cni/net.d/10-flannel.conflist', '/etc/kube-flannel/net-conf.json', '/etc/sysctl.d/90-kcore-kubernetes.conf', '/etc/modules-load.d/kcore-kubernetes.conf', '/etc/systemd/system/kubelet.service', '/etc/systemd/system/kube-proxy.service', '/etc/systemd/system/flanneld.service', '/etc/systemd/system/containerd.service'])
        has(w, new RegExp(`^create ${esc(f)} \\(mode 0[67][04][04], root:root\\)$`));
      for (const [bins, file] of <Array<[string, string]>>[
        ['/opt/bin/kubelet, /opt/bin/kube-proxy, /opt/bin/kubectl', 'kubernetes-node-linux-amd64.tar.gz'],
        ['/opt/cni/bin/bridge, /opt/cni/bin/host-local, /opt/cni/bin/loopback, /opt/cni/bin/portmap', 'cni-plugins-linux-amd64-v1.9.1.tgz'],
        ['/opt/cni/bin/flannel', 'cni-plugin-flannel-linux-amd64-v1.9.1-flannel3.tgz'],
        ['/opt/bin/flanneld', 'flannel-v0.28.9-linux-amd64.tar.gz'],
        ['/opt/bin/containerd, /opt/bin/containerd-shim-runc-v2, /opt/bin/ctr', 'containerd-2.1.4-linux-amd64.tar.gz'],
      ])
        has(w, new RegExp(`^install ${esc(bins)} from ${esc(file)} \\(.*\\): ARTIFACT MISSING — `));
      expect(plan(w).some((c) => /kubernetes-server/.test(c))).toBe(false); // workers take the smaller node tarball
    }
  });

  it('each task that needs a missing file would fail there, naming the file, where it was looked for and its official URL; the nodes fail at the end', async () => {
    expect(summary.status).toBe('failed');
    expect(summary.failedHosts.sort()).toEqual(['kube-master-01', 'kube-worker-01', 'kube-worker-02']);
    const blocked = (host: string) => ends.filter((e) => e.host === host && e.status === 'failed');
    // Every failure of a dry run here is a blocked task ("would fail here"), none stopped the plan.
    for (const h of ['kube-master-01', 'kube-worker-01', 'kube-worker-02']) expect(blocked(h).every((e) => e.wouldFail === true), h).toBe(true);
    const w = blocked('kube-worker-01').find((e) => e.task === 'Kubernetes node binaries')!;
    expect(w.message).toBe(
      `kubernetes-node 1.37.1 is not available: kubernetes-node-linux-amd64.tar.gz is not listed in ${path.join(mirror.dir, 'SHA256SUMS')}: add its sha256sum line\n  → file kubernetes-node-linux-amd64.tar.gz, looked for at ${path.join(mirror.dir, 'kubernetes-node-linux-amd64.tar.gz')}; official download https://dl.k8s.io/v1.37.1/kubernetes-node-linux-amd64.tar.gz. Put it in the artifact source with its sha256sum line in SHA256SUMS, or use --artifacts official on a machine with internet access`,
    );
    expect(blocked('kube-worker-01').find((e) => e.task === 'flannel CNI plugin')!.message).toContain('official download https://github.com/flannel-io/cni-plugin/releases/download/v1.9.1-flannel3/cni-plugin-flannel-linux-amd64-v1.9.1-flannel3.tgz');
    for (const e of blocked('kube-worker-01')) expect(e.message).not.toMatch(/\n\s+at /); // no stack trace
    const m = blocked('kube-master-01').find((e) => e.task === 'Kubernetes server binaries')!;
    expect(m.message).toContain('official download https://dl.k8s.io/v1.37.1/kubernetes-server-linux-amd64.tar.gz');
    // The plan goes on past them: the whole kube-worker role, to its last task.
    expect(ends.filter((e) => e.host === 'kube-worker-01' && e.role === 'kube-worker').map((e) => e.task).at(-1)).toBe('node registered and Ready');
    // The synthetic end-of-plan check is gone: each blocker is reported where it is.
    expect(ends.some((e) => e.task === 'release artifacts and prerequisites available')).toBe(false);
    has('kube-worker-01', /^start kubelet \(is unknown\)$/);
    // A node reads only itself (`get node <name>`): the Node authorizer forbids it to list the Nodes.
    has('kube-worker-01', /^wait up to 300 s for the node to be Ready \(now: kubectl get node kube-worker-01 failed on kube-worker-01: .*\)$/);
    // Light hosts carry this machine's /usr: which tools they lack depends on it.
    const lacks = (await hosts.exec('kube-worker-01', 'for c in iptables runc; do command -v $c >/dev/null || printf "%s " $c; done')).stdout.trim().split(' ').filter(Boolean);
    // Either way the plan must say exactly that: the missing tools named, or no blocked prerequisites at all.
    const prereq = ends.find((e) => e.host === 'kube-worker-01' && e.task === 'node prerequisites')!;
    if (lacks.length) expect(prereq).toMatchObject({ status: 'failed', wouldFail: true, message: expect.stringMatching(new RegExp(`^kube-worker-01 lacks ${esc(lacks.join(', '))}: `)) });
    else expect(prereq.status).toBe('ok');
  });

  it('a master that would block still gets every later role planned: the add-ons (CoreDNS) and the admin kubeconfig', () => {
    const m = 'kube-master-01';
    expect(ends.some((e) => e.host === m && e.wouldFail)).toBe(true);
    const addons = ends.filter((e) => e.host === m && e.role === 'addons');
    expect(addons.map((e) => e.task)).toEqual(['add-on manifest directory', 'add-on manifests (for reference and kubectl apply by hand)', 'a master whose API server answers /readyz', 'API server answers /readyz', 'every node registered and Ready', 'node role labels', 'CoreDNS applied', 'dashboard applied']);
    has(m, /^create \/etc\/kubernetes\/addons\/coredns\.yaml \(mode 0644, root:root\)$/);
    has(m, /^apply coredns \(\d+ objects; the cluster cannot be read yet: kubectl get for CoreDNS failed on kube-master-01: /);
    has(m, /^wait up to 300 s for every node to be Ready \(now: /);
    has(m, /^label the masters node-role\.kubernetes\.io\/control-plane and the workers /);
    expect(ends.find((e) => e.role === 'kubectl')).toMatchObject({ host: 'local', status: 'changed' });
  });

  it('the control machine: certificates to issue and the admin kubeconfig to write', () => {
    has('local', /^issue ca \(/);
    has('local', /^issue kubelet\/kube-worker-02 \(/);
    has('local', new RegExp(`^create ${esc(path.join(ws, 'kubeconfig'))} \\(mode 0600, admin credentials of the cluster\\)$`));
  });

  it('changes nothing: no files on the hosts, no PKI or kubeconfig in the workspace', async () => {
    for (const h of ['kube-master-01', 'kube-worker-01']) {
      const r = await hosts.exec(h, 'for p in /etc/kubernetes /opt/bin/kubelet /etc/systemd/system/kubelet.service /etc/containerd/config.toml; do [ -e $p ] && echo "exists $p"; done; true');
      expect(r.stdout).toBe('');
    }
    await expect(access(path.join(ws, 'pki', 'ca.crt'))).rejects.toThrow();
    await expect(access(path.join(ws, 'kubeconfig'))).rejects.toThrow();
  });
});
