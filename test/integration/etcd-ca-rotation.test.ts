// `certs renew --ca` on a real 3-member TLS etcd cluster under systemd (systemd-nspawn machines), with a
// client writing through every endpoint every 200 ms the whole time: no write fails; at the end every
// member's serving and peer certificate verifies against the new etcd CA alone (`openssl verify`), the
// members' trust file holds the new CA only, and a client certificate of the old CA is refused.
// etcd reads --trusted-ca-file / --peer-trusted-ca-file as a bundle: every PEM block of the file goes into
// the pool (etcd-io/etcd client/pkg/transport/listener.go TLSInfo.baseConfig → tlsutil.NewCertPool, which
// loops over pem.Decode), which is what phases 1 and 2 rely on.
// Then the expiry warning of `test` on the same cluster: within 30 days a warning, exit 0; expired, exit 1.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestHosts } from '../hosts/index.js';
import { ETCD_HOSTS, startEtcdTestCluster, startEtcdWriter, expectWritesKept } from '../support/etcd-cluster.js';
import { runCli } from '../support/cli.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { splitPemBundle } from '../../src/pki/rotate.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { loadSpec } from '../../src/spec/load.js';

const ETCD = ETCD_HOSTS;
let hosts: TestHosts;
let ws: string;
let tmp: string;

beforeAll(async () => {
  ({ hosts, ws } = await startEtcdTestCluster());
  tmp = await mkdtemp(path.join(tmpdir(), 'kcore-ca-rot-'));
  const r = await runCli(['converge', '--limit', 'etcd', '--skip-tags', 'test', '--dir', ws]);
  if (r.code !== 0) throw new Error(`converge failed:\n${r.stdout}\n${r.stderr}`);
}, 300_000);

afterAll(async () => {
  await hosts?.teardown();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli([...args, '--dir', ws]);
const endpoints = () => ETCD.map((h) => `https://${hosts.prefix}.${h.octet}:2379`).join(',');

/** A client writing `w/<n>` through every endpoint every 200 ms (test/support/etcd-cluster.ts). */
const startWriter = () => startEtcdWriter(ws, () => endpoints().split(','), { max: 3000 });

function opensslVerify(caFile: string, certFile: string): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync('openssl', ['verify', '-CAfile', caFile, certFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '') };
  }
}

function health(ca: string, cert: string, key: string, endpoint: string): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync('etcdctl', [`--endpoints=${endpoint}`, `--cacert=${ca}`, `--cert=${cert}`, `--key=${key}`, '--dial-timeout=2s', '--command-timeout=3s', 'endpoint', 'health'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? '') };
  }
}

