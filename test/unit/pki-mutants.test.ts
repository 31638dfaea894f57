// The PKI's pure parts without generating a key: the certificate catalogue (subjects, SANs, usages,
// issuers, purposes), input checks, address helpers, expiry wording, the file listing and the table.
// Found by `npm run test:mutation`; pki.test.ts proves the same catalogue on real certificates.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  certificateProfiles,
  expiryReason,
  firstServiceIp,
  formatCertificateTable,
  listCertificates,
  pkiPaths,
  PkiError,
  purposeOf,
  type CertificateInfo,
  type PkiInput,
} from '../../src/pki/index.js';
import { formatDn, sanEntry } from '../../src/pki/x509.js';

const input: PkiInput = {
  clusterName: 'demo',
  clusterDomain: 'k8s.test',
  serviceCidr: '10.96.0.0/16',
  etcd: [{ name: 'etcd-1', ip: '10.0.0.11' }],
  masters: [{ name: 'master-1', ip: '10.0.0.101' }],
  workers: [{ name: 'worker-1', ip: '10.0.0.201' }],
};

const byId = (inp: PkiInput) => new Map(certificateProfiles(inp).map((p) => [p.id, p]));

describe('certificate catalogue', () => {
  it('every certificate, CAs first, with its subject, usages and issuer', () => {
    expect(
      certificateProfiles(input).map((p) => [p.id, p.subject.map(([k, v]) => `${k}=${v}`).join(','), p.extKeyUsage.join('+'), p.isCa, p.issuer]),
    ).toEqual([
      ['ca', 'CN=kubernetes-ca', '', true, null],
      ['etcd/ca', 'CN=etcd-ca', '', true, null],
      ['apiserver', 'CN=kube-apiserver', 'serverAuth', false, 'ca'],
      ['apiserver-kubelet-client', 'O=system:masters,CN=kube-apiserver-kubelet-client', 'clientAuth', false, 'ca'],
      ['admin', 'O=system:masters,CN=kube-admin', 'clientAuth', false, 'ca'],
      ['controller-manager', 'CN=system:kube-controller-manager', 'clientAuth', false, 'ca'],
      ['scheduler', 'CN=system:kube-scheduler', 'clientAuth', false, 'ca'],
      ['kube-proxy', 'O=system:node-proxier,CN=system:kube-proxy', 'clientAuth', false, 'ca'],
      ['flannel', 'CN=kcore:flannel', 'clientAuth', false, 'ca'],
      ['kubelet/master-1', 'O=system:nodes,CN=system:node:master-1', 'serverAuth+clientAuth', false, 'ca'],
      ['kubelet/worker-1', 'O=system:nodes,CN=system:node:worker-1', 'serverAuth+clientAuth', false, 'ca'],
      ['etcd/server-etcd-1', 'CN=etcd-1', 'serverAuth+clientAuth', false, 'etcd/ca'],
      ['etcd/peer-etcd-1', 'CN=etcd-1', 'serverAuth+clientAuth', false, 'etcd/ca'],
      ['etcd/apiserver-etcd-client', 'CN=kube-apiserver-etcd-client', 'clientAuth', false, 'etcd/ca'],
      ['etcd/kcore-etcd-client', 'CN=kcore-etcd-client', 'clientAuth', false, 'etcd/ca'],
      ['etcd/healthcheck-client', 'CN=kube-etcd-healthcheck-client', 'clientAuth', false, 'etcd/ca'],
    ]);
  });

  it('SANs: the API server answers to its service names, the service IP, every master, localhost and the extra names; others have none', () => {
    const p = byId({ ...input, masters: [...input.masters, { name: 'master-2', ip: '10.0.0.102' }], apiServerExtraSans: ['LB.Example.com', '10.0.0.100', 'localhost'] });
    expect(p.get('apiserver')!.sans).toEqual([
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.k8s.test',
      'IP:10.96.0.1',
      'DNS:master-1',
      'IP:10.0.0.101',
      'DNS:master-2',
      'IP:10.0.0.102',
      'IP:127.0.0.1',
      'DNS:localhost',
      'DNS:lb.example.com',
      'IP:10.0.0.100',
    ]);
    expect(p.get('kubelet/master-2')!.sans).toEqual(['DNS:master-2', 'IP:10.0.0.102']);
    expect(p.get('etcd/server-etcd-1')!.sans).toEqual(['DNS:etcd-1', 'IP:10.0.0.11', 'IP:127.0.0.1', 'DNS:localhost']);
    expect(p.get('etcd/peer-etcd-1')!.sans).toEqual(p.get('etcd/server-etcd-1')!.sans);
    for (const id of ['ca', 'etcd/ca', 'admin', 'flannel', 'etcd/kcore-etcd-client']) expect(p.get(id)!.sans, id).toEqual([]);
  });

  it('a node that is master and worker gets one kubelet certificate', () => {
    const both = certificateProfiles({ ...input, workers: [...input.workers, { name: 'master-1', ip: '10.0.0.101' }] });
    expect(both.filter((p) => p.id.startsWith('kubelet/')).map((p) => p.id)).toEqual(['kubelet/master-1', 'kubelet/worker-1']);
  });

  it('every purpose says what the certificate is for, naming its holder', () => {
    const p = byId(input);
    const expected: Record<string, RegExp> = {
      ca: /^Cluster CA of demo: /,
      'etcd/ca': /^etcd CA: signs etcd server, peer and client/,
      apiserver: /^Serving certificate of kube-apiserver/,
      'apiserver-kubelet-client': /kube-apiserver presents to kubelets/,
      admin: /^Cluster-admin client certificate/,
      'controller-manager': /kube-controller-manager/,
      scheduler: /kube-scheduler/,
      'kube-proxy': /kube-proxy/,
      flannel: /flanneld .*user kcore:flannel/,
      'kubelet/worker-1': /^Kubelet of worker-1: /,
      'etcd/server-etcd-1': /^etcd member etcd-1: serves clients on port 2379/,
      'etcd/peer-etcd-1': /^etcd member etcd-1: talks to the other members on port 2380/,
      'etcd/apiserver-etcd-client': /kube-apiserver uses to store cluster state in etcd/,
      'etcd/kcore-etcd-client': /kcore-wizard uses for etcdctl/,
      'etcd/healthcheck-client': /etcd health checks/,
    };
    for (const [id, re] of Object.entries(expected)) expect(p.get(id)!.purpose, id).toMatch(re);
  });

  it('refuses bad input with the role and the value', () => {
    const bad = (patch: Partial<PkiInput>) => () => certificateProfiles({ ...input, ...patch });
    expect(bad({ workers: [{ name: 'Worker_1', ip: '10.0.0.1' }] })).toThrow('worker node name "Worker_1" is not a lowercase DNS name (RFC 1123)');
    expect(bad({ masters: [{ name: 'm', ip: '10.0.0.300' }] })).toThrow('master node m: "10.0.0.300" is not an IP address');
    expect(bad({ etcd: [input.etcd[0]!, input.etcd[0]!] })).toThrow('etcd node etcd-1 is listed twice');
    expect(bad({ etcd: [] })).toThrow('at least one etcd node is needed');
    expect(bad({ masters: [] })).toThrow('at least one master node is needed');
    expect(bad({ clusterDomain: 'Bad_Domain' })).toThrow('clusterDomain "Bad_Domain" is not a DNS name');
    expect(bad({ workers: [{ name: 'master-1', ip: '10.0.0.9' }] })).toThrow('node master-1 appears with two addresses: 10.0.0.101 and 10.0.0.9');
    expect(bad({ workers: [{ name: `${'a'.repeat(250)}.bcd`, ip: '10.0.0.9' }] })).toThrow(/is not a lowercase DNS name/);
    expect(bad({ etcd: [{ name: '-x', ip: '10.0.0.9' }] })).toThrow(PkiError);
    expect(bad({ etcd: [{ name: 'x-', ip: '10.0.0.9' }] })).toThrow(PkiError);
    // Dotted names (FQDNs) are fine, up to 253 characters.
    expect(bad({ workers: [{ name: `${'a'.repeat(249)}.bcd`, ip: '10.0.0.9' }] })).not.toThrow();
    expect(bad({ workers: [{ name: 'w1.lab.example', ip: '10.0.0.9' }] })).not.toThrow();
  });
});

