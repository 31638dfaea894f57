/**
 * The etcd test cluster the etcd integration tests share: 3 systemd-nspawn machines for etcd-01..03
 * (masters and workers are in the spec, which needs one of each, but not started: runs are
 * --limit etcd), a local artifact mirror with Debian's etcd in the release layout, and a workspace.
 */
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from './cluster.js';
import { buildLocalEtcdMirror, type Mirror } from './mirror.js';

export const ETCD_LAYOUT = { etcd: 3, 'kube-master': 1, 'kube-worker': 1 };
export const ETCD_HOSTS = layoutHosts(ETCD_LAYOUT).filter((h) => h.group === 'etcd');

export interface EtcdTestCluster {
  hosts: TestHosts;
  mirror: Mirror;
  ws: string;
}

/** Start the machines and write the workspace (nothing converged yet). Tear down with hosts.teardown(). */
export async function startEtcdTestCluster(): Promise<EtcdTestCluster> {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const mirror = await buildLocalEtcdMirror();
  const hosts = await startSystemdHosts({ count: ETCD_HOSTS.length, names: ETCD_HOSTS.map((h) => h.name), ips: ETCD_HOSTS.map((h) => h.octet) });
  const spec = specForHosts(hosts, ETCD_LAYOUT, (s) => {
    s.versions.etcd = mirror.etcdVersion;
    s.artifacts.source = mirror.dir;
  });
  return { hosts, mirror, ws: await workspaceFor(spec) };
}
