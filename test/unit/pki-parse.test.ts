// parseCertificate reads certificates with node:crypto's X509Certificate alone (no node-forge: the PKI
// check of every no-op converge runs it on each certificate of the store). Certificates here are made by
// the real `openssl` CLI with what our own issuer never writes (IPv6 and upper-case SANs, an email SAN,
// escaped subject values, an extra OU), so the parser is checked against a second implementation.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/pki/x509.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kc-x509-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function opensslCert(name: string, subj: string, ext: string[]): { pem: string; openssl: (flag: string) => string } {
  const crt = path.join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', crt, '-days', '40', '-subj', subj, ...ext.flatMap((e) => ['-addext', e])], { stdio: 'pipe' });
  return { pem: readFileSync(crt, 'utf8'), openssl: (flag) => execFileSync('openssl', ['x509', '-in', crt, '-noout', flag], { encoding: 'utf8' }).trim() };
}

describe('parseCertificate (native X509Certificate)', () => {
  it('reads subject, SANs, extKeyUsage, CA flag and validity as openssl made them', () => {
    const c = opensslCert('leaf', '/O=system:nodes/O=a, b/CN=system:node:W1 "x"/OU=extra', [
      'subjectAltName=DNS:Kube.Example,IP:fd00:0::1,IP:10.0.0.1,email:x@example.org,DNS:b.local',
      'extendedKeyUsage=clientAuth,serverAuth',
      'basicConstraints=critical,CA:FALSE',
    ]);
    const p = parseCertificate(c.pem);
    expect(p.subject).toEqual([
      ['O', 'system:nodes'],
      ['O', 'a, b'],
      ['CN', 'system:node:W1 "x"'],
    ]);
    expect(p.subjectText).toBe('OU=extra, CN=system:node:W1 "x", O=a, b, O=system:nodes');
    expect(p.issuerText).toBe(p.subjectText);
    expect(p.sans).toEqual(['DNS:kube.example', 'IP:fd00::1', 'IP:10.0.0.1', 'DNS:b.local']);
    expect(p.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(p.isCa).toBe(false);
    expect(p.notAfter).toEqual(new Date(c.openssl('-enddate').replace('notAfter=', '')));
    expect(p.notBefore).toEqual(new Date(c.openssl('-startdate').replace('notBefore=', '')));
    expect(p.notAfter.getTime() - p.notBefore.getTime()).toBe(40 * 86_400_000);
  });

  it('a CA without SANs or extKeyUsage', () => {
    const p = parseCertificate(opensslCert('ca', '/CN=kcore-ca', ['basicConstraints=critical,CA:TRUE']).pem);
    expect(p).toMatchObject({ subject: [['CN', 'kcore-ca']], sans: [], extKeyUsage: [], isCa: true });
  });

  it('only serverAuth', () => {
    expect(parseCertificate(opensslCert('srv', '/CN=s', ['extendedKeyUsage=serverAuth']).pem).extKeyUsage).toEqual(['serverAuth']);
  });
});
