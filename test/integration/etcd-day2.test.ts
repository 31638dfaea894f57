// Day-2 on a real 3-member TLS etcd cluster under systemd (systemd-nspawn machines).
// `backup`: the snapshot comes from a healthy member, is checked (hash, revision, keys: read back with
// this machine's own etcdctl), lands 0600 in backups/, leaves no temp file on the member, passes over a
// stopped member, and fails with each member's reason when none is healthy.
// `restore`: with a client writing through every endpoint every 200 ms, backup then restore brings back
// exactly the keys of the snapshot's revision, under a new cluster id, old data dirs kept; a file that
// is not a snapshot is refused before anything stops.
import { execFileSync } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestHosts } from '../hosts/index.js';
import { addDebianEtcd, type Mirror } from '../support/mirror.js';
import { ETCD_HOSTS, startEtcdTestCluster, startEtcdWriter, expectWritesKept } from '../support/etcd-cluster.js';
import { readFile } from 'node:fs/promises';
import { runCli } from '../support/cli.js';

const ETCD = ETCD_HOSTS;

let hosts: TestHosts;
let mirror: Mirror;
let ws: string;

beforeAll(async () => {
  ({ hosts, mirror, ws } = await startEtcdTestCluster());
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

/** Every member healthy, within 60 s (the members of a stopped cluster wait for each other). */
async function waitHealthy(): Promise<void> {
  for (let i = 0; i < 60; i++) {
    try {
      etcdctl('endpoint', 'health');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new Error('etcd did not become healthy again within 60 s');
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
      await waitHealthy();
    }
  });
});

/** A client writing `w/<n>` through every endpoint every 200 ms (test/support/etcd-cluster.ts). */
const startWriter = () => startEtcdWriter(ws, () => ETCD.map((h) => `https://${hosts.prefix}.${h.octet}:2379`), { max: 600 });

function clusterId(): string {
  const out = etcdctl('endpoint', 'status', '-w', 'fields');
  const ids = [...out.matchAll(/"ClusterID" : (\d+)/g)].map((m) => m[1]);
  expect(new Set(ids).size).toBe(1);
  return ids[0]!;
}