describe('purposes of certificates found on disk', () => {
  it('a known id, one issued for a node or member, and a foreign file', () => {
    expect(purposeOf('scheduler')).toBe('Client certificate of kube-scheduler.');
    expect(purposeOf('etcd/ca')).toBe('etcd CA: signs etcd server, peer and client certificates.');
    expect(purposeOf('kubelet/w9')).toBe('Kubelet of w9: serves the kubelet API and authenticates the node.');
    expect(purposeOf('etcd/server-e9')).toBe('etcd member e9: serves clients on port 2379.');
    expect(purposeOf('etcd/peer-e9')).toBe('etcd member e9: talks to the other members on port 2380.');
    expect(purposeOf('mine')).toBe('Not issued by kcore-wizard.');
    expect(purposeOf('kubelet/')).toBe('Not issued by kcore-wizard.');
    const profiles = certificateProfiles(input);
    expect(purposeOf('admin', profiles)).toBe(profiles.find((p) => p.id === 'admin')!.purpose);
  });

  it('every fixed id has its own sentence naming its component', () => {
    const names: Record<string, string> = {
      ca: 'Cluster CA',
      apiserver: 'kube-apiserver',
      'apiserver-kubelet-client': 'kubelets',
      admin: 'admin kubeconfig',
      'controller-manager': 'kube-controller-manager',
      'kube-proxy': 'kube-proxy',
      flannel: 'flanneld',
      'etcd/apiserver-etcd-client': 'towards etcd',
      'etcd/kcore-etcd-client': 'etcdctl',
      'etcd/healthcheck-client': 'health checks',
    };
    for (const [id, word] of Object.entries(names)) expect(purposeOf(id), id).toContain(word);
  });
});