describe('certs renew --ca on 3 systemd etcd members', () => {
  it('rotates the etcd CA in three rolled phases with no failed write; the old CA is trusted nowhere after', async () => {
    const p = pkiPaths(ws);
    // What a client of the old CA holds: kept to prove it is refused at the end.
    const oldCa = path.join(tmp, 'old-ca.crt');
    const oldCert = path.join(tmp, 'old-client.crt');
    const oldKey = path.join(tmp, 'old-client.key');
    await writeFile(oldCa, await readFile(p.etcd.ca.cert));
    await writeFile(oldCert, await readFile(p.etcd.kcoreClient.cert));
    await writeFile(oldKey, await readFile(p.etcd.kcoreClient.key), { mode: 0o600 });

    const writer = startWriter();
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      await new Promise((res) => setTimeout(res, 1000));
      r = await cli('certs', 'renew', '--ca', '--yes', '--limit', 'etcd', '--output', 'json');
      await new Promise((res) => setTimeout(res, 1000));
    } finally {
      await writer.stop();
    }
    if (r.code !== 0) console.log(r.stdout.slice(-6000), r.stderr);
    expect(r.code).toBe(0);
    expectWritesKept(writer);
    expect(writer.written.length).toBeGreaterThan(30);

    // Three phases, each rolled one member at a time, in order.
    const rolling = r.stdout.split('\n').filter((l) => l.startsWith('{"type":"rolling"')).map((l) => (JSON.parse(l) as { message: string }).message);
    const starts = rolling.filter((m) => / \(\d of 3\)$/.test(m)).map((m) => m.replace(/^CA rotation phase (\d) of 3: .*: (etcd-0\d) \(\d of 3\)$/, '$1 $2'));
    expect(starts).toEqual(['1 etcd-01', '1 etcd-02', '1 etcd-03', '2 etcd-01', '2 etcd-02', '2 etcd-03', '3 etcd-01', '3 etcd-02', '3 etcd-03']);
    expect(r.stdout).toContain('"CA rotation done: the old CAs are archived in pki/archive/');

    // The workspace holds the new etcd CA alone, different from the old one.
    const newCaPem = await readFile(p.etcd.ca.cert, 'utf8');
    expect(splitPemBundle(newCaPem)).toHaveLength(1);
    expect(new X509Certificate(newCaPem).fingerprint256).not.toBe(new X509Certificate(await readFile(oldCa)).fingerprint256);
    for (const h of ETCD) {
      // On the member: its trust file is the new CA alone; serving and peer certificates verify against it only.
      const pull = async (f: string) => {
        const local = path.join(tmp, `${h.name}-${f}`);
        await writeFile(local, (await hosts.exec(h.name, `cat /etc/etcd/pki/${f}`)).stdout);
        return local;
      };
      const trust = await readFile(await pull('ca.crt'), 'utf8');
      expect(trust, h.name).toBe(newCaPem);
      for (const f of ['server.crt', 'peer.crt']) {
        const local = await pull(f);
        const withNew = opensslVerify(p.etcd.ca.cert, local);
        expect(withNew.ok, `${h.name} ${f}: ${withNew.out}`).toBe(true);
        expect(withNew.out).toContain(': OK');
        expect(opensslVerify(oldCa, local).ok, `${h.name} ${f} verifies against the old CA`).toBe(false);
      }
      const ep = `https://${hosts.prefix}.${h.octet}:2379`;
      // A client certificate of the old CA is refused (the member trusts the new CA only) ...
      const old = health(p.etcd.ca.cert, oldCert, oldKey, ep);
      expect(old.ok, `${h.name} accepted a client certificate of the old CA`).toBe(false);
      // ... while the new one is accepted by the same member.
      expect(health(p.etcd.ca.cert, p.etcd.kcoreClient.cert, p.etcd.kcoreClient.key, ep).ok, h.name).toBe(true);
    }
    const t = await cli('test', '--limit', 'etcd');
    if (t.code !== 0) console.log(t.stdout);
    expect(t.code).toBe(0);
    expect(t.stdout).not.toContain('warning:');
  }, 900_000);

  it('a stop (etcd-02 cannot take files) is recorded; the rerun resumes and finishes, with no failed write', async () => {
    const p = pkiPaths(ws);
    const before = await readFile(p.etcd.ca.cert, 'utf8');
    // etcd-02 cannot take new files: the upload (temp file + rename in /etc/etcd/pki) fails in phase 1.
    await hosts.exec('etcd-02', 'mount --bind /etc/etcd/pki /etc/etcd/pki && mount -o remount,ro,bind /etc/etcd/pki');
    const writer = startWriter();
    let first: Awaited<ReturnType<typeof cli>>;
    let second: Awaited<ReturnType<typeof cli>>;
    let stateBetween: string;
    try {
      first = await cli('certs', 'renew', '--ca', '--yes', '--limit', 'etcd');
      stateBetween = await readFile(path.join(p.root, 'ca-rotation.json'), 'utf8');
      await hosts.exec('etcd-02', 'umount /etc/etcd/pki');
      second = await cli('certs', 'renew', '--ca', '--yes', '--limit', 'etcd');
      await new Promise((res) => setTimeout(res, 1000));
    } finally {
      await writer.stop();
      await hosts.exec('etcd-02', 'umount /etc/etcd/pki 2>/dev/null; true');
    }
    if (first.code === 0 || second.code !== 0) console.log(first.stdout.slice(-4000), second.stdout.slice(-4000), second.stderr);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain('== CA rotation phase 1 of 3: every host trusts the old and the new CA stopped at etcd-02: it did not come back healthy (see above); untouched: etcd-03');
    expect(first.stdout).toContain('CA rotation stopped in phase 1 of 3');
    expect(JSON.parse(stateBetween!)).toMatchObject({ phase: 1, rolled: false });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('resuming the CA rotation in phase 1 of 3');
    expect(second.stdout).toContain('CA rotation done');
    expectWritesKept(writer);
    expect(writer.written.length).toBeGreaterThan(30);
    const after = await readFile(p.etcd.ca.cert, 'utf8');
    expect(after).not.toBe(before);
    for (const h of ETCD) expect((await hosts.exec(h.name, 'cat /etc/etcd/pki/ca.crt')).stdout, h.name).toBe(after);
  }, 900_000);

  it('`test`: a certificate expiring within 30 days is a warning line and a JSON warning (exit 0); an expired one fails it (exit 1)', async () => {
    const { spec } = await loadSpec(ws);
    const p = pkiPaths(ws);
    // admin is not used by etcd members: reissuing it changes nothing on them.
    await rm(p.admin.cert);
    await ensurePki(ws, pkiInput(spec), { validityDays: { admin: 12 } });
    const t = await cli('test', '--limit', 'etcd');
    if (t.code !== 0) console.log(t.stdout);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/\nwarning: 1 certificate expires within 30 days or expired: admin\.crt expires in 1[12] days \([\d-]+\) \(renew them: kcore-wizard certs renew\)\n$/);
    const j = await cli('test', '--limit', 'etcd', '--output', 'json');
    expect(j.code).toBe(0);
    const warnings = j.stdout.split('\n').filter((l) => l.startsWith('{"type":"warning"')).map((l) => JSON.parse(l) as { kind: string; file: string; expired: boolean });
    expect(warnings).toEqual([expect.objectContaining({ kind: 'certificate-expiry', file: 'admin.crt', expired: false })]);
    // Expired (issued 400 days ago for 10 days): the pki smoke test fails, exit 1.
    await rm(p.admin.cert);
    await ensurePki(ws, pkiInput(spec), { validityDays: { admin: 10 }, now: new Date(Date.now() - 400 * 86_400_000) });
    const e = await cli('test', '--limit', 'etcd');
    expect(e.code).toBe(1);
    expect(e.stdout).toMatch(/local +no certificate has expired +FAIL: expired: admin\.crt \(390 days ago\)/);
    expect(e.stdout).toContain('admin.crt expired 390 days ago');
  }, 300_000);
});
