import { X509Certificate, randomBytes, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { signSha256 } from './keys.js';
import { canonicalIp } from './net.js';
import { PkiError, type ExtKeyUsage } from './types.js';

const DAY_MS = 86_400_000;
/** Issued certificates start 5 minutes in the past, so VMs with a slightly late clock accept them (as kubeadm). */
const BACKDATE_MS = 5 * 60_000;

export type SubjectAttr = readonly ['CN' | 'O', string];

/** What a certificate must look like; derived from the input, compared with what is on disk. */
export interface CertProfile {
  id: string;
  /** In encoding order: O before CN, as `openssl` prints `O = system:nodes, CN = system:node:w1`. */
  subject: SubjectAttr[];
  /** Canonical entries: `DNS:kubernetes`, `IP:10.3.0.1`. */
  sans: string[];
  extKeyUsage: ExtKeyUsage[];
  isCa: boolean;
  /** Id of the signing CA, or null for a self-signed CA. */
  issuer: string | null;
  purpose: string;
}

/** A CA ready to sign: its parsed certificate and private key. */
export interface SigningCa {
  id: string;
  pem: string;
  x509: X509Certificate;
  key: KeyObject;
  notAfter: Date;
}

/** Parsed view of a certificate on disk. */
export interface ParsedCert {
  pem: string;
  x509: X509Certificate;
  subject: SubjectAttr[];
  /** Subject attributes as printed, including ones we never set. */
  subjectText: string;
  issuerText: string;
  sans: string[];
  extKeyUsage: ExtKeyUsage[];
  isCa: boolean;
  notBefore: Date;
  notAfter: Date;
}

export function sanEntry(value: string): string {
  const ip = canonicalIp(value);
  return ip ? `IP:${ip}` : `DNS:${value.toLowerCase()}`;
}

/** `CN=system:node:w1, O=system:nodes` — most specific first, like RFC 4514. */
export function formatDn(attrs: readonly (readonly [string, string])[]): string {
  return [...attrs]
    .reverse()
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Node prints names with RFC 2253 escapes (`\,`, `\+`, `\0A` for control characters): undone here. */
function unescapeDnValue(v: string): string {
  return v.replace(/\\([0-9A-Fa-f]{2}|.)/g, (_, e: string) => (e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : e));
}

/** `x509.subject` / `x509.issuer` (one `key=value` a line, in encoding order) as attribute pairs. */
function nativeAttrs(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const eq = l.indexOf('=');
      return (eq < 0 ? ['?', unescapeDnValue(l)] : [l.slice(0, eq), unescapeDnValue(l.slice(eq + 1))]) as [string, string];
    });
}

