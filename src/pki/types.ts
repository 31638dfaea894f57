/** Input and result types of the PKI module. Decoupled from the cluster spec on purpose. */

export interface PkiNode {
  name: string;
  ip: string;
}

export interface PkiInput {
  clusterName: string;
  /** e.g. `cluster.local` */
  clusterDomain: string;
  /** e.g. `10.3.0.0/24`: its first address (10.3.0.1) is the `kubernetes` service IP and an API server SAN. */
  serviceCidr: string;
  etcd: PkiNode[];
  masters: PkiNode[];
  workers: PkiNode[];
  /** Extra API server SANs: IP addresses or DNS names (e.g. a load balancer). */
  apiServerExtraSans?: string[];
}

export type ExtKeyUsage = 'serverAuth' | 'clientAuth';

export interface EnsurePkiOptions {
  /** Decide what would be issued or reissued (and why) without generating keys or writing files. */
  dryRun?: boolean;
  /** Reissue a leaf that expires within this many days. Default 30. */
  renewBeforeDays?: number;
  /** Clock used for validity and expiry decisions. Default: now. */
  now?: Date;
  /** RSA modulus of the two CAs (cluster and etcd). Default 4096 (see README of the module in index.ts). */
  caKeyBits?: 2048 | 3072 | 4096;
  /** RSA modulus of leaf keys and the service-account key. Default 2048. */
  keyBits?: 2048 | 3072 | 4096;
  /** Validity of newly issued CAs. Default 3650 days. */
  caValidityDays?: number;
  /** Validity of newly issued leaves. Default 365 days. */
  leafValidityDays?: number;
  /** Per-certificate validity override, keyed by certificate id (e.g. `admin`, `kubelet/w1`). */
  validityDays?: Record<string, number>;
  /** Reissue every leaf certificate, sound or not (`certs renew`); the CAs are kept. */
  renewLeaves?: boolean;
  /** Generate a fresh key whenever a certificate is reissued (default: keep a sound existing key). */
  rotateKeys?: boolean;
  /**
   * Parallel key generations. Default: every core (worker threads), or min(cores, threadpool size - 1)
   * when libuv's threadpool is large enough.
   */
  concurrency?: number;
  /** Where native key generation runs; default 'auto' (see createKeyGenerator). */
  keygen?: 'auto' | 'threadpool' | 'workers';
}

export interface EnsurePkiResult {
  /** Ids (path under `<workspace>/pki` without extension, e.g. `etcd/server-e1`) created or reissued. */
  changed: string[];
  /** Ids left untouched. */
  kept: string[];
  /** Why each changed id was (re)issued, e.g. `SANs changed: +10.0.0.112`, `expires in 12 days`. */
  reasons: Record<string, string>;
  /**
   * Certificates on disk that the input no longer asks for (a removed node), by id. A real run moves
   * them into `archive/<UTC time>/` (never deletes them); a dry run only lists them.
   */
  orphans: string[];
  /** Files moved into the archive by this run, relative to `<workspace>/pki` (e.g. `kubelet/w3.key`). */
  archived: string[];
  /** The archive folder of this run relative to `<workspace>/pki` (`archive/2026-12-02T04-39-14Z`), or null. */
  archiveDir: string | null;
  /** Things worth telling the user that need no action from ensurePki (e.g. a CA close to expiry). */
  warnings: string[];
}

export interface CertificateInfo {
  /** Path relative to `<workspace>/pki`, e.g. `etcd/ca.crt`. */
  file: string;
  /** e.g. `CN=system:node:w1, O=system:nodes` */
  subject: string;
  issuer: string;
  /** DNS names and IP addresses, in certificate order. */
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  isCa: boolean;
  extKeyUsage: ExtKeyUsage[];
  /** Why the certificate exists, a sentence. */
  purpose: string;
  /** Path relative to `<workspace>/pki` of the matching private key, or null if absent. */
  keyFile: string | null;
}

export class PkiError extends Error {
  override name = 'PkiError';
}
