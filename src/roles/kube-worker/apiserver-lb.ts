/**
 * The local API load balancer: with more than one master, every worker runs haproxy on
 * 127.0.0.1:6444 in front of every master's :6443, and its kubelet, kube-proxy and flanneld talk to
 * it (nodeApiServerUrl in kube-common/render.ts). Lose a master and the nodes stay Ready.
 *
 * How it runs: a kubelet static pod from a pinned haproxy image, on Flatcar and Debian alike. The
 * kubelet starts static pods from /etc/kubernetes/manifests without any API server (it needs the load
 * balancer to reach one, so nothing else could come first), restarts it when it dies, and recreates it
 * when the manifest changes (the manifest carries the configuration's hash). Flatcar has no haproxy
 * package and a read-only /usr; one mechanism on both keeps one thing to test. kubespray does the same
 * (roles/kubernetes/node/tasks/loadbalancer/haproxy.yml, a static pod on nodes that are not masters);
 * Talos builds it in (KubePrism). Masters need none: their node components use their own API server.
 *
 * The configuration is mode tcp (TLS passes through: the API server certificate already names
 * 127.0.0.1 and localhost, src/pki/catalog.ts), with an HTTPS /readyz health check of each master.
 */
import { createHash } from 'node:crypto';
import { contentOf } from '../../engine/artifacts.js';
import { fileDiff, parseStat, statScript, type FileSpec } from '../../engine/ops.js';
import { smokeTest, task, TaskFailure, type TaskContext } from '../../engine/task.js';
import { renderTemplate } from '../../render/env.js';
import { hostsOf } from '../../spec/hosts.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { API_LB_DIR, API_LB_HOST, API_LB_PORT, apiServerUrl, KUBELET_KUBECONFIG, kubectl, lastLine, MANIFESTS_DIR, readPki, type NodeRef } from '../kube-common/index.js';

/**
 * haproxy 3.2 (LTS), Alpine: tag and the digest of its multi-platform index, as the official image
 * publishes them (docker-library/repo-info repos/haproxy/remote/3.2.24-alpine.md).
 */
export const HAPROXY_IMAGE = 'docker.io/library/haproxy:3.2.24-alpine@sha256:1aca32ee932b96d2a75f1882909325839dd23c138ba9c6fd26e4d88179f30f13';
export const API_LB_CONFIG = `${API_LB_DIR}/haproxy.cfg`;
export const API_LB_CA = `${API_LB_DIR}/ca.crt`;
export const API_LB_MANIFEST = `${MANIFESTS_DIR}/kcore-apiserver-lb.yaml`;
/** Where the pod sees API_LB_DIR. */
const POD_CONFIG_DIR = '/usr/local/etc/haproxy';

/** A node gets the load balancer when it is a worker and there is more than one master. */
export function needsApiLb(spec: ClusterSpec, host: Pick<NodeRef, 'group'>): boolean {
  return host.group === 'kube-worker' && hostsOf(spec, 'kube-master').length > 1;
}

/** haproxy.cfg for a node; `caFile` is where haproxy reads the cluster CA (default: inside the pod). */
export function haproxyConfig(spec: ClusterSpec, host: Pick<NodeRef, 'name'>, o: { caFile?: string; listen?: string } = {}): string {
  return renderTemplate('haproxy/haproxy.cfg.njk', {
    cluster: spec.name,
    name: host.name,
    listen: o.listen ?? `${API_LB_HOST}:${API_LB_PORT}`,
    caFile: o.caFile ?? `${POD_CONFIG_DIR}/ca.crt`,
    masters: hostsOf(spec, 'kube-master').map((m) => ({ name: m.name, ip: m.ip })),
  });
}

export function haproxyStaticPod(spec: ClusterSpec, host: Pick<NodeRef, 'name'>, config: string): string {
  return renderTemplate('haproxy/apiserver-lb.yaml.njk', {
    cluster: spec.name,
    name: host.name,
    manifests: MANIFESTS_DIR,
    configSha: createHash('sha256').update(config).digest('hex'),
    image: HAPROXY_IMAGE,
    host: API_LB_HOST,
    port: API_LB_PORT,
    configDir: API_LB_DIR,
  });
}