/** `x509.subjectAltName`: `DNS:a, IP Address:10.0.0.1`; a name Node could misread is JSON-quoted. */
function nativeSans(text: string | undefined): string[] {
  const sans: string[] = [];
  for (const m of (text ?? '').matchAll(/(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const kind = m[1]!;
    const raw = m[2]!;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === 'DNS') sans.push(`DNS:${value.toLowerCase()}`);
    else if (kind === 'IP Address') sans.push(`IP:${canonicalIp(value) ?? value}`);
  }
  return sans;
}

const EKU_OIDS: Record<string, ExtKeyUsage> = { '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth' };

// A command reads the same certificates more than once (`test`: the pki smoke test, then the expiry warnings);
// parsing is the cost (~0.5 ms each), so the result is kept per PEM text, for this process.
const parsedCerts = new Map<string, ParsedCert>();

/**
 * Reads a certificate with node:crypto's native X509Certificate only: a no-op converge checks every
 * certificate of the store, and node-forge's pure-JS parse of each cost hundreds of milliseconds.
 */
export function parseCertificate(pem: string): ParsedCert {
  let p = parsedCerts.get(pem);
  if (!p) {
    if (parsedCerts.size >= 1000) parsedCerts.clear();
    p = parseCertificateNow(pem);
    parsedCerts.set(pem, p);
  }
  return p;
}

function parseCertificateNow(pem: string): ParsedCert {
  const x509 = new X509Certificate(pem);
  const subjectAll = nativeAttrs(x509.subject);
  const subject = subjectAll.filter(([k]) => k === 'CN' || k === 'O') as unknown as SubjectAttr[];
  // Node names the extended key usages `keyUsage` (OIDs; undefined without the extension).
  const eku = new Set((x509.keyUsage ?? []).map((oid) => EKU_OIDS[oid]).filter((u) => u !== undefined));
  return {
    pem,
    x509,
    subject,
    subjectText: formatDn(subjectAll),
    issuerText: formatDn(nativeAttrs(x509.issuer)),
    sans: nativeSans(x509.subjectAltName),
    extKeyUsage: (['serverAuth', 'clientAuth'] as const).filter((u) => eku.has(u)),
    isCa: x509.ca,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

/** node-forge, loaded only when a certificate is issued (a no-op converge issues none). */
let forgeModule: Promise<typeof import('node-forge')> | null = null;
function loadForge(): Promise<typeof import('node-forge')> {
  forgeModule ??= import('node-forge').then((m) => ((m as { default?: typeof import('node-forge') }).default ?? m));
  return forgeModule;
}

/**
 * The CA that signs, from `<id>.crt` and its key. During a CA rotation `<id>.crt` is a bundle of the
 * old and the new CA (src/pki/rotate.ts): the signing CA is the certificate that matches the key.
 */
export function loadSigningCa(id: string, bundle: string, key: KeyObject): SigningCa {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [bundle];
  const pem = blocks.length === 1 ? bundle : (blocks.find((b) => new X509Certificate(b).checkPrivateKey(key)) ?? blocks[0] ?? bundle);
  const parsed = parseCertificate(pem);
  if (!parsed.isCa) throw new PkiError(`${id}.crt is not a CA certificate (basicConstraints CA:FALSE)`);
  if (!parsed.x509.checkPrivateKey(key)) throw new PkiError(`${id}.key does not match ${id}.crt`);
  return { id, pem, x509: parsed.x509, key, notAfter: parsed.notAfter };
}

/** The CA as node-forge sees it (issuer name, subjectKeyIdentifier), parsed once per CA on first issue. */
const forgeCas = new WeakMap<SigningCa, { cert: forge.pki.Certificate; ski: string }>();
function forgeCa(forge: typeof import('node-forge'), ca: SigningCa): { cert: forge.pki.Certificate; ski: string } {
  let f = forgeCas.get(ca);
  if (!f) {
    const cert = forge.pki.certificateFromPem(ca.pem);
    const skiExt = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
    const ski = skiExt?.subjectKeyIdentifier ? forge.util.hexToBytes(skiExt.subjectKeyIdentifier) : cert.generateSubjectKeyIdentifier().getBytes();
    f = { cert, ski };
    forgeCas.set(ca, f);
  }
  return f;
}

/** Random positive 128-bit serial (RFC 5280: positive, at most 20 octets). */
function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f || 0x01;
  return b.toString('hex');
}

export interface IssueRequest {
  profile: CertProfile;
  /** SPKI PEM of the subject key. */
  publicPem: string;
  /** Subject's own private key (only used for self-signed CAs). */
  privateKey: KeyObject;
  /** The signer; omitted for a self-signed CA. */
  ca?: SigningCa;
  validityDays: number;
  now: Date;
}

/**
 * Builds the certificate with node-forge and signs its TBSCertificate with native crypto
 * (sha256WithRSAEncryption). Returns PEM.
 */
export async function issueCertificate(req: IssueRequest): Promise<string> {
  const { profile } = req;
  const forge = await loadForge();
  const ca = req.ca && { ...req.ca, ...forgeCa(forge, req.ca) };
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(req.publicPem);
  cert.serialNumber = randomSerialHex();
  const notBefore = new Date(req.now.getTime() - BACKDATE_MS);
  let notAfter = new Date(req.now.getTime() + req.validityDays * DAY_MS);
  // a leaf must not outlive its CA
  if (ca && notAfter > ca.notAfter) notAfter = new Date(ca.notAfter);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject: forge.pki.CertificateField[] = profile.subject.map(([shortName, value]) => ({
    shortName,
    value,
    // types say asn1.Class, forge reads it as the value's universal tag
    valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class,
  }));
  cert.setSubject(subject);
  cert.setIssuer(ca ? ca.cert.subject.attributes : subject);

  const extensions: object[] = [
    { name: 'basicConstraints', critical: true, cA: profile.isCa },
    profile.isCa
      ? { name: 'keyUsage', critical: true, digitalSignature: true, keyCertSign: true, cRLSign: true }
      : { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
  ];
  if (profile.extKeyUsage.length > 0) {
    extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(profile.extKeyUsage.map((u) => [u, true])) });
  }
  extensions.push({ name: 'subjectKeyIdentifier' });
  extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: ca ? ca.ski : true });
  if (profile.sans.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: profile.sans.map((s) => (s.startsWith('IP:') ? { type: 7, ip: s.slice(3) } : { type: 2, value: s.slice(4) })),
    });
  }
  cert.setExtensions(extensions);

  const sha256WithRsa = forge.pki.oids['sha256WithRSAEncryption'] as string;
  cert.signatureOid = sha256WithRsa;
  cert.siginfo.algorithmOid = sha256WithRsa;
  const getTbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;
  cert.tbsCertificate = getTbs(cert);
  const tbsDer = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  const signature = await signSha256(tbsDer, ca ? ca.key : req.privateKey);
  cert.signature = signature.toString('binary');
  const pem = forge.pki.certificateToPem(cert);

  // Cheap self-check (public-key operation): the signature verifies with the issuer's key.
  const issued = new X509Certificate(pem);
  if (!issued.verify(ca ? ca.x509.publicKey : issued.publicKey)) {
    throw new PkiError(`internal error: the signature of ${profile.id} does not verify`);
  }
  return pem;
}