describe('addresses and names', () => {
  it('IPv6 canonical form (RFC 5952): lower case, longest zero run as ::, the first of equal runs, no :: for one group', () => {
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('fe80::')).toBe('fe80::');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(canonicalIp('010.000.000.001')).toBeNull();
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('host')).toBeNull();
  });

  it('first service IP of IPv4 and IPv6 ranges; a range too small or not a CIDR is refused', () => {
    expect(firstServiceIp('10.96.5.0/16')).toBe('10.96.0.1');
    expect(firstServiceIp(' 10.3.0.0/24 ')).toBe('10.3.0.1');
    expect(firstServiceIp('10.3.0.0/30')).toBe('10.3.0.1');
    expect(firstServiceIp('fd00:10:96::/112')).toBe('fd00:10:96::1');
    expect(firstServiceIp('fd00::/126')).toBe('fd00::1');
    expect(() => firstServiceIp('10.3.0.0/31')).toThrow('serviceCidr 10.3.0.0/31 is too small to hold services');
    expect(() => firstServiceIp('fd00::/127')).toThrow(PkiError);
    expect(() => firstServiceIp('10.3.0.0')).toThrow('serviceCidr "10.3.0.0" is not a CIDR such as 10.3.0.0/24');
    expect(() => firstServiceIp('ten/24')).toThrow(PkiError);
  });

  it('SAN entries and distinguished names as openssl and RFC 4514 print them', () => {
    expect(sanEntry('Master-1.Example')).toBe('DNS:master-1.example');
    expect(sanEntry('2001:DB8::0:1')).toBe('IP:2001:db8::1');
    expect(formatDn([
      ['O', 'system:nodes'],
      ['CN', 'system:node:w1'],
    ])).toBe('CN=system:node:w1, O=system:nodes');
  });

  it('typed paths of every file of the store', () => {
    const p = pkiPaths('/ws');
    expect([p.root, p.ca.cert, p.ca.key, p.etcd.dir]).toEqual(['/ws/pki', '/ws/pki/ca.crt', '/ws/pki/ca.key', '/ws/pki/etcd']);
    expect([p.apiserverKubeletClient.id, p.controllerManager.id, p.kubeProxy.id, p.flannel.id, p.scheduler.id, p.admin.id]).toEqual([
      'apiserver-kubelet-client',
      'controller-manager',
      'kube-proxy',
      'flannel',
      'scheduler',
      'admin',
    ]);
    expect(p.serviceAccount).toEqual({ id: 'sa', key: '/ws/pki/sa.key', pub: '/ws/pki/sa.pub' });
    expect(p.kubelet('w1')).toEqual({ id: 'kubelet/w1', cert: '/ws/pki/kubelet/w1.crt', key: '/ws/pki/kubelet/w1.key' });
    expect([p.etcd.server('e1').cert, p.etcd.peer('e1').key]).toEqual(['/ws/pki/etcd/server-e1.crt', '/ws/pki/etcd/peer-e1.key']);
    expect([p.etcd.ca.id, p.etcd.apiserverClient.id, p.etcd.kcoreClient.id, p.etcd.healthcheckClient.id]).toEqual([
      'etcd/ca',
      'etcd/apiserver-etcd-client',
      'etcd/kcore-etcd-client',
      'etcd/healthcheck-client',
    ]);
  });
});

