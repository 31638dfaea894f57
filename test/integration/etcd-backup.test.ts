// `kcore-wizard backup` on a real 3-member TLS etcd cluster under systemd (systemd-nspawn machines):
// the snapshot comes from a healthy member, is checked (hash, revision, keys: read back with this
// machine's own etcdctl), lands 0600 in backups/, leaves no temp file on the member, passes over a
// stopped member, and fails with each member's reason when none is healthy.
import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { buildLocalEtcdMirror, type Mirror } from '../support/mirror.js';
import { runCli } from '../support/cli.js';

const LAYOUT = { etcd: 3, 'kube-master': 1, 'kube-worker': 1 };
const ETCD = layoutHosts(LAYOUT).filter((h) => h.group === 'etcd');

let hosts: TestHosts;
let mirror: Mirror;
let ws: string;

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  mirror = await buildLocalEtcdMirror();
  hosts = await startSystemdHosts({ count: ETCD.length, names: ETCD.map((h) => h.name), ips: ETCD.map((h) => h.octet) });
  const spec = specForHosts(hosts, LAYOUT, (s) => {
    s.versions.etcd = mirror.etcdVersion;
    s.artifacts.source = mirror.dir;
  });
  ws = await workspaceFor(spec);
  const r = await runCli(['converge', '--limit', 'etcd', '--skip-tags', 'test', '--dir', ws]);
  if (r.code !== 0) throw new Error(`converge failed:\n${r.stdout}\n${r.stderr}`);
});

afterAll(async () => {
  await hosts?.teardown();
});

const cli = (...args: string[]) => runCli([...args, '--dir', ws]);

/** etcdctl on this machine (Debian's etcd-client), over TLS with kcore-wizard's client certificate. */
function etcdctl(...args: string[]): string {
  const pki = path.join(ws, 'pki', 'etcd');
  const endpoints = ETCD.map((h) => `https://${hosts.prefix}.${h.octet}:2379`).join(',');
  return execFileSync(
    'etcdctl',
    [`--endpoints=${endpoints}`, `--cacert=${pki}/ca.crt`, `--cert=${pki}/kcore-etcd-client.crt`, `--key=${pki}/kcore-etcd-client.key`, '--dial-timeout=3s', '--command-timeout=5s', ...args],
    { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } },
  );
}

async function leftOnMembers(): Promise<string> {
  let out = '';
  for (const h of ETCD) out += (await hosts.exec(h.name, 'ls -a /var/tmp | grep kcore-etcd-snapshot || true')).stdout;
  return out;
}

describe('backup on 3 systemd etcd members', () => {
  it('takes a checked snapshot from the first healthy member into backups/ (0600) and leaves nothing on the member', async () => {
    for (let i = 0; i < 25; i++) etcdctl('put', `/backup-test/k${i}`, `v${i}`);
    const r = await cli('backup', '--output', 'json');
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { file: string; bytes: number; sha256: string; member: string; status: { hash: number; revision: number; totalKey: number } };
    expect(out.member).toBe('etcd-01');
    expect(path.dirname(out.file)).toBe(path.join(ws, 'backups'));
    expect(path.basename(out.file)).toMatch(/^etcd-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z\.db$/);
    const st = await stat(out.file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(out.bytes);
    // This machine's own etcdctl reads the copy: the same hash and revision the member reported, and
    // at least the 25 keys written above.
    const local = JSON.parse(execFileSync('etcdctl', ['snapshot', 'status', '-w', 'json', out.file], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } })) as { hash: number; revision: number; totalKey: number };
    expect(local.hash).toBe(out.status.hash);
    expect(local.revision).toBe(out.status.revision);
    expect(local.totalKey).toBe(out.status.totalKey);
    expect(out.status.totalKey).toBeGreaterThanOrEqual(25);
    expect(await leftOnMembers()).toBe('');
    expect((await readdir(path.join(ws, 'backups'))).filter((f) => f.startsWith('.'))).toEqual([]);
    // The text form says where it went.
    await new Promise((r) => setTimeout(r, 1100)); // a new second: a new file name
    const t = await cli('backup');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^etcd snapshot from etcd-01: revision \d+, \d+ keys, [\d.]+ (KiB|MiB|B), sha256 [0-9a-f]{16}…\n.*backups\/etcd-.*\.db\n$/);
  });

  it('passes over a stopped member (saying why) and sweeps a snapshot a killed backup left', async () => {
    await hosts.exec('etcd-01', 'systemctl stop etcd');
    await hosts.exec('etcd-02', 'head -c 1000 /dev/zero > /var/tmp/kcore-etcd-snapshot.999.1.db');
    try {
      const r = await cli('backup');
      if (r.code !== 0) console.log(r.stdout, r.stderr);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^skipped etcd-01: not healthy: /);
      expect(r.stdout).toContain('etcd snapshot from etcd-02');
      expect(await leftOnMembers()).toBe('');
    } finally {
      await hosts.exec('etcd-01', 'systemctl start etcd');
    }
  });

  it('fails with every member and its reason when none is healthy (exit 1)', async () => {
    for (const h of ETCD) await hosts.exec(h.name, 'systemctl stop etcd');
    try {
      const r = await cli('backup');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/kcore-wizard: backup failed: no etcd member could take a snapshot: etcd-01 not healthy: .*; etcd-02 not healthy: .*; etcd-03 not healthy: /);
      expect(r.stderr).toContain('→ start a member (sudo systemctl start etcd)');
    } finally {
      for (const h of ETCD) await hosts.exec(h.name, 'systemctl start --no-block etcd');
    }
  });
});
