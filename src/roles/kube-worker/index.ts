/**
 * kube-worker: every Kubernetes node (masters too — they register, tainted control-plane:NoSchedule).
 * containerd for the CRI with SystemdCgroup (Flatcar: its own containerd with our config, which keeps
 * Flatcar's SELinux and OOM settings, through a drop-in; hosts without containerd: the release tarball
 * and our unit), kubelet and kube-proxy from the
 * Kubernetes release, each with its own certificate and kubeconfig, flanneld (vxlan, kube subnet
 * manager, its own certificate and kubeconfig) with the flannel CNI plugin and the standard CNI plugins in
 * /opt/cni/bin. A component restarts only when its own configuration changed. The node must then be
 * registered and Ready (bounded wait).
 * Smoke tests (tag `test`): services running; node Ready as its own kubelet sees it; flannel leased a
 * subnet inside the pod network.
 */
import type { Facts } from '../../engine/facts.js';
import { directoryTask, filesTask, serviceTask, type FileSpec } from '../../engine/ops.js';
import { blocked, smokeTest, task, TaskFailure, type Role, type TaskContext } from '../../engine/task.js';
import { cidrContains, parseCidr } from '../../spec/ip.js';
import { FLANNEL_USER } from '../../pki/catalog.js';
import type { RoleServices } from '../index.js';
import { apiLbSmokeTest, apiLbTask } from './apiserver-lb.js';
import {
  binariesTask,
  BIN_DIR,
  buildKubeconfig,
  clusterName,
  CNI_BIN,
  CNI_CONF,
  cniBinaries,
  cniConflist,
  CONTAINERD_CONFIG,
  containerdBinaries,
  containerdConfig,
  containerdDropIn,
  containerdUnit,
  DAEMON_RELOAD,
  FLANNEL_DIR,
  FLANNEL_KUBECONFIG,
  FLANNEL_NET_CONF,
  FLANNEL_SUBNET_FILE,
  flannelCniBinary,
  flanneldBinary,
  flannelNetConf,
  flannelUnit,
  getNode,
  K8S_DIR,
  K8S_PKI,
  KUBE_PROXY_KUBECONFIG,
  KUBELET_KUBECONFIG,
  kubeletConfig,
  kubeletUnit,
  kubeProxyConfig,
  kubeProxyUnit,
  MANIFESTS_DIR,
  modulesLoadConf,
  nodeApiServerUrl,
  nodeBinaries,
  nodesProblem,
  NODES_READY_TIMEOUT_MS,
  RESTART,
  sysctlConf,
  SYSTEMD_DIR,
  waitNodesReady,
  readPki,
} from '../kube-common/index.js';
import { FLATCAR_CONTAINERD_CONFIG, FLATCAR_PINNED, flatcarCarried, flatcarContainerdSettings, type FlatcarContainerdSettings } from '../kube-common/flatcar-containerd.js';

const R = RESTART;
const APPLY_KERNEL = 'apply kernel settings';
export const SYSCTL_FILE = '/etc/sysctl.d/90-kcore-kubernetes.conf';
export const MODULES_FILE = '/etc/modules-load.d/kcore-kubernetes.conf';

/**
 * How containerd is provided: `install` (none on the host, or ours in /opt/bin: release tarball + our
 * unit), `flatcar` (Flatcar's own containerd and unit, pointed by a drop-in at our config, which carries
 * Flatcar's own settings: see kube-common/flatcar-containerd.ts), `system` (a distribution package that
 * already reads /etc/containerd/config.toml).
 */
export type ContainerdMode = 'install' | 'flatcar' | 'system';
export function containerdMode(f: Pick<Facts, 'containerRuntime' | 'os'>): ContainerdMode {
  const c = f.containerRuntime.containerd;
  if (!c || c.startsWith(`${BIN_DIR}/`)) return 'install';
  return f.os.family === 'flatcar' ? 'flatcar' : 'system';
}