describe('expiry wording', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const at = (days: number) => new Date(now.getTime() + days * 86_400_000);
  it('nothing beyond the threshold; days left, or days since expiry, in the singular or plural', () => {
    expect(expiryReason(at(30), now, 30)).toBeNull();
    expect(expiryReason(at(29.5), now, 30)).toBe('expires in 29 days');
    expect(expiryReason(at(1.2), now, 30)).toBe('expires in 1 day');
    expect(expiryReason(at(0), now, 30)).toBe('expired 0 days ago');
    expect(expiryReason(at(-1), now, 30)).toBe('expired 1 day ago');
    expect(expiryReason(at(-3.5), now, 30)).toBe('expired 3 days ago');
  });
});

describe('listing and table', () => {
  it('lists CAs first, then leaves, kubelets, the etcd CA and etcd leaves; finds keys; unreadable files are said so', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-pki-m-'));
    const root = path.join(ws, 'pki');
    await mkdir(path.join(root, 'kubelet'), { recursive: true });
    await mkdir(path.join(root, 'etcd'), { recursive: true });
    for (const f of ['etcd/peer-e1.crt', 'kubelet/w10.crt', 'kubelet/w2.crt', 'admin.crt', 'etcd/ca.crt', 'ca.crt', 'apiserver.crt', 'etcd/ca.key', 'admin.key', 'notes.txt'])
      await writeFile(path.join(root, f), 'not a certificate\n');
    const list = await listCertificates(ws);
    expect(list.map((c) => [c.file, c.keyFile])).toEqual([
      ['ca.crt', null],
      ['admin.crt', 'admin.key'],
      ['apiserver.crt', null],
      ['kubelet/w2.crt', null],
      ['kubelet/w10.crt', null],
      ['etcd/ca.crt', 'etcd/ca.key'],
      ['etcd/peer-e1.crt', null],
    ]);
    expect(list[0]).toEqual({
      file: 'ca.crt',
      subject: '(unreadable)',
      issuer: '',
      sans: [],
      notBefore: new Date(0),
      notAfter: new Date(0),
      daysLeft: 0,
      isCa: false,
      extKeyUsage: [],
      purpose: 'Cluster CA: signs the API server, kubelet and component certificates.',
      keyFile: null,
    });
    expect(await listCertificates(path.join(ws, 'nowhere'))).toEqual([]);
  });

  it("orders names within a group as ICU's numeric \"en\" collation does, numbers compared as numbers", async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-pki-m-'));
    try {
      const root = path.join(ws, 'pki');
      await mkdir(path.join(root, 'kubelet'), { recursive: true });
      await mkdir(path.join(root, 'etcd'), { recursive: true });
      const leaves = ['apiserver.crt', 'apiserver-kubelet-client.crt', 'admin.crt', 'front-proxy-client.crt', 'kube-proxy.crt', 'kube2.crt', 'kube10.crt'];
      const kubelets = ['kubelet/kube-worker-10.crt', 'kubelet/kube-worker-2.crt', 'kubelet/kube-master-01.crt', 'kubelet/kube-worker-1.crt', 'kubelet/kube-worker.crt'];
      const etcd = ['etcd/peer-etcd-10.crt', 'etcd/peer-etcd-02.crt', 'etcd/server-etcd-9.crt', 'etcd/server-etcd-10.crt', 'etcd/healthcheck-client.crt', 'etcd/kcore-etcd-client.crt'];
      for (const f of [...leaves, ...kubelets, ...etcd]) await writeFile(path.join(root, f), 'x\n');
      const icu = new Intl.Collator('en', { numeric: true });
      const want = [leaves, kubelets, etcd].flatMap((g) => [...g].sort(icu.compare));
      expect((await listCertificates(ws)).map((c) => c.file)).toEqual(want);
    } finally {
      await rm(ws, { recursive: true, force: true });
    }
  });

  const info = (over: Partial<CertificateInfo>): CertificateInfo => ({
    file: 'admin.crt',
    subject: 'CN=kube-admin, O=system:masters',
    issuer: 'CN=kubernetes-ca',
    sans: [],
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    daysLeft: 200,
    isCa: false,
    extKeyUsage: ['clientAuth'],
    purpose: 'Cluster-admin.',
    keyFile: 'admin.key',
    ...over,
  });

  it('columns padded to the widest cell, the last one not; self-signed, expired, expiring and unreadable marked; a count line', () => {
    const table = formatCertificateTable([
      info({ file: 'ca.crt', subject: 'CN=kubernetes-ca', issuer: 'CN=kubernetes-ca', daysLeft: 3000, purpose: 'CA.' }),
      info({ daysLeft: -2 }),
      info({ file: 'kubelet/w1.crt', daysLeft: 29, sans: ['w1', '10.0.0.1', 'a', 'b'] }),
      info({ file: 'x.crt', subject: '(unreadable)', issuer: '', daysLeft: 0, purpose: 'Not issued by kcore-wizard.' }),
    ]);
    expect(table.split('\n')).toEqual([
      'FILE            SUBJECT                          ISSUER            EXPIRES     DAYS LEFT  SANS                    PURPOSE',
      'ca.crt          CN=kubernetes-ca                 (self-signed)     2027-01-01  3000       -                       CA.',
      'admin.crt       CN=kube-admin, O=system:masters  CN=kubernetes-ca  2027-01-01  EXPIRED    -                       Cluster-admin.',
      'kubelet/w1.crt  CN=kube-admin, O=system:masters  CN=kubernetes-ca  2027-01-01  29 !       w1, 10.0.0.1 (+2 more)  Cluster-admin.',
      'x.crt           (unreadable)                                       -           -          -                       Not issued by kcore-wizard.',
      '',
      '4 certificates, 2 expiring within 30 days or expired (!)',
    ]);
  });

  it('--wide shows every SAN; three are shown whole; a custom warning window; one certificate in the singular', () => {
    const three = info({ sans: ['a', 'b', 'c'], daysLeft: 40 });
    expect(formatCertificateTable([three])).toContain('a, b, c');
    expect(formatCertificateTable([info({ sans: ['a', 'b', 'c', 'd'] })], { wide: true })).toContain('a, b, c, d');
    const t = formatCertificateTable([three], { warnDays: 60 });
    expect(t).toContain('40 !');
    expect(t.split('\n').at(-1)).toBe('1 certificate, 1 expiring within 60 days or expired (!)');
    expect(formatCertificateTable([three]).split('\n').at(-1)).toBe('1 certificate');
    expect(formatCertificateTable([info({ daysLeft: 30 })]).split('\n').at(-1)).toBe('1 certificate');
  });
});