describe('restore on 3 systemd etcd members', () => {
  it('refuses a file that is not a snapshot, and asks for --yes off a terminal, before anything stops', async () => {
    const bogus = path.join(ws, 'not-a-snapshot.db');
    await writeFile(bogus, 'hello\n');
    const r = await cli('restore', '--from', bogus, '--yes');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--from ${bogus}: is not an etcd snapshot (no bbolt database header)`);
    const missing = await cli('restore');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('restore needs --from FILE');
    const backups = (await readdir(path.join(ws, 'backups'))).filter((f) => f.endsWith('.db'));
    const noYes = await cli('restore', '--from', path.join(ws, 'backups', backups[0]!));
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/restore would restore etcd of cluster "test" \(etcd-01, etcd-02, etcd-03\) from .*: every write made after that snapshot is lost: pass --yes/);
    for (const h of ETCD) expect((await hosts.exec(h.name, 'systemctl is-active etcd')).stdout.trim()).toBe('active');
  });

  it('backup then restore brings back exactly the keys of the snapshot, with a client writing every 200 ms', async () => {
    const before = clusterId();
    const writer = startWriter();
    let file: string;
    let revision: number;
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const b = await cli('backup', '--output', 'json');
      expect(b.code).toBe(0);
      ({ file, status: { revision } } = JSON.parse(b.stdout.trim()) as { file: string; status: { revision: number } });
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await writer.stop();
    }
    // The backup did not disturb the client; some writes landed before the snapshot and some after.
    expectWritesKept(writer);
    const kept = writer.written.filter((w) => w.revision <= revision).map((w) => w.key);
    const lost = writer.written.filter((w) => w.revision > revision).map((w) => w.key);
    expect(kept.length).toBeGreaterThan(0);
    expect(lost.length).toBeGreaterThan(0);

    const r = await cli('restore', '--from', file!, '--yes');
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`restored etcd on etcd-01, etcd-02, etcd-03 to revision ${revision}; every member healthy`);
    const now = etcdctl('get', 'w/', '--prefix', '--keys-only').split('\n').filter(Boolean);
    expect(now).toEqual(kept);
    // A new cluster: a member that missed the restore could not rejoin with its old data.
    expect(clusterId()).not.toBe(before);
    for (const h of ETCD) {
      const x = await hosts.exec(h.name, 'ls -d /var/lib/etcd.before-restore-*/member && stat -c "%a %U" /var/lib/etcd && ls /var/tmp | grep -c kcore-etcd || true');
      expect(x.stdout).toMatch(/^\/var\/lib\/etcd\.before-restore-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z\/member\n700 etcd\n0\n$/);
    }
    // The smoke tests pass on the restored cluster (member list equals the spec, put/get, TLS).
    const t = await cli('test', '--limit', 'etcd');
    if (t.code !== 0) console.log(t.stdout);
    expect(t.code).toBe(0);
  });
});

describe('certs renew on 3 systemd etcd members', () => {
  const serving = async () => {
    const out: Record<string, string> = {};
    for (const h of ETCD) out[h.name] = (await hosts.exec(h.name, 'sha256sum /etc/etcd/pki/server.crt /etc/etcd/pki/peer.crt')).stdout;
    return out;
  };

  it('reissues the leaves with the same CA and rolls them out one member at a time, with no failed write', async () => {
    const caBefore = execFileSync('sha256sum', [path.join(ws, 'pki', 'etcd', 'ca.crt')], { encoding: 'utf8' });
    const before = await serving();
    const writer = startWriter();
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli('certs', 'renew', '--yes', '--limit', 'etcd', '--output', 'json');
      await new Promise((res) => setTimeout(res, 1000));
    } finally {
      await writer.stop();
    }
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expectWritesKept(writer);
    expect(writer.written.length).toBeGreaterThan(10);
    const after = await serving();
    for (const h of ETCD) expect(after[h.name], h.name).not.toBe(before[h.name]);
    expect(execFileSync('sha256sum', [path.join(ws, 'pki', 'etcd', 'ca.crt')], { encoding: 'utf8' })).toBe(caBefore);
    // One member at a time: in the etcd role, each host starts only after the previous one ended
    // (its restart verified healthy).
    const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; role?: string; host?: string; task?: string; status?: string; changes?: string[] });
    const etcdHosts = events.filter((e) => e.role === 'etcd' && (e.type === 'host-start' || e.type === 'host-end')).map((e) => `${e.type === 'host-start' ? '+' : '-'}${e.host}`);
    expect(etcdHosts).toEqual(['+etcd-01', '-etcd-01', '+etcd-02', '-etcd-02', '+etcd-03', '-etcd-03']);
    const restarts = events.filter((e) => e.type === 'task-end' && e.role === 'etcd' && e.changes?.some((c) => c.startsWith('restart etcd')));
    expect(restarts.map((e) => e.host)).toEqual(['etcd-01', 'etcd-02', 'etcd-03']);
    const l = await cli('certs');
    expect(l.code).toBe(0);
    expect(l.stdout).toMatch(/etcd\/server-etcd-01\.crt .* 36[45] /);
  });
});

describe('upgrade etcd 3.4 → 3.5 on 3 systemd members (Debian 12 → Debian 13 etcd)', () => {
  const versions = async () => {
    const out: string[] = [];
    for (const h of ETCD) out.push(`${h.name} ${/etcd Version: (\S+)/.exec((await hosts.exec(h.name, '/opt/bin/etcd --version')).stdout)?.[1]}`);
    return out;
  };

  it('stops at the first member that fails, leaving the rest on the old version; a rerun resumes; no write fails', async () => {
    const next = await addDebianEtcd(mirror);
    const from = mirror.etcdVersion;
    expect(next.version).toMatch(/^3\.5\./);
    // etcd-02 cannot take new binaries (its /opt/bin read-only): a plan does not see it, the upload fails.
    await hosts.exec('etcd-02', 'mount --bind /opt/bin /opt/bin && mount -o remount,ro,bind /opt/bin');
    const writer = startWriter();
    let first: Awaited<ReturnType<typeof cli>>;
    let second: Awaited<ReturnType<typeof cli>>;
    try {
      first = await cli('upgrade', '--etcd', next.version, '--yes');
      expect(await versions()).toEqual([`etcd-01 ${next.version}`, `etcd-02 ${from}`, `etcd-03 ${from}`]);
      await hosts.exec('etcd-02', 'umount /opt/bin');
      second = await cli('upgrade', '--etcd', next.version, '--yes');
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await writer.stop();
      await hosts.exec('etcd-02', 'umount /opt/bin 2>/dev/null; true');
    }
    if (first.code === 0 || second.code !== 0) console.log(first.stdout, second.stdout, second.stderr);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`kcore.yaml: versions.etcd ${from} → ${next.version}`);
    expect(first.stdout).toContain(`== upgrade etcd ${from} → ${next.version} stopped at etcd-02: it did not come back healthy (see above); untouched: etcd-03`);
    expect(first.stdout).toMatch(/etcd-02 +FAILED +etcd binaries\n[^]*Read-only file system/);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`kcore.yaml: versions.etcd is ${next.version}: resuming the upgrade`);
    expect(second.stdout).toContain(`== upgrade etcd ${next.version} → ${next.version}: done on etcd-01, etcd-02, etcd-03`);
    expect(await versions()).toEqual(ETCD.map((h) => `${h.name} ${next.version}`));
    for (const h of ETCD) expect((await hosts.exec(h.name, 'test -x /opt/bin/etcdutl && echo yes')).stdout.trim()).toBe('yes');
    expect(await readFile(path.join(ws, 'kcore.yaml'), 'utf8')).toContain(`etcd: ${next.version}`);
    // The cluster stayed writable the whole time: a member at a time restarted, quorum kept.
    expectWritesKept(writer);
    expect(writer.written.length).toBeGreaterThan(20);
    const t = await cli('test', '--limit', 'etcd');
    expect(t.code).toBe(0);
  });

  it('refuses a downgrade and a skipped minor (exit 2, kcore.yaml unchanged)', async () => {
    const before = await readFile(path.join(ws, 'kcore.yaml'), 'utf8');
    const down = await cli('upgrade', '--etcd', '3.4.23', '--yes');
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot be downgraded by replacing its binaries');
    const skip = await cli('upgrade', '--etcd', '3.7.0', '--yes');
    expect(skip.code).toBe(2);
    expect(skip.stderr).toContain('etcd upgrades one minor version at a time');
    // Kubernetes keeps the upstream skew policy the same way: no downgrade, before anything is written.
    const k = await cli('upgrade', '--kubernetes', '1.36.4', '--yes');
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('Kubernetes 1.37.1 cannot be downgraded');
    expect(await readFile(path.join(ws, 'kcore.yaml'), 'utf8')).toBe(before);
  });
});
