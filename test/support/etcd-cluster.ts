/**
 * The etcd test cluster the etcd integration tests share: 3 systemd-nspawn machines for etcd-01..03
 * (masters and workers are in the spec, which needs one of each, but not started: runs are
 * --limit etcd), a local artifact mirror with Debian's etcd in the release layout, and a workspace.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
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

/** etcd-01 … etcd-0N with their last octets (etcd-0N is <prefix>.10N). */
export function etcdHosts(n: number): Array<{ name: string; octet: number }> {
  return layoutHosts({ etcd: n, 'kube-master': 0, 'kube-worker': 0 }).map((h) => ({ name: h.name, octet: h.octet }));
}

/**
 * Start the machines and write the workspace (nothing converged yet). Tear down with hosts.teardown().
 * `machines`: how many etcd machines to start (default 3); the spec lists the first 3 as members, the others
 * are spare machines for scaling (etcd-scale.test.ts).
 */
export async function startEtcdTestCluster(opts: { machines?: number } = {}): Promise<EtcdTestCluster> {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const mirror = await buildLocalEtcdMirror();
  const machines = etcdHosts(Math.max(opts.machines ?? ETCD_HOSTS.length, ETCD_HOSTS.length));
  const hosts = await startSystemdHosts({ count: machines.length, names: machines.map((h) => h.name), ips: machines.map((h) => h.octet) });
  const spec = specForHosts(hosts, ETCD_LAYOUT, (s) => {
    s.versions.etcd = mirror.etcdVersion;
    s.artifacts.source = mirror.dir;
  });
  return { hosts, mirror, ws: await workspaceFor(spec) };
}

/**
 * A client on this machine (Debian's etcdctl) writing `<prefix>/<n>` through `endpoints()` (asked before every write,
 * so a test can follow the members) every 200 ms; each successful write keeps its revision.
 * A write that fails is tried once more at once (the same key and value: a put is idempotent) and kept in `retried`;
 * only a write whose second try fails too is a failure. Why one retry: a put that reaches a follower is forwarded
 * to the leader, and a leader handing over its leadership (what the etcd role does before it restarts the leader:
 * `move-leader`) drops proposals while the transfer is under way (etcd-io/raft raft.go stepLeader, MsgProp:
 * "transfer leadership to %x is in progress; dropping proposal" returns ErrProposalDropped to the leader only); the
 * follower is never told, so that one client request waits for its deadline. Any client of a restarted cluster
 * sees that; a cluster that stops taking writes (quorum lost, two members down at once) fails the retry as well.
 */
export function startEtcdWriter(ws: string, endpoints: () => string[], opts: { prefix?: string; max?: number } = {}) {
  const pki = path.join(ws, 'pki', 'etcd');
  const written: Array<{ key: string; revision: number }> = [];
  const failures: string[] = [];
  const retried: string[] = [];
  let stop = false;
  let n = 0;
  const put = async (key: string) => {
    const r = await promisify(execFile)(
      'etcdctl',
      [`--endpoints=${endpoints().join(',')}`, `--cacert=${pki}/ca.crt`, `--cert=${pki}/kcore-etcd-client.crt`, `--key=${pki}/kcore-etcd-client.key`, '--dial-timeout=2s', '--command-timeout=3s', '-w', 'json', 'put', key, 'x'],
      { env: { ...process.env, ETCDCTL_API: '3' } },
    );
    written.push({ key, revision: (JSON.parse(r.stdout) as { header: { revision: number } }).header.revision });
  };
  const why = (key: string, e: unknown) => `${new Date().toISOString()} ${key}: ${(e as Error).message.split('\n').slice(0, 3).join(' | ')}`;
  const done = (async () => {
    while (!stop && n < (opts.max ?? 3000)) {
      const key = `${opts.prefix ?? 'w'}/${String(n++).padStart(4, '0')}`;
      const t0 = Date.now();
      try {
        await put(key);
      } catch (e) {
        retried.push(why(key, e));
        try {
          await put(key);
        } catch (e2) {
          failures.push(why(key, e2));
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - t0))));
    }
  })();
  return {
    written,
    failures,
    retried,
    async stop() {
      stop = true;
      await done;
    },
  };
}

/**
 * What a writer saw, judged: no write failed twice, and at most `maxRetried` needed their second try (one per
 * leadership hand-over at most; each is printed, so a run shows when it happened).
 */
export function expectWritesKept(writer: { failures: string[]; retried: string[] }, maxRetried = 2): void {
  if (writer.retried.length) console.log(`writes that needed a second try:\n${writer.retried.join('\n')}`);
  expect(writer.failures).toEqual([]);
  expect(writer.retried.length, writer.retried.join('\n')).toBeLessThanOrEqual(maxRetried);
}