/** The version in `containerd --version` ("containerd github.com/containerd/containerd v1.7.24 <rev>", Debian: "… 1.6.20~ds1 …"). */
export function containerdVersionOf(stdout: string): string | undefined {
  return /^containerd\s+\S+\s+v?(\d+\.\d+\.\d+)/m.exec(stdout)?.[1];
}

/**
 * The containerd that will run: ours (the spec's version) in `install` mode, else the host's own —
 * on Flatcar, Flatcar's, whatever the spec says (its version comes with the facts). Its version picks
 * the config format.
 */
export function runningContainerdVersion(ctx: TaskContext): { version: string; source: 'spec' | 'host' } {
  const f = ctx.facts();
  if (containerdMode(f) === 'install') return { version: ctx.run.spec.versions.containerd, source: 'spec' };
  return { version: containerdVersionOf(f.containerRuntime.containerdVersion ?? '') ?? ctx.run.spec.versions.containerd, source: 'host' };
}

const isMaster = (ctx: TaskContext) => ctx.host.group === 'kube-master';

/** Masters' node components use their own API server; workers the only master, or their local load balancer (apiserver-lb.ts). */
export const nodeServer = (ctx: TaskContext) => nodeApiServerUrl(ctx.run.spec, ctx.host);

async function certificates(ctx: TaskContext): Promise<FileSpec[]> {
  const p = ctx.run.pki;
  return [
    { path: `${K8S_PKI}/ca.crt`, content: await readPki(ctx, p.ca.cert), mode: 0o644, notify: R.kubelet, why: "The cluster CA's certificate: the kubelet accepts calls to its own API (logs, exec from the API server) only from clients this CA signed (authentication.x509.clientCAFile in kubelet-config.yaml)." },
    { path: `${K8S_PKI}/kubelet.crt`, content: await readPki(ctx, p.kubelet(ctx.host.name).cert), mode: 0o644, notify: R.kubelet, why: "This node's own certificate, CN=system:node:<name> in group system:nodes: the kubelet serves its API on :10250 with it and shows it to the API server, whose Node authorizer then lets it touch only this node's objects." },
    { path: `${K8S_PKI}/kubelet.key`, content: await readPki(ctx, p.kubelet(ctx.host.name).key), mode: 0o600, secret: true, notify: R.kubelet, why: "The private key of this node's kubelet certificate: whoever holds it can act as this node." },
  ];
}

export async function nodeKubeconfigs(ctx: TaskContext): Promise<FileSpec[]> {
  const p = ctx.run.pki;
  const ca = await readPki(ctx, p.ca.cert);
  const cluster = clusterName(ctx.run.spec);
  const server = nodeServer(ctx);
  const kubelet = p.kubelet(ctx.host.name);
  return [
    {
      path: KUBELET_KUBECONFIG,
      content: buildKubeconfig({ cluster, server, ca, user: `system:node:${ctx.host.name}`, cert: await readPki(ctx, kubelet.cert), key: await readPki(ctx, kubelet.key) }),
      mode: 0o600,
      secret: true,
      notify: R.kubelet,
      why: "Where the kubelet finds the API server and who it is there: the server (a master's :6443, or this node's local load balancer 127.0.0.1:6444 with more than one master), the cluster CA, and the node's own certificate and key embedded. The same file is what the node's smoke tests read the Node with.",
    },
    {
      // flanneld's own identity: it lists and watches every Node, which a node's credentials may not.
      path: FLANNEL_KUBECONFIG,
      content: buildKubeconfig({ cluster, server, ca, user: FLANNEL_USER, cert: await readPki(ctx, p.flannel.cert), key: await readPki(ctx, p.flannel.key) }),
      mode: 0o600,
      secret: true,
      notify: R.flanneld,
      why: "flanneld's own kubeconfig: the same server as the kubelet's, but its own user, bound to the flannel ClusterRole. It must list and watch every Node (their pod ranges), which a node's own credentials may not.",
    },
    {
      path: KUBE_PROXY_KUBECONFIG,
      content: buildKubeconfig({ cluster, server, ca, user: 'system:kube-proxy', cert: await readPki(ctx, p.kubeProxy.cert), key: await readPki(ctx, p.kubeProxy.key) }),
      mode: 0o600,
      secret: true,
      notify: R.kubeProxy,
      why: "kube-proxy's kubeconfig: the same server as the kubelet's, user system:kube-proxy (Kubernetes' built-in role node-proxier lets it watch Services and EndpointSlices).",
    },
  ];
}

