import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  canonicalIp,
  ensurePki,
  firstServiceIp,
  formatCertificateTable,
  listCertificates,
  pkiPaths,
  PkiError,
  readPem,
  type PkiInput,
} from '../../src/pki/index.js';

const run = promisify(execFile);
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY = 86_400_000;

const input: PkiInput = {
  clusterName: 'demo',
  clusterDomain: 'cluster.local',
  serviceCidr: '10.3.0.0/24',
  etcd: [1, 2, 3].map((i) => ({ name: `etcd-${i}`, ip: `10.0.0.1${i}` })),
  masters: [1, 2].map((i) => ({ name: `master-${i}`, ip: `10.0.0.10${i}` })),
  workers: [1, 2, 3].map((i) => ({ name: `worker-${i}`, ip: `10.0.0.20${i}` })),
};
const clusterLeaves = [
  'apiserver',
  'apiserver-kubelet-client',
  'admin',
  'controller-manager',
  'scheduler',
  'kube-proxy',
  'flannel',
  ...['master-1', 'master-2', 'worker-1', 'worker-2', 'worker-3'].map((n) => `kubelet/${n}`),
];
const etcdLeaves = [
  ...[1, 2, 3].flatMap((i) => [`etcd/server-etcd-${i}`, `etcd/peer-etcd-${i}`]),
  'etcd/apiserver-etcd-client',
  'etcd/kcore-etcd-client',
  'etcd/healthcheck-client',
];
const allIds = ['ca', 'etcd/ca', ...clusterLeaves, ...etcdLeaves, 'sa'];

let tmp: string;
let base: string; // a complete PKI made once; every mutating test works on a copy
let firstRun: Awaited<ReturnType<typeof ensurePki>>;
let forgeKeygen: { mock: { calls: unknown[] } };

async function copyOfBase(name: string): Promise<string> {
  const ws = path.join(tmp, name);
  await fs.cp(base, ws, { recursive: true });
  return ws;
}

async function cert(ws: string, id: string): Promise<X509Certificate> {
  return new X509Certificate(await fs.readFile(path.join(ws, 'pki', `${id}.crt`)));
}