/** The load balancer's files on a node: none unless needsApiLb. The manifest comes last (the kubelet reads it at once). */
export async function apiLbFiles(ctx: TaskContext): Promise<FileSpec[]> {
  const { spec } = ctx.run;
  if (!needsApiLb(spec, ctx.host)) return [];
  const config = haproxyConfig(spec, ctx.host);
  return [
    { path: API_LB_CA, content: await readPki(ctx, ctx.run.pki.ca.cert), mode: 0o644, why: "The cluster CA's certificate, for haproxy's health checks: it checks each master's /readyz over HTTPS against this CA before sending any traffic there." },
    { path: API_LB_CONFIG, content: config, mode: 0o644, why: "The local API load balancer's configuration: haproxy listens on 127.0.0.1:6444 in TCP mode (TLS passes through untouched, end to end from the kubelet to the API server) and forwards to every master's :6443 that answers its /readyz health check. This node's kubelet, kube-proxy and flanneld connect here, so losing a master does not take the node down." },
    { path: API_LB_MANIFEST, content: haproxyStaticPod(spec, ctx.host, config), mode: 0o644, why: 'The static pod that runs haproxy from a pinned image: the kubelet starts it from this folder by itself, without any API server (it needs the load balancer to reach one), and restarts it when it dies. The manifest carries the configuration\'s hash, so a new configuration recreates the pod.' },
  ];
}

interface LbGathered {
  want: FileSpec[];
  have: ReturnType<typeof parseStat>;
  /** One master (or a master): a manifest left from an earlier spec is there to remove. */
  stale: boolean;
}

/**
 * One task, before the node's kubeconfigs point at 127.0.0.1:6444: the folder, the CA, haproxy.cfg
 * and the static pod manifest (last: the kubelet reads it at once). Down to one master, the manifest
 * goes and the workers talk to that master directly again. On a node without the load balancer it
 * changes nothing and writes nothing.
 */
export const apiLbTask = task<LbGathered>({
  name: 'API load balancer (haproxy static pod, more than one master)',
  why: "With more than one master, every worker gets a local TCP load balancer in front of all of them, before its kubeconfigs point at it. With one master it writes nothing (and removes a load balancer left from a larger spec): the node talks to that master directly.",
  docs: 'https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/',
  async gather(ctx) {
    const want = await apiLbFiles(ctx);
    if (!want.length) {
      const stale = (await ctx.conn.exec(`test -e ${API_LB_MANIFEST}`, { signal: ctx.signal })).exitCode === 0;
      return { want, have: [], stale };
    }
    const r = await ctx.conn.run(statScript(want.map((f) => f.path)), { sudo: true, signal: ctx.signal });
    return { want, have: parseStat(r.stdout, want.map((f) => f.path)), stale: false };
  },
  plan(_ctx, g) {
    const out = g.want.map((w, i) => fileDiff(w, g.have[i]!)).filter((d): d is string => d !== null);
    if (g.stale) out.push(`remove ${API_LB_MANIFEST} (one master: the node talks to it directly)`);
    return out;
  },
  async apply(ctx, g) {
    if (g.stale) {
      await ctx.conn.run(`rm -f ${API_LB_MANIFEST}`, { sudo: true, signal: ctx.signal });
      ctx.output(`removed ${API_LB_MANIFEST}`);
      return;
    }
    await ctx.conn.run(`install -d -m 755 -o root -g root ${API_LB_DIR}`, { sudo: true, signal: ctx.signal });
    for (const [i, w] of g.want.entries()) {
      if (fileDiff(w, g.have[i]!) === null) continue;
      await ctx.conn.upload({ path: w.path, content: await contentOf(w.content), mode: w.mode, owner: 'root', group: 'root', sudo: true }, { signal: ctx.signal });
      ctx.output(`wrote ${w.path}`);
    }
  },
});

/**
 * Smoke test (workers, more than one master): /readyz through 127.0.0.1:6444 and from every master
 * directly, so a master the load balancer cannot reach is named before it is needed.
 */
export const apiLbSmokeTest = smokeTest(
  'API load balancer: /readyz through 127.0.0.1:6444 and from every master',
  async (ctx) => {
    const { spec } = ctx.run;
    const servers = [`https://${API_LB_HOST}:${API_LB_PORT}`, ...hostsOf(spec, 'kube-master').map((m) => apiServerUrl(spec, m.ip))];
    const problems: string[] = [];
    for (const s of servers) {
      // The node's own kubelet credentials (a worker has no admin kubeconfig); /readyz is open to any authenticated user.
      const r = await ctx.conn.exec(kubectl('get --raw /readyz', { kubeconfig: KUBELET_KUBECONFIG, server: s, timeout: '5s' }), { sudo: true, signal: ctx.signal });
      if (r.exitCode !== 0 || r.stdout.trim() !== 'ok') problems.push(`${s}/readyz: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.exitCode}`}`);
    }
    if (problems.length)
      throw new TaskFailure(`from ${ctx.host.name}: ${problems.join('; ')}`, `the load balancer is a static pod: crictl ps --name haproxy and journalctl -u kubelet on ${ctx.host.name}; each master: kcore-wizard test --tags kube-master`);
  },
  {
    skip: (ctx) => (needsApiLb(ctx.run.spec, ctx.host) ? undefined : 'one master: no load balancer (or a master: it uses its own API server)'),
    why: 'Asks /readyz through the local load balancer and then from each master directly, with the node\'s own credentials: a master the load balancer cannot use is named now, before the day it is the only one left.',
  },
);