/** systemd-resolved's upstream list when it runs (its stub 127.0.0.53 would loop inside pods). */
async function resolvConf(ctx: TaskContext): Promise<string> {
  const r = await ctx.conn.exec('if [ -s /run/systemd/resolve/resolv.conf ]; then echo /run/systemd/resolve/resolv.conf; else echo /etc/resolv.conf; fi', { signal: ctx.signal });
  return r.stdout.trim() || '/etc/resolv.conf';
}

/** The line the plan and the run print: which containerd runs on this host, and whose version that is. */
export function containerdRunsLine(ctx: TaskContext): string {
  const { version, source } = runningContainerdVersion(ctx);
  const f = ctx.facts();
  const mode = containerdMode(f);
  const spec = ctx.run.spec.versions.containerd;
  if (mode === 'install') return `containerd: ${version} (versions.containerd), installed by kcore-wizard in ${BIN_DIR}`;
  const whose = mode === 'flatcar' ? "Flatcar's own" : `the host's own (${f.containerRuntime.containerd ?? 'containerd'})`;
  const known = source === 'host' && containerdVersionOf(f.containerRuntime.containerdVersion ?? '') ? version : `${version}? (its version could not be read; config written for it)`;
  return `containerd: ${whose} ${known}; versions.containerd ${spec} applies only where kcore-wizard installs containerd`;
}

/**
 * On Flatcar: the settings of Flatcar's own config.toml that ours carries, read from the host
 * (Flatcar's pinned settings when its file is missing or unreadable; the output says which).
 */
export async function flatcarContainerd(ctx: TaskContext): Promise<FlatcarContainerdSettings> {
  const b = await ctx.conn.readFile(FLATCAR_CONTAINERD_CONFIG, { signal: ctx.signal });
  if (!b) {
    ctx.output(`${FLATCAR_CONTAINERD_CONFIG} is missing: carrying Flatcar's settings as its release ships them (${flatcarCarried(FLATCAR_PINNED).join(', ')})`, 'stderr');
    return FLATCAR_PINNED;
  }
  let s: FlatcarContainerdSettings;
  try {
    s = flatcarContainerdSettings(b.toString('utf8'));
  } catch (e) {
    ctx.output(`${(e as Error).message}: carrying Flatcar's settings as its release ships them (${flatcarCarried(FLATCAR_PINNED).join(', ')})`, 'stderr');
    return FLATCAR_PINNED;
  }
  ctx.output(`containerd config: Flatcar's ${flatcarCarried(s).join(', ')} carried from ${FLATCAR_CONTAINERD_CONFIG}`);
  if (s.notCarried.length) ctx.output(`Flatcar's ${FLATCAR_CONTAINERD_CONFIG} also sets what our config does not carry: ${s.notCarried.join('; ')}`, 'stderr');
  return s;
}