async function snapshot(ws: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(path.relative(ws, p), await fs.readFile(p, 'utf8'));
    }
  };
  await walk(path.join(ws, 'pki'));
  return out;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kcore-pki-'));
  base = path.join(tmp, 'base');
  forgeKeygen = vi.spyOn(forge.pki.rsa, 'generateKeyPair');
  firstRun = await ensurePki(base, input);
}, 120_000);

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('ensurePki on an empty workspace', () => {
  it('creates every certificate, with a reason, and never uses forge key generation', () => {
    expect(firstRun.changed).toEqual(allIds);
    expect(firstRun.kept).toEqual([]);
    for (const id of allIds) expect(firstRun.reasons[id]).toBe('missing');
    expect(forgeKeygen).not.toHaveBeenCalled();
  });

  it('issues CAs: self-signed, CA:TRUE, 10 years, RSA 4096', async () => {
    for (const [id, cn] of [
      ['ca', 'kubernetes-ca'],
      ['etcd/ca', 'etcd-ca'],
    ] as const) {
      const c = await cert(base, id);
      expect(c.subject).toBe(`CN=${cn}`);
      expect(c.issuer).toBe(c.subject);
      expect(c.ca).toBe(true);
      expect(c.verify(c.publicKey)).toBe(true);
      expect(c.publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
      const years = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / (365 * DAY);
      expect(years).toBeGreaterThan(9.9);
      expect(years).toBeLessThan(10.1);
    }
  });

  it('issues every leaf with the right subject, SANs, extKeyUsage, issuer and 1-year RSA 2048 keys', async () => {
    const expected: Record<string, { subject: string; sans?: string; eku: string[]; issuer: string }> = {
      apiserver: {
        subject: 'CN=kube-apiserver',
        sans:
          'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, ' +
          'IP Address:10.3.0.1, DNS:master-1, IP Address:10.0.0.101, DNS:master-2, IP Address:10.0.0.102, ' +
          'IP Address:127.0.0.1, DNS:localhost',
        eku: [SERVER_AUTH],
        issuer: 'ca',
      },
      'apiserver-kubelet-client': { subject: 'O=system:masters\nCN=kube-apiserver-kubelet-client', eku: [CLIENT_AUTH], issuer: 'ca' },
      admin: { subject: 'O=system:masters\nCN=kube-admin', eku: [CLIENT_AUTH], issuer: 'ca' },
      'controller-manager': { subject: 'CN=system:kube-controller-manager', eku: [CLIENT_AUTH], issuer: 'ca' },
      scheduler: { subject: 'CN=system:kube-scheduler', eku: [CLIENT_AUTH], issuer: 'ca' },
      'kube-proxy': { subject: 'O=system:node-proxier\nCN=system:kube-proxy', eku: [CLIENT_AUTH], issuer: 'ca' },
      // flanneld: its own user, never a node identity (the Node authorizer would confine it to its own Node).
      flannel: { subject: 'CN=kcore:flannel', eku: [CLIENT_AUTH], issuer: 'ca' },
      'etcd/apiserver-etcd-client': { subject: 'CN=kube-apiserver-etcd-client', eku: [CLIENT_AUTH], issuer: 'etcd/ca' },
      'etcd/kcore-etcd-client': { subject: 'CN=kcore-etcd-client', eku: [CLIENT_AUTH], issuer: 'etcd/ca' },
      'etcd/healthcheck-client': { subject: 'CN=kube-etcd-healthcheck-client', eku: [CLIENT_AUTH], issuer: 'etcd/ca' },
    };
    for (const n of [...input.masters, ...input.workers]) {
      expected[`kubelet/${n.name}`] = {
        subject: `O=system:nodes\nCN=system:node:${n.name}`,
        sans: `DNS:${n.name}, IP Address:${n.ip}`,
        eku: [SERVER_AUTH, CLIENT_AUTH],
        issuer: 'ca',
      };
    }
    for (const n of input.etcd) {
      for (const kind of ['server', 'peer']) {
        expected[`etcd/${kind}-${n.name}`] = {
          subject: `CN=${n.name}`,
          sans: `DNS:${n.name}, IP Address:${n.ip}, IP Address:127.0.0.1, DNS:localhost`,
          eku: [SERVER_AUTH, CLIENT_AUTH],
          issuer: 'etcd/ca',
        };
      }
    }
    expect(Object.keys(expected).sort()).toEqual([...clusterLeaves, ...etcdLeaves].sort());
    const serials = new Set<string>();
    for (const [id, want] of Object.entries(expected)) {
      const c = await cert(base, id);
      const ca = await cert(base, want.issuer);
      expect(c.subject, id).toBe(want.subject);
      expect(c.subjectAltName, id).toBe(want.sans);
      expect([...(c.keyUsage ?? [])].sort(), id).toEqual([...want.eku].sort());
      expect(c.ca, id).toBe(false);
      expect(c.checkIssued(ca), id).toBe(true);
      expect(c.verify(ca.publicKey), id).toBe(true);
      expect(c.publicKey.asymmetricKeyDetails?.modulusLength, id).toBe(2048);
      const days = (Date.parse(c.validTo) - Date.now()) / DAY;
      expect(days, id).toBeGreaterThan(364);
      expect(days, id).toBeLessThanOrEqual(365);
      expect(c.checkPrivateKey(createPrivateKey(await fs.readFile(path.join(base, 'pki', `${id}.key`)))), id).toBe(true);
      expect(/^[0-7]/.test(c.serialNumber), `${id} serial is positive`).toBe(true);
      serials.add(c.serialNumber);
    }
    expect(serials.size).toBe(Object.keys(expected).length);
  });

  it('writes keys 0600, certificates 0644, directories 0700, and leaves no temporary files', async () => {
    const root = pkiPaths(base).root;
    for (const dir of [root, path.join(root, 'etcd'), path.join(root, 'kubelet')]) {
      expect((await fs.stat(dir)).mode & 0o777, dir).toBe(0o700);
    }
    const files = [...(await snapshot(base)).keys()];
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    for (const f of files) {
      const mode = (await fs.stat(path.join(base, f))).mode & 0o777;
      expect(mode, f).toBe(f.endsWith('.key') ? 0o600 : 0o644);
    }
    expect(files.filter((f) => f.endsWith('.key'))).toHaveLength(allIds.length);
  });

  it('writes sa.key and a matching sa.pub, not a certificate', async () => {
    const p = pkiPaths(base).serviceAccount;
    const key = createPrivateKey((await readPem(p.key)) ?? '');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const pub = (await readPem(p.pub)) ?? '';
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    await expect(fs.access(path.join(base, 'pki', 'sa.crt'))).rejects.toThrow();
  });

  it('exposes typed paths', () => {
    const p = pkiPaths('/ws');
    expect(p.etcd.server('etcd-1').cert).toBe('/ws/pki/etcd/server-etcd-1.crt');
    expect(p.kubelet('worker-1').key).toBe('/ws/pki/kubelet/worker-1.key');
    expect(p.ca.cert).toBe('/ws/pki/ca.crt');
    expect(p.serviceAccount.pub).toBe('/ws/pki/sa.pub');
  });
});

describe('ensurePki is idempotent and reissues only what changed', () => {
  it('changes nothing on a second run with the same input', async () => {
    const ws = await copyOfBase('again');
    const before = await snapshot(ws);
    const r = await ensurePki(ws, input);
    expect(r.changed).toEqual([]);
    expect(r.kept).toEqual(allIds);
    expect(r.reasons).toEqual({});
    expect(await snapshot(ws)).toEqual(before);
  });

  it('renewLeaves (certs renew) reissues every leaf with the same CAs, keeps the service-account key, and a next run is quiet', async () => {
    const ws = await copyOfBase('renew');
    const before = await snapshot(ws);
    const r = await ensurePki(ws, input, { renewLeaves: true });
    const leaves = [...clusterLeaves, ...etcdLeaves];
    expect([...r.changed].sort()).toEqual([...leaves].sort());
    for (const id of leaves) expect(r.reasons[id]).toMatch(/^renewal asked for \(was valid until \d{4}-\d{2}-\d{2}\)$/);
    const after = await snapshot(ws);
    for (const f of ['pki/ca.crt', 'pki/ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key', 'pki/sa.key', 'pki/sa.pub']) expect(after.get(f), f).toBe(before.get(f));
    for (const id of leaves) expect(after.get(`pki/${id}.crt`), id).not.toBe(before.get(`pki/${id}.crt`));
    expect((await cert(ws, 'etcd/server-etcd-1')).checkIssued(await cert(ws, 'etcd/ca'))).toBe(true);
    expect((await ensurePki(ws, input)).changed).toEqual([]);
  }, 120_000);

  it('adding a master reissues the API server certificate and adds one kubelet certificate; CAs kept', async () => {
    const ws = await copyOfBase('add-master');
    const before = await snapshot(ws);
    const r = await ensurePki(ws, { ...input, masters: [...input.masters, { name: 'master-3', ip: '10.0.0.103' }] });
    expect(r.changed).toEqual(['apiserver', 'kubelet/master-3']);
    expect(r.reasons.apiserver).toBe('SANs changed: +master-3, +10.0.0.103');
    expect(r.reasons['kubelet/master-3']).toBe('missing');
    const after = await snapshot(ws);
    expect(after.get('pki/ca.crt')).toBe(before.get('pki/ca.crt'));
    expect(after.get('pki/ca.key')).toBe(before.get('pki/ca.key'));
    // the API server keeps its (sound) key; only the certificate changes
    expect(after.get('pki/apiserver.key')).toBe(before.get('pki/apiserver.key'));
    expect(after.get('pki/apiserver.crt')).not.toBe(before.get('pki/apiserver.crt'));
    expect((await cert(ws, 'apiserver')).subjectAltName).toContain('IP Address:10.0.0.103');
    expect((await ensurePki(ws, { ...input, masters: [...input.masters, { name: 'master-3', ip: '10.0.0.103' }] })).changed).toEqual([]);
  });

  it('changing a worker address reissues only that kubelet certificate', async () => {
    const ws = await copyOfBase('move-worker');
    const workers = input.workers.map((w) => (w.name === 'worker-2' ? { ...w, ip: '10.0.0.112' } : w));
    const r = await ensurePki(ws, { ...input, workers });
    expect(r.changed).toEqual(['kubelet/worker-2']);
    expect(r.reasons['kubelet/worker-2']).toBe('SANs changed: +10.0.0.112, -10.0.0.202');
  });

  it('removing nodes archives their certificates (moved, key still 0600, nothing deleted, no orphan left)', async () => {
    const ws = await copyOfBase('remove-worker');
    const p = pkiPaths(ws);
    const before = await snapshot(ws);
    const smaller = { ...input, etcd: input.etcd.slice(0, 2), workers: input.workers.slice(0, 2) };
    // A dry run lists them and moves nothing.
    const dry = await ensurePki(ws, smaller, { dryRun: true });
    expect(dry.orphans).toEqual(['etcd/peer-etcd-3', 'etcd/server-etcd-3', 'kubelet/worker-3']);
    expect(dry.archived).toEqual([]);
    await fs.access(p.kubelet('worker-3').cert);
    const now = new Date('2026-12-02T04:39:14.123Z');
    const r = await ensurePki(ws, smaller, { now });
    expect(r.changed).toEqual([]);
    expect(r.orphans).toEqual(['etcd/peer-etcd-3', 'etcd/server-etcd-3', 'kubelet/worker-3']);
    expect(r.archiveDir).toBe('archive/2026-12-02T04-39-14Z');
    expect(r.archived.sort()).toEqual(['etcd/peer-etcd-3.crt', 'etcd/peer-etcd-3.key', 'etcd/server-etcd-3.crt', 'etcd/server-etcd-3.key', 'kubelet/worker-3.crt', 'kubelet/worker-3.key']);
    const arch = path.join(p.root, 'archive', '2026-12-02T04-39-14Z');
    for (const f of r.archived) {
      // moved byte for byte, and gone from the live store
      expect(await fs.readFile(path.join(arch, f), 'utf8')).toBe(before.get(`pki/${f}`));
      await expect(fs.access(path.join(p.root, f))).rejects.toThrow();
      expect((await fs.stat(path.join(arch, f))).mode & 0o777).toBe(f.endsWith('.key') ? 0o600 : 0o644);
    }
    expect((await fs.stat(arch)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(arch, 'kubelet'))).mode & 0o777).toBe(0o700);
    // Nothing left to archive; the listing does not show archived certificates.
    const again = await ensurePki(ws, smaller, { now });
    expect(again.orphans).toEqual([]);
    expect(again.archiveDir).toBeNull();
    expect((await listCertificates(ws)).map((c) => c.file).filter((f) => f.includes('worker-3') || f.includes('etcd-3'))).toEqual([]);
    // A key left without its certificate is archived too, into a new folder within the same second.
    await fs.writeFile(path.join(p.root, 'kubelet', 'gone.key'), 'x', { mode: 0o644 });
    const third = await ensurePki(ws, smaller, { now });
    expect(third.archiveDir).toBe('archive/2026-12-02T04-39-14Z-2');
    expect(third.archived).toEqual(['kubelet/gone.key']);
    expect((await fs.stat(path.join(p.root, third.archiveDir!, 'kubelet/gone.key'))).mode & 0o777).toBe(0o600);
  });

  it('reissues a certificate that expires within the threshold, with the days left as reason', async () => {
    const ws = await copyOfBase('expiring');
    await fs.rm(pkiPaths(ws).admin.cert);
    const short = await ensurePki(ws, input, { validityDays: { admin: 12 } });
    expect(short.changed).toEqual(['admin']);
    expect(short.reasons.admin).toBe('certificate missing');
    const shortPem = (await readPem(pkiPaths(ws).admin.cert)) ?? '';
    expect((Date.parse(new X509Certificate(shortPem).validTo) - Date.now()) / DAY).toBeLessThan(12.01);

    // a smaller threshold keeps it
    expect((await ensurePki(ws, input, { renewBeforeDays: 7 })).changed).toEqual([]);
    // the default 30-day threshold renews it
    const renewed = await ensurePki(ws, input);
    expect(renewed.changed).toEqual(['admin']);
    expect(renewed.reasons.admin).toBe('expires in 11 days');
    const c = await cert(ws, 'admin');
    expect((Date.parse(c.validTo) - Date.now()) / DAY).toBeGreaterThan(364);
    expect((await ensurePki(ws, input)).changed).toEqual([]);
  });

  it('renews every leaf, but no CA, when the clock reaches the renewal window', async () => {
    const ws = await copyOfBase('clock');
    const later = new Date(Date.now() + 340 * DAY);
    const r = await ensurePki(ws, input, { now: later, caKeyBits: 2048 });
    expect(r.changed).toEqual([...clusterLeaves, ...etcdLeaves]);
    expect(r.kept).toEqual(['ca', 'etcd/ca', 'sa']);
    expect(r.reasons.admin).toMatch(/^expires in 2[45] days$/);
    const far = await ensurePki(ws, input, { now: new Date(Date.now() + 3600 * DAY) });
    expect(far.warnings.join('\n')).toMatch(/^ca expires in \d+ days: plan a CA rotation/m);
  }, 60_000);

  it('reissues a certificate whose key no longer matches, with a fresh key', async () => {
    const ws = await copyOfBase('mismatch');
    const p = pkiPaths(ws);
    await fs.copyFile(p.admin.key, p.kubelet('worker-1').key);
    const r = await ensurePki(ws, input);
    expect(r.changed).toEqual(['kubelet/worker-1']);
    expect(r.reasons['kubelet/worker-1']).toBe('key does not match the certificate');
    const key = (await readPem(p.kubelet('worker-1').key)) ?? '';
    expect(key).not.toBe(await readPem(p.admin.key));
    expect((await cert(ws, 'kubelet/worker-1')).checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect((await fs.stat(p.kubelet('worker-1').key)).mode & 0o777).toBe(0o600);
  });

  it('reissues a certificate with a missing key, and one replaced by a foreign CA', async () => {
    const ws = await copyOfBase('foreign');
    const p = pkiPaths(ws);
    await fs.rm(p.scheduler.key);
    // an etcd-CA-signed certificate in the place of a cluster-CA one
    await fs.copyFile(p.etcd.kcoreClient.cert, p.controllerManager.cert);
    await fs.copyFile(p.etcd.kcoreClient.key, p.controllerManager.key);
    const r = await ensurePki(ws, input);
    expect(r.changed).toEqual(['controller-manager', 'scheduler']);
    expect(r.reasons.scheduler).toBe('key missing');
    expect(r.reasons['controller-manager']).toBe(
      'not signed by the current ca; subject changed: CN=kcore-etcd-client → CN=system:kube-controller-manager',
    );
  });

  it('recreates a deleted CA and reissues everything it signed, leaving the other CA alone', async () => {
    const ws = await copyOfBase('new-ca');
    const before = await snapshot(ws);
    await fs.rm(pkiPaths(ws).ca.cert);
    await fs.rm(pkiPaths(ws).ca.key);
    const r = await ensurePki(ws, input, { caKeyBits: 2048 });
    expect(r.changed).toEqual(['ca', ...clusterLeaves]);
    expect(r.reasons.admin).toBe('ca was created');
    const after = await snapshot(ws);
    expect(after.get('pki/etcd/ca.crt')).toBe(before.get('pki/etcd/ca.crt'));
    expect(after.get('pki/sa.key')).toBe(before.get('pki/sa.key'));
  }, 60_000);

  it('refuses to replace a CA whose key is missing', async () => {
    const ws = await copyOfBase('lost-ca-key');
    await fs.rm(pkiPaths(ws).etcd.ca.key);
    await expect(ensurePki(ws, input)).rejects.toThrow(PkiError);
    await expect(ensurePki(ws, input)).rejects.toThrow(/etcd\/ca\.crt exists but etcd\/ca\.key is missing/);
  });

  it('keeps sa.key and rewrites a missing sa.pub from it', async () => {
    const ws = await copyOfBase('sa');
    const p = pkiPaths(ws).serviceAccount;
    const pub = await readPem(p.pub);
    const key = await readPem(p.key);
    await fs.rm(p.pub);
    const r = await ensurePki(ws, input);
    expect(r.changed).toEqual(['sa']);
    expect(await readPem(p.pub)).toBe(pub);
    expect(await readPem(p.key)).toBe(key);
  });

  it('rejects invalid input before touching the disk', async () => {
    const ws = path.join(tmp, 'invalid');
    const bad = { ...input, workers: [{ name: '../evil', ip: '10.0.0.9' }] };
    await expect(ensurePki(ws, bad)).rejects.toThrow(/not a lowercase DNS name/);
    await expect(ensurePki(ws, { ...input, serviceCidr: 'nope' })).rejects.toThrow(/serviceCidr/);
    await expect(ensurePki(ws, { ...input, workers: [{ name: 'master-1', ip: '10.0.0.9' }] })).rejects.toThrow(/two addresses/);
    await expect(fs.access(ws)).rejects.toThrow();
  });
});

describe('key generation backends', () => {
  it('worker threads produce the same PKI as the threadpool, and exit cleanly', async () => {
    const ws = path.join(tmp, 'workers');
    const r = await ensurePki(ws, input, { keygen: 'workers', concurrency: 2, caKeyBits: 2048 });
    expect(r.changed).toEqual(allIds);
    for (const id of [...clusterLeaves, ...etcdLeaves]) {
      const c = await cert(ws, id);
      expect(c.checkPrivateKey(createPrivateKey(await fs.readFile(path.join(ws, 'pki', `${id}.key`)))), id).toBe(true);
      expect(c.verify((await cert(ws, id.startsWith('etcd/') ? 'etcd/ca' : 'ca')).publicKey), id).toBe(true);
    }
    expect((await ensurePki(ws, input, { keygen: 'workers' })).changed).toEqual([]);
  }, 60_000);
});

describe('address helpers', () => {
  it('finds the first service IP', () => {
    expect(firstServiceIp('10.3.0.0/24')).toBe('10.3.0.1');
    expect(firstServiceIp('10.96.0.0/12')).toBe('10.96.0.1');
    expect(firstServiceIp('10.3.0.7/24')).toBe('10.3.0.1');
    expect(firstServiceIp('fd00:10:96::/112')).toBe('fd00:10:96::1');
  });
  it('canonicalises IPs', () => {
    expect(canonicalIp('fd00:0:0:0:0:0:0:1')).toBe('fd00::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('worker-1')).toBeNull();
  });
  it('puts IPv6 and extra SANs into the API server certificate', async () => {
    const ws = await copyOfBase('ipv6');
    const r = await ensurePki(ws, { ...input, apiServerExtraSans: ['api.example.com', '2001:db8::10', '192.168.1.10'] });
    expect(r.changed).toEqual(['apiserver']);
    const san = (await cert(ws, 'apiserver')).subjectAltName ?? '';
    expect(san).toContain('DNS:api.example.com');
    expect(san).toContain('IP Address:2001:DB8:0:0:0:0:0:10');
    expect(san).toContain('IP Address:192.168.1.10');
    expect((await ensurePki(ws, { ...input, apiServerExtraSans: ['api.example.com', '2001:db8:0::10', '192.168.1.10'] })).changed).toEqual([]);
  });
});

describe('listCertificates / formatCertificateTable', () => {
  it('lists every certificate with its purpose and key file, CAs first', async () => {
    const list = await listCertificates(base);
    expect(list).toHaveLength(allIds.length - 1); // sa has no certificate
    expect(list[0]?.file).toBe('ca.crt');
    const apiserver = list.find((c) => c.file === 'apiserver.crt');
    expect(apiserver?.sans).toContain('10.3.0.1');
    expect(apiserver?.issuer).toBe('CN=kubernetes-ca');
    expect(apiserver?.keyFile).toBe('apiserver.key');
    expect(apiserver?.daysLeft).toBe(364);
    expect(apiserver?.extKeyUsage).toEqual(['serverAuth']);
    const kubelet = list.find((c) => c.file === 'kubelet/worker-1.crt');
    expect(kubelet?.subject).toBe('CN=system:node:worker-1, O=system:nodes');
    expect(kubelet?.purpose).toMatch(/^Kubelet of worker-1/);
    for (const c of list) expect(c.purpose.length, c.file).toBeGreaterThan(10);
  });

  it('prints a table without key material', async () => {
    const table = formatCertificateTable(await listCertificates(base));
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^FILE\s+SUBJECT\s+ISSUER\s+EXPIRES\s+DAYS LEFT\s+SANS\s+PURPOSE$/);
    expect(table).toContain('etcd/server-etcd-1.crt');
    expect(table).toContain('(self-signed)');
    expect(table).toMatch(/23 certificates$/);
    expect(table).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it('flags expiring certificates', async () => {
    const list = await listCertificates(base, new Date(Date.now() + 350 * DAY));
    const table = formatCertificateTable(list);
    expect(table).toMatch(/admin\.crt .* 14 !/);
    expect(table).toMatch(/21 expiring within 30 days or expired \(!\)$/);
  });
});

describe('openssl accepts the PKI', () => {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: path.join(base, 'pki') });

  it('verifies every certificate against its CA', async () => {
    const cluster = await openssl('verify', '-x509_strict', '-CAfile', 'ca.crt', ...clusterLeaves.map((id) => `${id}.crt`));
    expect(cluster.stdout.trim().split('\n')).toEqual(clusterLeaves.map((id) => `${id}.crt: OK`));
    const etcd = await openssl('verify', '-x509_strict', '-CAfile', 'etcd/ca.crt', ...etcdLeaves.map((id) => `${id}.crt`));
    expect(etcd.stdout.trim().split('\n')).toEqual(etcdLeaves.map((id) => `${id}.crt: OK`));
    // and not across CAs
    await expect(openssl('verify', '-CAfile', 'ca.crt', 'etcd/server-etcd-1.crt')).rejects.toThrow();
  });

  it('verifies purposes', async () => {
    await openssl('verify', '-purpose', 'sslserver', '-CAfile', 'ca.crt', 'apiserver.crt', 'kubelet/worker-1.crt');
    await openssl('verify', '-purpose', 'sslclient', '-CAfile', 'ca.crt', 'admin.crt', 'kubelet/worker-1.crt');
    await openssl('verify', '-purpose', 'sslserver', '-CAfile', 'etcd/ca.crt', 'etcd/peer-etcd-2.crt', 'etcd/server-etcd-2.crt');
    await expect(openssl('verify', '-purpose', 'sslserver', '-CAfile', 'ca.crt', 'admin.crt')).rejects.toThrow();
  });

  it('shows SANs and extensions in x509 -text', async () => {
    const { stdout } = await openssl('x509', '-noout', '-text', '-in', 'apiserver.crt');
    expect(stdout).toContain('DNS:kubernetes.default.svc.cluster.local, IP Address:10.3.0.1');
    expect(stdout).toContain('IP Address:127.0.0.1, DNS:localhost');
    expect(stdout).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(stdout).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(stdout).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/);
    expect(stdout).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(stdout).toContain('X509v3 Subject Key Identifier');
    const ca = await openssl('x509', '-noout', '-text', '-in', 'ca.crt');
    expect(ca.stdout).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(ca.stdout).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    // the leaf's authority key id is the CA's subject key id
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(ca.stdout)?.[1];
    expect(ski).toBeTruthy();
    expect(stdout).toContain(`Authority Key Identifier: \n                ${ski}`);
  });

  it('accepts every private key with rsa -check', async () => {
    const keys = allIds.map((id) => `${id}.key`);
    for (const k of keys) {
      const { stdout } = await openssl('rsa', '-check', '-noout', '-in', k);
      expect(stdout.trim(), k).toBe('RSA key ok');
    }
  }, 60_000);

  it('x509 -checkend agrees with the validity', async () => {
    await openssl('x509', '-noout', '-checkend', String(300 * 86_400), '-in', 'admin.crt');
    await expect(openssl('x509', '-noout', '-checkend', String(366 * 86_400), '-in', 'admin.crt')).rejects.toThrow();
    await openssl('x509', '-noout', '-checkend', String(9 * 365 * 86_400), '-in', 'ca.crt');
  });

  it('matches each key to its certificate (modulus)', async () => {
    for (const id of ['apiserver', 'etcd/peer-etcd-3', 'ca']) {
      const a = await openssl('x509', '-noout', '-modulus', '-in', `${id}.crt`);
      const b = await openssl('rsa', '-noout', '-modulus', '-in', `${id}.key`);
      expect(a.stdout).toBe(b.stdout);
    }
  });
});

