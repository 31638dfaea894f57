/**
 * Release binaries for the Kubernetes roles: picked out of verified, unpacked artifacts and installed
 * with their modes. A missing or corrupt artifact fails the task with its file name, where it was looked
 * for and the official URL: the task is blocked, so a dry run says "would fail here" with the install
 * it would do, plans on, and fails the host at the end.
 */
import path from 'node:path';
import { ArtifactError, ARTIFACTS, contentOf, readUnpacked, type ArtifactSpec, type ArtifactStore, type LazyFile } from '../../engine/artifacts.js';
import { fileDiff, parseStat, statScript, type FileSpec } from '../../engine/ops.js';
import { blocked, task, TaskFailure, type Blocked, type Task, type TaskContext } from '../../engine/task.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { BIN_DIR, CNI_BIN } from './paths.js';

/**
 * flannel's CNI plugin (`/opt/cni/bin/flannel`) lives in its own repository since CNI plugins 1.0; this is
 * the release flannel's own manifest pairs with the default flannel version (flannel-io/flannel v0.28.9
 * Documentation/kube-flannel.yml: flannel-cni-plugin:v1.9.1-flannel3). Not in the spec (yet): see
 * docs/kubernetes.md.
 */
export const FLANNEL_CNI_PLUGIN_VERSION = '1.9.1-flannel3';

export function flannelCniPluginArtifact(v: string, arch: string): ArtifactSpec {
  const file = `cni-plugin-flannel-linux-${arch}-v${v}.tgz`;
  const url = `https://github.com/flannel-io/cni-plugin/releases/download/v${v}/${file}`;
  return { id: 'flannel-cni-plugin', version: v, file, officialUrl: url, officialChecksum: { kind: 'single', url: `${url}.sha256` } };
}

export interface BinaryEntry {
  /** Path inside the unpacked artifact. */
  from: string;
  /** Where it goes on the host. */
  to: string;
  notify?: string | string[];
}

export interface BinarySet {
  artifact: ArtifactSpec;
  entries: BinaryEntry[];
}

const K8S_SERVER_BIN = 'kubernetes/server/bin';
const K8S_NODE_BIN = 'kubernetes/node/bin';

/** Binaries from the server tarball (masters). */
export function serverBinaries(spec: ClusterSpec, arch: string, names: Array<[string, string | string[] | undefined]>): BinarySet {
  return {
    artifact: ARTIFACTS.kubernetesServer(spec.versions.kubernetes, arch),
    entries: names.map(([n, notify]) => ({ from: `${K8S_SERVER_BIN}/${n}`, to: `${BIN_DIR}/${n}`, notify })),
  };
}

/** Node binaries: masters take them from the server tarball they already have, workers from the node tarball. */
export function nodeBinaries(spec: ClusterSpec, arch: string, isMaster: boolean, names: Array<[string, string | string[] | undefined]>): BinarySet {
  if (isMaster) return serverBinaries(spec, arch, names);
  return {
    artifact: ARTIFACTS.kubernetesNode(spec.versions.kubernetes, arch),
    entries: names.map(([n, notify]) => ({ from: `${K8S_NODE_BIN}/${n}`, to: `${BIN_DIR}/${n}`, notify })),
  };
}

export const CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap'] as const;

export function cniBinaries(spec: ClusterSpec, arch: string): BinarySet {
  return { artifact: ARTIFACTS.cniPlugins(spec.versions.cni, arch), entries: CNI_PLUGINS.map((n) => ({ from: n, to: `${CNI_BIN}/${n}` })) };
}

export function flannelCniBinary(arch: string): BinarySet {
  return { artifact: flannelCniPluginArtifact(FLANNEL_CNI_PLUGIN_VERSION, arch), entries: [{ from: `flannel-${arch}`, to: `${CNI_BIN}/flannel` }] };
}

export function flanneldBinary(spec: ClusterSpec, arch: string, notify: string): BinarySet {
  return { artifact: ARTIFACTS.flannel(spec.versions.flannel, arch), entries: [{ from: 'flanneld', to: `${BIN_DIR}/flanneld`, notify }] };
}

export const CONTAINERD_BINARIES = ['containerd', 'containerd-shim-runc-v2', 'ctr'] as const;

export function containerdBinaries(spec: ClusterSpec, arch: string, notify: string): BinarySet {
  return {
    artifact: ARTIFACTS.containerd(spec.versions.containerd, arch),
    entries: CONTAINERD_BINARIES.map((n) => ({ from: `bin/${n}`, to: `${BIN_DIR}/${n}`, notify: n === 'containerd' ? notify : undefined })),
  };
}

// Binary contents are shared by every host of a run (read once per artifact store), their digests stamped in the cache.
const contents = new WeakMap<ArtifactStore, Map<string, Promise<{ content: Buffer | LazyFile; sha256: string }>>>();
function readShared(store: ArtifactStore, file: string): Promise<{ content: Buffer | LazyFile; sha256: string }> {
  let m = contents.get(store);
  if (!m) contents.set(store, (m = new Map()));
  let p = m.get(file);
  if (!p) {
    p = readUnpacked(file);
    m.set(file, p);
    p.catch(() => m.delete(file));
  }
  return p;
}

/**
 * The task is blocked: it names the artifact, where it was looked for and its official URL; `changes`
 * say what the task would install once the file is there.
 */