export async function nodeConfigFiles(ctx: TaskContext): Promise<FileSpec[]> {
  const { spec } = ctx.run;
  const containerd = runningContainerdVersion(ctx);
  ctx.output(containerdRunsLine(ctx), 'stdout');
  const flatcar = containerdMode(ctx.facts()) === 'flatcar' ? await flatcarContainerd(ctx) : undefined;
  return [
    { path: `${K8S_DIR}/kubelet-config.yaml`, content: kubeletConfig(spec, ctx.host, { resolvConf: await resolvConf(ctx) }), mode: 0o644, notify: R.kubelet, why: "The kubelet's settings (KubeletConfiguration): the systemd cgroup driver (as containerd's), the cluster DNS address and domain handed to every pod, containerd's socket, its own certificate, how many pods fit this node's range, a taint for masters, and /etc/kubernetes/manifests as the folder of static pods. A file rather than flags, as upstream recommends." },
    { path: `${K8S_DIR}/kube-proxy-config.yaml`, content: kubeProxyConfig(spec, ctx.host), mode: 0o644, notify: R.kubeProxy, why: "kube-proxy's settings: iptables mode, the pod network (clusterCIDR, to tell pod traffic from outside traffic) and its kubeconfig. kube-proxy turns every Service into iptables rules that send its address to one of its pods." },
    { path: CONTAINERD_CONFIG, content: containerdConfig(spec, containerd.version, flatcar), mode: 0o644, notify: R.containerd, why: "containerd's configuration for Kubernetes: the runc runtime with SystemdCgroup = true (the kubelet uses the systemd cgroup driver, and both must agree), the CNI folders and the pause image. On Flatcar it also carries Flatcar's own settings (SELinux, OOM score), since this file replaces Flatcar's." },
    { path: `${CNI_CONF}/10-flannel.conflist`, content: cniConflist(), mode: 0o644, why: "The CNI network configuration containerd hands every new pod to: the flannel plugin (which delegates to the bridge plugin with this node's range) and portmap. A node is not Ready until a CNI configuration is here." },
    { path: FLANNEL_NET_CONF, content: flannelNetConf(spec), mode: 0o644, notify: R.flanneld, why: "flanneld's network: the whole pod network of the spec, the size of each node's share of it (SubnetLen) and the vxlan backend. With --kube-subnet-mgr flanneld takes each node's range from the Node object the controller manager filled." },
    { path: SYSCTL_FILE, content: sysctlConf(spec), mode: 0o644, notify: APPLY_KERNEL, why: 'Kernel settings every node needs, kept across reboots: IP forwarding (pods send traffic through the node) and bridge traffic through iptables (so Service rules see traffic between pods on the same bridge).' },
    { path: MODULES_FILE, content: modulesLoadConf(spec), mode: 0o644, notify: APPLY_KERNEL, why: 'Kernel modules loaded at every boot: overlay (containerd\'s image layers) and br_netfilter (without it the bridge sysctl above does not exist).' },
  ];
}

export function nodeUnits(ctx: TaskContext): FileSpec[] {
  const { spec } = ctx.run;
  const f = ctx.facts();
  const units: FileSpec[] = [
    { path: `${SYSTEMD_DIR}/kubelet.service`, content: kubeletUnit(spec, ctx.host), mode: 0o644, notify: [R.kubelet, DAEMON_RELOAD], why: "The kubelet's systemd unit: it starts after containerd, reads kubelet-config.yaml and its kubeconfig, and registers the node with its private address (--node-ip), never the NAT one. systemd restarts it when it dies." },
    { path: `${SYSTEMD_DIR}/kube-proxy.service`, content: kubeProxyUnit(spec, ctx.host), mode: 0o644, notify: [R.kubeProxy, DAEMON_RELOAD], why: "kube-proxy's systemd unit: it runs kube-proxy with kube-proxy-config.yaml." },
    { path: `${SYSTEMD_DIR}/flanneld.service`, content: flannelUnit(spec, ctx.host, { iface: f.privateInterface }), mode: 0o644, notify: [R.flanneld, DAEMON_RELOAD], why: "flanneld's systemd unit: it takes the node's pod range from the Kubernetes API (--kube-subnet-mgr), sends pod traffic to other nodes over the private interface (--iface) and masquerades traffic leaving the pod network. It writes /run/flannel/subnet.env, which the CNI plugin reads." },
  ];
  const mode = containerdMode(f);
  if (mode === 'install') units.push({ path: `${SYSTEMD_DIR}/containerd.service`, content: containerdUnit(spec), mode: 0o644, notify: [R.containerd, DAEMON_RELOAD], why: 'containerd\'s systemd unit, for the containerd kcore-wizard installs in /opt/bin (machines without one of their own): it runs containerd with /etc/containerd/config.toml.' });
  if (mode === 'flatcar') units.push({ path: `${SYSTEMD_DIR}/containerd.service.d/10-kcore.conf`, content: containerdDropIn(), mode: 0o644, notify: [R.containerd, DAEMON_RELOAD], why: "A drop-in for Flatcar's own containerd unit: it points CONTAINERD_CONFIG at /etc/containerd/config.toml, the documented way to give Flatcar's containerd another configuration (its own file has no imports)." });
  return units;
}

