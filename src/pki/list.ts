import { promises as fs } from 'node:fs';
import path from 'node:path';
import { purposeOf } from './catalog.js';
import { pkiRoot } from './paths.js';
import type { CertificateInfo } from './types.js';
import { parseCertificate } from './x509.js';

const DAY_MS = 86_400_000;

async function walkCrt(root: string, rel = ''): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    // archive/: certificates no longer in use (removed nodes, a rotated-out CA); rotation/: a CA rotation's
    // working copies. Neither is part of the cluster's live PKI.
    if (e.isDirectory()) {
      if (!rel && (e.name === 'archive' || e.name === 'rotation')) continue;
      out.push(...(await walkCrt(root, child)));
    }
    else if (e.isFile() && e.name.endsWith('.crt')) out.push(child);
  }
  return out;
}

/**
 * Names in order with their numbers compared as numbers (w2 before w10), without ICU: the first collator a
 * process builds (`localeCompare` with a locale, or Intl.Collator) loads ICU's collation data, ~8.5 ms here, on
 * every command that lists certificates. The names are ASCII (node names, fixed ids), where the code-unit order
 * of `-`, `.`, `/`, digits and lowercase letters is the one ICU's "en" order gives them.
 */
const numericKey = (name: string): string => name.replace(/\d+/g, (d) => d.padStart(12, '0'));
const byName = (a: string, b: string): number => {
  const ka = numericKey(a);
  const kb = numericKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

function fileOrder(file: string): [number, string] {
  const rank = file === 'ca.crt' ? 0 : file === 'etcd/ca.crt' ? 3 : file.startsWith('kubelet/') ? 2 : file.startsWith('etcd/') ? 4 : 1;
  return [rank, file];
}

/**
 * Every certificate of `<workspace>/pki`, CAs first. Reads certificates only: key files are checked for
 * existence, never opened. Unparseable files are listed with subject `(unreadable)`.
 */
export async function listCertificates(workspace: string, now: Date = new Date()): Promise<CertificateInfo[]> {
  const root = pkiRoot(workspace);
  const files = (await walkCrt(root)).sort((a, b) => {
    const [ra, fa] = fileOrder(a);
    const [rb, fb] = fileOrder(b);
    return ra - rb || byName(fa, fb);
  });
  return Promise.all(
    files.map(async (file): Promise<CertificateInfo> => {
      const id = file.slice(0, -4);
      const keyRel = `${id}.key`;
      const keyFile = await fs
        .access(path.join(root, keyRel))
        .then(() => keyRel)
        .catch(() => null);
      const purpose = purposeOf(id);
      try {
        const text = await fs.readFile(path.join(root, file), 'utf8');
        const c = parseCertificate(text);
        const more = (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length - 1;
        return {
          file,
          subject: c.subjectText,
          issuer: c.issuerText,
          sans: c.sans.map((s) => s.replace(/^(IP|DNS):/, '')),
          notBefore: c.notBefore,
          notAfter: c.notAfter,
          daysLeft: Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS),
          isCa: c.isCa,
          extKeyUsage: c.extKeyUsage,
          // During a CA rotation the CA file is a trust bundle; the row shows its first (signing) CA.
          purpose: more > 0 ? `${purpose} Trust bundle during a CA rotation: this signing CA and ${more} more (certs renew --ca).` : purpose,
          keyFile,
        };
      } catch {
        return {
          file,
          subject: '(unreadable)',
          issuer: '',
          sans: [],
          notBefore: new Date(0),
          notAfter: new Date(0),
          daysLeft: 0,
          isCa: false,
          extKeyUsage: [],
          purpose,
          keyFile,
        };
      }
    }),
  );
}

export interface TableOptions {
  /** Show every SAN instead of the first few. */
  wide?: boolean;
  /** Flag certificates expiring within this many days. Default 30. */
  warnDays?: number;
}

function shortenSans(sans: string[], wide: boolean): string {
  if (sans.length === 0) return '-';
  if (wide || sans.length <= 3) return sans.join(', ');
  return `${sans.slice(0, 2).join(', ')} (+${sans.length - 2} more)`;
}

/** Plain-text table (no colours, no key material) for `kcore-wizard pki`. */
export function formatCertificateTable(list: readonly CertificateInfo[], options: TableOptions = {}): string {
  const warnDays = options.warnDays ?? 30;
  const header = ['FILE', 'SUBJECT', 'ISSUER', 'EXPIRES', 'DAYS LEFT', 'SANS', 'PURPOSE'];
  const rows = list.map((c) => [
    c.file,
    c.subject,
    c.issuer === c.subject ? '(self-signed)' : c.issuer,
    c.subject === '(unreadable)' ? '-' : c.notAfter.toISOString().slice(0, 10),
    c.subject === '(unreadable)' ? '-' : c.daysLeft < 0 ? 'EXPIRED' : c.daysLeft < warnDays ? `${c.daysLeft} !` : String(c.daysLeft),
    shortenSans(c.sans, options.wide ?? false),
    c.purpose,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  const expiring = list.filter((c) => c.subject !== '(unreadable)' && c.daysLeft < warnDays).length;
  out.push('', `${list.length} certificate${list.length === 1 ? '' : 's'}${expiring ? `, ${expiring} expiring within ${warnDays} days or expired (!)` : ''}`);
  return out.join('\n');
}

export interface ExpiryWarning {
  /** Path relative to `<workspace>/pki`, e.g. `etcd/server-etcd-01.crt`. */
  file: string;
  daysLeft: number;
  notAfter: Date;
  expired: boolean;
  /** One line for people: `etcd/server-etcd-01.crt expires in 12 days (2026-12-14)`. */
  message: string;
}

/**
 * The certificates that expire within `warnDays` days (or have expired), soonest first. Pure: give it
 * what listCertificates returned (with the same `now`).
 */
export function expiryWarningsOf(certs: readonly CertificateInfo[], warnDays = 30): ExpiryWarning[] {
  return certs
    .filter((c) => c.subject !== '(unreadable)' && c.daysLeft < warnDays)
    .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())
    .map((c) => {
      const day = c.notAfter.toISOString().slice(0, 10);
      // daysLeft is rounded down: -1 means expired less than a day ago
      const n = c.daysLeft < 0 ? -c.daysLeft - 1 : c.daysLeft;
      const message = c.daysLeft < 0 ? `${c.file} expired ${n} day${n === 1 ? '' : 's'} ago (${day})` : `${c.file} expires in ${n} day${n === 1 ? '' : 's'} (${day})`;
      return { file: c.file, daysLeft: c.daysLeft, notAfter: c.notAfter, expired: c.daysLeft < 0, message };
    });
}

/**
 * Expiry warnings of the workspace's live certificates (archived ones excluded): reads certificates only,
 * never a key, opens no connection. For the `certs`, `pki` and `test` commands and the dashboard header.
 */
export async function expiryWarnings(workspace: string, now: Date = new Date(), warnDays = 30): Promise<ExpiryWarning[]> {
  return expiryWarningsOf(await listCertificates(workspace, now), warnDays);
}

/** `warning: 2 certificates expire within 30 days or have expired: … (renew: kcore-wizard certs renew)` */
export function expiryWarningLine(messages: string[]): string {
  return `warning: ${messages.length} certificate${messages.length === 1 ? '' : 's'} expire${messages.length === 1 ? 's' : ''} within 30 days or expired: ${messages.join('; ')} (renew them: kcore-wizard certs renew)`;
}