export function artifactFailure(store: ArtifactStore, a: ArtifactSpec, e: ArtifactError, changes: string[] = []): Blocked {
  return blocked(
    `${a.id} ${a.version} is not available: ${e.message}`,
    `file ${a.file}, looked for at ${store.describe(a)}; official download ${a.officialUrl}. Put it in the artifact source with its sha256sum line in SHA256SUMS, or use --artifacts official on a machine with internet access`,
    changes,
  );
}

/** Why each release binary is on a node (the teaching view), by its file name on the host. */
export const BINARY_WHY: Record<string, string> = {
  'kube-apiserver': 'The Kubernetes API server, from the official server release (checked against its SHA-256). Every other component, kubectl and kcore-wizard talk to the cluster only through it; it alone reads and writes etcd.',
  'kube-controller-manager': 'The controller manager, from the server release: the loops that make the cluster match what was asked (replicas, node pod ranges, service accounts, certificate requests).',
  'kube-scheduler': 'The scheduler, from the server release: it picks a node for every pod that has none yet.',
  kubectl: 'The Kubernetes command-line client. kcore-wizard runs it on the machines (checks, add-ons, node reads), so this machine needs no kubectl of its own; you can use it on the node too.',
  kubelet: "The node agent, from the Kubernetes release: it registers the node, starts the pods assigned to it through containerd and reports their state. /opt/bin because Flatcar's /usr is read-only.",
  'kube-proxy': 'kube-proxy, from the Kubernetes release: it turns Services into iptables rules on every node, so a Service address reaches one of its pods.',
  bridge: 'CNI plugin (containernetworking/plugins release): creates the cni0 bridge and the pod\'s network interface; flannel\'s plugin delegates to it.',
  'host-local': "CNI IPAM plugin: hands each pod an address out of this node's pod range (the /24 flannel leased).",
  loopback: "CNI plugin that brings up each pod's lo interface.",
  portmap: 'CNI plugin for hostPort: forwards a port of the node to a pod.',
  flannel: "flannel's CNI plugin (flannel-io/cni-plugin release): what the kubelet calls, through containerd, for every pod. It reads flannel's subnet.env and hands the pod to the bridge plugin with this node's range.",
  flanneld: "The flannel daemon (flannel-io/flannel release): leases this node's pod range from the Kubernetes API and carries pod traffic to the other nodes in VXLAN over the private network.",
  containerd: 'containerd from its release tarball (hosts without one of their own): the container runtime the kubelet talks to over CRI. It pulls images and starts containers through runc.',
  'containerd-shim-runc-v2': "containerd's shim: one per pod, it keeps the containers running while containerd restarts and reports their exit.",
  ctr: "containerd's low-level client, for looking at images and containers by hand (crictl is the Kubernetes-aware one).",
};

interface Gathered {
  set: BinarySet;
  want: FileSpec[];
  have: ReturnType<typeof parseStat>;
}

/** Install binaries out of one artifact; `pick` returns null when this host needs none (task skipped). */
export function binariesTask(name: string, pick: (ctx: TaskContext) => BinarySet | null): Task<Gathered> {
  return task<Gathered>({
    name,
    skip(ctx) {
      return pick(ctx) ? undefined : 'not needed on this host';
    },
    async gather(ctx) {
      const set = pick(ctx)!;
      const a = set.artifact;
      let dir: string;
      try {
        dir = await ctx.run.artifacts.unpack(a, ctx.signal);
      } catch (e) {
        if (!(e instanceof ArtifactError)) throw e;
        throw artifactFailure(ctx.run.artifacts, a, e, [`install ${set.entries.map((x) => x.to).join(', ')} from ${a.file} (${a.id} ${a.version}): ARTIFACT MISSING — ${e.message}`]);
      }
      const want: FileSpec[] = [];
      for (const entry of set.entries) {
        let file: { content: Buffer | LazyFile; sha256: string };
        try {
          file = await readShared(ctx.run.artifacts, path.join(dir, entry.from));
        } catch {
          throw new TaskFailure(`${a.file} has no ${entry.from}: it is not the expected ${a.id} release file`, `check the file at ${ctx.run.artifacts.describe(a)}`);
        }
        want.push({ path: entry.to, content: file.content, sha256: file.sha256, mode: 0o755, notify: entry.notify, why: BINARY_WHY[path.basename(entry.to)] });
      }
      const r = await ctx.conn.run(statScript(want.map((f) => f.path), { stamped: want.map((f) => f.path) }), { sudo: true, signal: ctx.signal });
      return { set, want, have: parseStat(r.stdout, want.map((f) => f.path)) };
    },
    plan(ctx, g) {
      const a = g.set.artifact;
      return g.want
        .map((w, i) => {
          const d = fileDiff(w, g.have[i]!);
          return d && `${d.replace(/^(create|update) /, (m) => (m === 'create ' ? 'install ' : 'replace '))} from ${a.file} (${a.id} ${a.version}, ${ctx.run.artifacts.describe(a)})`;
        })
        .filter((d): d is string => !!d);
    },
    async apply(ctx, g) {
      for (const [i, w] of g.want.entries()) {
        if (fileDiff(w, g.have[i]!) === null) continue;
        await ctx.conn.upload({ path: w.path, content: await contentOf(w.content), mode: w.mode, owner: 'root', group: 'root', sudo: true }, { signal: ctx.signal });
        ctx.output(`installed ${w.path}`);
        for (const h of [w.notify ?? []].flat()) ctx.notify(h);
      }
    },
  });
}