/** Live kernel state a node needs (read from /proc: works whatever the sysctl file says). */
export const KERNEL_CHECK = 'echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)"; echo "bridge_nf=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo unloaded)"';

export function kernelPlan(stdout: string): string[] {
  const v = new Map(stdout.split('\n').map((l) => l.split('=') as [string, string]));
  const out: string[] = [];
  if (v.get('bridge_nf')?.trim() === 'unloaded') out.push('load kernel modules overlay, br_netfilter');
  if (v.get('ip_forward')?.trim() !== '1') out.push('set net.ipv4.ip_forward = 1');
  if (v.get('bridge_nf')?.trim() !== '1') out.push('set net.bridge.bridge-nf-call-iptables = 1');
  return out;
}

/** Masters are nodes too: the node's services run on both groups. */
export const kubeWorkerServices: RoleServices = { role: 'kube-worker', groups: ['kube-master', 'kube-worker'], units: ['containerd', 'kubelet', 'kube-proxy', 'flanneld'] };

export const kubeWorkerRole: Role = {
  name: 'kube-worker',
  why: 'Makes a machine a Kubernetes node: containerd to run containers, the kubelet to start the pods the scheduler assigns and report on them, kube-proxy to route Service addresses, and flanneld with the CNI plugins to give every pod an address reachable from every other node. It runs on the masters too: they register as nodes, tainted so that ordinary pods stay off them. The role ends when the node is registered and Ready.',
  docs: 'https://kubernetes.io/docs/concepts/overview/components/',
  concepts: [
    {
      name: 'kubelet',
      text: 'The agent on every node. It registers the Node object, watches the API server for pods assigned to it, asks containerd (over CRI) to pull images and start containers, and reports status. It also runs static pods: manifests in /etc/kubernetes/manifests it starts by itself, with no API server needed.',
      docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/',
    },
    {
      name: 'kube-proxy',
      text: 'A Service has one stable virtual address; its pods come and go. kube-proxy watches Services and their endpoints and writes iptables rules on every node that send traffic for the Service address (and NodePorts) to one of its ready pods.',
      docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/',
    },
    {
      name: 'flannel and CNI',
      text: 'Kubernetes requires every pod to reach every other pod by its own address, without NAT. The controller manager gives each node a range of the pod network; flanneld on each node learns every range from the API and carries traffic between nodes in VXLAN (UDP 8472) over the private network. For each new pod, containerd calls the CNI plugins (flannel, then bridge and host-local) to plug it in and give it an address.',
      docs: 'https://kubernetes.io/docs/concepts/cluster-administration/networking/',
    },
    {
      name: 'the local API load balancer (more than one master)',
      text: 'With one master, every node talks to it directly. With more, a worker that named only the first master would go NotReady when that one stops. So each worker runs haproxy as a static pod on 127.0.0.1:6444 in front of every master\'s :6443, with health checks, and its kubelet, kube-proxy and flanneld use that address; the API server certificate names 127.0.0.1, so TLS still checks out. `explain <worker> --files` shows each kubeconfig\'s server.',
      docs: 'https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/',
    },
    {
      name: 'Node authorizer',
      text: "Each kubelet authenticates as system:node:<name> in group system:nodes, and the API server's Node authorizer (with the NodeRestriction admission plugin) lets it read and change only what belongs to its own node. A stolen node key therefore does not open the whole cluster.",
      docs: 'https://kubernetes.io/docs/reference/access-authn-authz/node/',
    },
  ],
  hosts: (run) => [...run.hostsOf('kube-master'), ...run.hostsOf('kube-worker')],
  tasks: [
    { ...directoryTask('node directories', [
      { path: BIN_DIR, mode: 0o755 },
      { path: K8S_DIR, mode: 0o755 },
      { path: K8S_PKI, mode: 0o700 },
      { path: MANIFESTS_DIR, mode: 0o755 },
      { path: '/opt/cni', mode: 0o755 },
      { path: CNI_BIN, mode: 0o755 },
      { path: '/etc/cni', mode: 0o755 },
      { path: CNI_CONF, mode: 0o755 },
      { path: '/etc/containerd', mode: 0o755 },
      { path: FLANNEL_DIR, mode: 0o755 },
      { path: '/var/lib/kubelet', mode: 0o700 },
      { path: `${SYSTEMD_DIR}/containerd.service.d`, mode: 0o755 },
    ]), why: 'The folders a node needs: binaries in /opt/bin and /opt/cni/bin, configuration in /etc/kubernetes (certificates 0700, static pod manifests), CNI and containerd configuration, and the kubelet\'s state in /var/lib/kubelet (0700).' },
    { ...filesTask('node certificates', certificates), why: "Copies the node's own kubelet certificate and key and the cluster CA's certificate from the workspace PKI. Every node has its own certificate, so each can be told apart and limited to its own objects." },
    apiLbTask,
    { ...filesTask('node kubeconfigs', nodeKubeconfigs), why: 'Writes the kubeconfigs of the kubelet, kube-proxy and flanneld: each names the API server the node uses and embeds its own credentials. With more than one master their server is the local load balancer on 127.0.0.1:6444, never a single master.', docs: 'https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/' },
    { ...filesTask('node configuration (kubelet, kube-proxy, containerd, CNI, flannel, kernel)', nodeConfigFiles), why: "Writes the node components' configuration, rendered from the spec: the kubelet's and kube-proxy's configuration files, containerd's config.toml, the CNI network, flannel's network and the kernel settings a node needs. Each change restarts only the component that reads it." },
    { ...filesTask('node units', nodeUnits), why: "Writes the systemd units of kubelet, kube-proxy and flanneld, and containerd's unit (when kcore-wizard installs containerd) or a drop-in for Flatcar's own containerd." },
    { ...binariesTask('Kubernetes node binaries', (ctx) =>
      nodeBinaries(ctx.run.spec, ctx.facts().arch, isMaster(ctx), [
        ['kubelet', R.kubelet],
        ['kube-proxy', R.kubeProxy],
        ['kubectl', undefined],
      ]),
    ), why: 'Installs kubelet, kube-proxy and kubectl of versions.kubernetes: workers from the node release, masters from the server release they already have, checked against the published SHA-256.' },
    { ...binariesTask('CNI plugins', (ctx) => cniBinaries(ctx.run.spec, ctx.facts().arch)), why: 'Installs the standard CNI plugins (bridge, host-local, loopback, portmap) of versions.cni into /opt/cni/bin, where containerd looks for them.' },
    { ...binariesTask('flannel CNI plugin', (ctx) => flannelCniBinary(ctx.facts().arch)), why: "Installs flannel's CNI plugin, which connects each pod to this node's flannel range by delegating to the bridge plugin." },
    { ...binariesTask('flanneld', (ctx) => flanneldBinary(ctx.run.spec, ctx.facts().arch, R.flanneld)), why: 'Installs the flannel daemon of versions.flannel, which carries pod traffic between the nodes.' },
    { ...binariesTask('containerd release binaries', (ctx) => (containerdMode(ctx.facts()) === 'install' ? containerdBinaries(ctx.run.spec, ctx.facts().arch, R.containerd) : null)), why: "Installs containerd of versions.containerd from its release, only on machines without a containerd of their own (Flatcar brings its own, and keeps it up to date with the OS)." },
    task({
      name: 'kernel modules and sysctl',
      why: 'Loads overlay and br_netfilter and applies the sysctl file now, so the node does not need a reboot. It checks the live kernel state (from /proc), not the files, so a setting lost for any reason is put back.',
      async gather(ctx) {
        return (await ctx.conn.exec(KERNEL_CHECK, { signal: ctx.signal })).stdout;
      },
      plan: (_ctx, stdout) => kernelPlan(stdout),
      async apply(ctx) {
        await ctx.conn.run(`modprobe overlay && modprobe br_netfilter && sysctl -q -p ${SYSCTL_FILE}`, { sudo: true, signal: ctx.signal });
      },
      async verify(ctx) {
        const left = kernelPlan((await ctx.conn.exec(KERNEL_CHECK, { signal: ctx.signal })).stdout);
        if (left.length) throw new TaskFailure(`kernel settings did not take on ${ctx.host.name}: still need to ${left.join(', ')}`);
      },
    }),
    task({
      name: 'node prerequisites',
      why: 'kube-proxy and flannel program iptables, and containerd needs runc when kcore-wizard installs it: these come with the machine image, so a missing one stops the node here with the package to install rather than as a crash of the component.',
      async gather(ctx) {
        const needRunc = containerdMode(ctx.facts()) === 'install';
        const r = await ctx.conn.exec(
          `export PATH=${BIN_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; for c in iptables conntrack${needRunc ? ' runc' : ''}; do command -v $c >/dev/null || echo "missing $c"; done; true`,
          { signal: ctx.signal },
        );
        const missing = r.stdout.split('\n').filter((l) => l.startsWith('missing ')).map((l) => l.slice(8));
        if (missing.includes('conntrack')) ctx.output('conntrack is missing: kube-proxy cannot flush stale UDP conntrack entries (install conntrack)', 'stderr');
        const hard = missing.filter((m) => m !== 'conntrack');
        if (!hard.length) return [];
        const why = [hard.includes('runc') ? 'containerd needs runc to start containers' : '', hard.includes('iptables') ? 'kube-proxy and flannel program iptables' : ''].filter(Boolean).join('; ');
        throw blocked(
          `${ctx.host.name} lacks ${hard.join(', ')}: ${why}`,
          ctx.facts().os.family === 'debian' ? `sudo apt-get install -y ${hard.join(' ')} (or add them to the box)` : 'install them on the host image',
        );
      },
      // Nothing to change here: the tools come with the host image; a missing one blocks (above).
      plan: () => [],
    }),
    { ...serviceTask('containerd', { restartHandler: R.containerd }), why: 'containerd, the container runtime: the kubelet asks it (over CRI, on /run/containerd/containerd.sock) to pull images and run the containers of each pod. It starts first, and restarts only when its configuration or binary changed.', docs: 'https://kubernetes.io/docs/setup/production-environment/container-runtimes/' },
    { ...serviceTask('kubelet', { restartHandler: R.kubelet }), why: "The kubelet, the node's agent: it registers the node, runs the pods assigned to it (and static pods such as the API load balancer) and reports their status to the API server.", docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/' },
    { ...serviceTask('kube-proxy', { restartHandler: R.kubeProxy }), why: "kube-proxy: it keeps this node's iptables rules for every Service and NodePort in step with the pods behind them.", docs: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/' },
    { ...serviceTask('flanneld', { restartHandler: R.flanneld }), why: "flanneld: it learns every node's pod range from the API server and carries pod traffic between the nodes in VXLAN over the private network.", docs: 'https://github.com/flannel-io/flannel/blob/master/Documentation/configuration.md' },
    task({
      name: 'node registered and Ready',
      why: "The role is done only when the node is registered and Ready, as its own kubelet credentials see it: Ready means the kubelet runs, containerd answers and the pod network is configured. A bounded wait (300 s) turns a stuck node into a message that says what it last reported.",
      // One look; the bounded wait is the verify step (a dry run plans it).
      async gather(ctx) {
        try {
          return nodesProblem(await getNode(ctx, ctx.host.name, { kubeconfig: KUBELET_KUBECONFIG }), [ctx.host.name]);
        } catch (e) {
          if (e instanceof TaskFailure) return e.message;
          throw e;
        }
      },
      plan: (_ctx, problem) => (problem ? [`wait up to ${NODES_READY_TIMEOUT_MS / 1000} s for the node to be Ready (now: ${problem})`] : []),
      verify: (ctx) => waitNodesReady(ctx, [ctx.host.name], { self: { kubeconfig: KUBELET_KUBECONFIG } }),
    }),

    smokeTest('node: containerd, kubelet, kube-proxy and flanneld running', async (ctx) => {
      const units = ['containerd', 'kubelet', 'kube-proxy', 'flanneld'];
      const r = await ctx.conn.exec(`for u in ${units.join(' ')}; do echo "$u $(systemctl is-active $u 2>/dev/null)"; done`, { signal: ctx.signal });
      const down = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l && !l.endsWith(' active'));
      if (down.length) throw new TaskFailure(`not running on ${ctx.host.name}: ${down.join(', ')}`, `journalctl -u ${units.join(' -u ')}`);
    }, { why: "The four services a node cannot do without, as systemd sees them: a unit that crashed and is being restarted shows here before the node's Ready condition changes." }),
    smokeTest('node: Ready, as its own kubelet credentials see it', async (ctx) => {
      // `get node <itself>`: all a node's credentials may read (Node authorizer); no cluster-wide list.
      const nodes = await getNode(ctx, ctx.host.name, { kubeconfig: KUBELET_KUBECONFIG });
      const problem = nodesProblem(nodes, [ctx.host.name]);
      if (problem) throw new TaskFailure(problem, `journalctl -u kubelet on ${ctx.host.name}`);
      const me = nodes.find((n) => n.name === ctx.host.name)!;
      if (me.internalIP !== ctx.host.ip) throw new TaskFailure(`${ctx.host.name} registered with InternalIP ${me.internalIP ?? 'none'}, not its private address ${ctx.host.ip}`, 'check --node-ip in kubelet.service');
      const tainted = me.taints.some((t) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule');
      if (isMaster(ctx) !== tainted) throw new TaskFailure(`${ctx.host.name} is ${tainted ? '' : 'not '}tainted control-plane:NoSchedule`, 'masters register with the taint (registerWithTaints), workers without');
    }, { why: "Reads this node's own Node object with the kubelet's credentials (all the Node authorizer lets a node read): it must be Ready, registered with its private address, and tainted control-plane:NoSchedule exactly when it is a master.", docs: 'https://kubernetes.io/docs/reference/access-authn-authz/node/' }),
    apiLbSmokeTest,
    smokeTest('flannel: leased a subnet inside the pod network', async (ctx) => {
      const b = await ctx.conn.readFile(FLANNEL_SUBNET_FILE, { sudo: true, signal: ctx.signal });
      const m = b && /^FLANNEL_SUBNET=([\d.]+)\/\d+$/m.exec(b.toString());
      if (!m) throw new TaskFailure(`${FLANNEL_SUBNET_FILE} is missing or has no FLANNEL_SUBNET on ${ctx.host.name}`, `journalctl -u flanneld on ${ctx.host.name} (it needs the node's podCIDR from the controller manager)`);
      const pods = parseCidr(ctx.run.spec.network.podCidr)!;
      if (!cidrContains(pods, m[1]!)) throw new TaskFailure(`flannel on ${ctx.host.name} leased ${m[1]}, outside the pod network ${ctx.run.spec.network.podCidr}`);
    }, { why: "flanneld writes the node's pod range to /run/flannel/subnet.env once it has it from the API server; the CNI plugin reads it for every pod. This checks it is there and inside the spec's pod network." }),
  ],
};
