import { createPublicKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { certificateProfiles, SERVICE_ACCOUNT_ID } from './catalog.js';
import { createKeyGenerator, parseRsaKey, prefetchRsaKeys, type RsaKeyPair } from './keys.js';
import { pkiPaths } from './paths.js';
import { writeFileAtomic as writeAtomic } from '../util/fs.js';
import { CERT_MODE, ensurePrivateDir, KEY_MODE, readPem } from './store.js';
import { moveIntoArchive, newArchiveDir } from './archive.js';
import { PkiError, type EnsurePkiOptions, type EnsurePkiResult, type PkiInput } from './types.js';
import { formatDn, issueCertificate, loadSigningCa, parseCertificate, type CertProfile, type SigningCa } from './x509.js';

/** Certificates and keys go through the project's atomic writer, flushed to disk before the rename. */
const writeFileAtomic = (file: string, data: string, mode: number) => writeAtomic(file, data, mode, { sync: true });

const DAY_MS = 86_400_000;

const DEFAULTS = {
  renewBeforeDays: 30,
  caKeyBits: 4096,
  keyBits: 2048,
  caValidityDays: 3650,
  leafValidityDays: 365,
} as const;

interface Files {
  cert: string;
  key: string;
}

function filesOf(root: string, id: string): Files {
  return { cert: path.join(root, `${id}.crt`), key: path.join(root, `${id}.key`) };
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** Human description of how far away an expiry is; null when it is beyond the threshold. */
export function expiryReason(notAfter: Date, now: Date, renewBeforeDays: number): string | null {
  const msLeft = notAfter.getTime() - now.getTime();
  if (msLeft >= renewBeforeDays * DAY_MS) return null;
  if (msLeft <= 0) return `expired ${plural(Math.floor(-msLeft / DAY_MS), 'day')} ago`;
  return `expires in ${plural(Math.floor(msLeft / DAY_MS), 'day')}`;
}

type LeafDecision =
  | { reissue: false }
  | { reissue: true; reasons: string[]; reuseKey: RsaKeyPair | null };

/** Compares a leaf on disk with its profile. Reads files; writes nothing. */
async function evaluateLeaf(
  profile: CertProfile,
  files: Files,
  ca: SigningCa | 'new',
  opts: { now: Date; renewBeforeDays: number; keyBits: number; rotateKeys: boolean; renewLeaves?: boolean },
): Promise<LeafDecision> {
  const [certPem, keyPem] = await Promise.all([readPem(files.cert), readPem(files.key)]);
  if (certPem === null && keyPem === null) return { reissue: true, reasons: ['missing'], reuseKey: null };
  const reasons: string[] = [];
  let key = keyPem === null ? null : parseRsaKey(keyPem);
  if (keyPem === null) reasons.push('key missing');
  else if (key === null) reasons.push('key unreadable or not RSA');
  else if (key.bits !== opts.keyBits) {
    reasons.push(`key is RSA ${key.bits}, want ${opts.keyBits}`);
    key = null;
  }
  if (certPem === null) {
    reasons.push('certificate missing');
    return { reissue: true, reasons, reuseKey: key && !opts.rotateKeys ? key.pair : null };
  }
  let cert;
  try {
    cert = parseCertificate(certPem);
  } catch {
    reasons.push('certificate unreadable');
    return { reissue: true, reasons, reuseKey: key && !opts.rotateKeys ? key.pair : null };
  }
  if (key && !cert.x509.checkPrivateKey(key.pair.privateKey)) {
    reasons.push('key does not match the certificate');
    key = null; // which side is stale is unknown: start over with a fresh pair
  }
  if (ca === 'new') reasons.push(`${profile.issuer} was created`);
  else if (!cert.x509.checkIssued(ca.x509) || !cert.x509.verify(ca.x509.publicKey)) {
    reasons.push(`not signed by the current ${profile.issuer}`);
  }
  const want = formatDn(profile.subject);
  const have = formatDn(cert.subject);
  if (want !== have || cert.subject.length !== profile.subject.length) reasons.push(`subject changed: ${have} → ${want}`);
  const added = profile.sans.filter((s) => !cert.sans.includes(s));
  const removed = cert.sans.filter((s) => !profile.sans.includes(s));
  if (added.length + removed.length > 0) {
    const strip = (s: string) => s.replace(/^(IP|DNS):/, '');
    reasons.push(`SANs changed: ${[...added.map((s) => `+${strip(s)}`), ...removed.map((s) => `-${strip(s)}`)].join(', ')}`);
  }
  const ekuWant = [...profile.extKeyUsage].sort().join(', ');
  const ekuHave = [...cert.extKeyUsage].sort().join(', ');
  if (ekuWant !== ekuHave) reasons.push(`extKeyUsage changed: ${ekuHave || 'none'} → ${ekuWant || 'none'}`);
  if (cert.isCa) reasons.push('is a CA certificate but should be a leaf');
  const expiry = expiryReason(cert.notAfter, opts.now, opts.renewBeforeDays);
  if (expiry) reasons.push(expiry);
  if (opts.renewLeaves && reasons.length === 0) reasons.push(`renewal asked for (was valid until ${cert.notAfter.toISOString().slice(0, 10)})`);
  if (reasons.length === 0) return { reissue: false };
  return { reissue: true, reasons, reuseKey: key && !opts.rotateKeys ? key.pair : null };
}

/** Ids of the certificates and keys in one folder of the store (`kubelet/w1` for kubelet/w1.crt or .key). */
async function listIds(root: string, sub: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(path.join(root, sub), { withFileTypes: true });
    const ids = entries
      .filter((e) => e.isFile() && /\.(crt|key)$/.test(e.name))
      .map((e) => (sub ? `${sub}/${e.name.slice(0, -4)}` : e.name.slice(0, -4)));
    return [...new Set(ids)];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Settles every promise, then throws the first failure: no write is still running when ensurePki returns. */
async function allOrFirstError(tasks: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Starts, in the background, the key generations that ensurePki will need for what is missing from
 * `<workspace>/pki` (a dry run decides which: the CAs, the service-account key and the leaves it would create),
 * so that an ensurePki later in this process takes ready keys instead of waiting for them (keys.ts
 * prefetchRsaKeys). `up` calls it as vagrant starts the machines; a first PKI is seconds of prime searches on
 * two cores. Reissues that keep their key need none. Returns how many keys were started.
 */
export async function prefetchPkiKeys(workspace: string, input: PkiInput, options: Pick<EnsurePkiOptions, 'keyBits' | 'caKeyBits'> = {}): Promise<number> {
  const plan = await ensurePki(workspace, input, { ...options, dryRun: true });
  const isCa = new Set(certificateProfiles(input).filter((p) => p.isCa).map((p) => p.id));
  const missing = plan.changed.filter((id) => plan.reasons[id] === 'missing');
  const cas = missing.filter((id) => isCa.has(id)).length;
  prefetchRsaKeys(options.caKeyBits ?? DEFAULTS.caKeyBits, cas);
  prefetchRsaKeys(options.keyBits ?? DEFAULTS.keyBits, missing.length - cas);
  return missing.length;
}

/**
 * Makes `<workspace>/pki` match `input`: creates what is missing, reissues leaves whose subject, SANs,
 * extKeyUsage, key, issuer or expiry no longer fit, keeps everything else. An existing CA is always kept.
 * Safe to run repeatedly; a second run with the same input changes nothing.
 */
export async function ensurePki(workspace: string, input: PkiInput, options: EnsurePkiOptions = {}): Promise<EnsurePkiResult> {
  const profiles = certificateProfiles(input);
  const now = options.now ?? new Date();
  const renewBeforeDays = options.renewBeforeDays ?? DEFAULTS.renewBeforeDays;
  const keyBits = options.keyBits ?? DEFAULTS.keyBits;
  const caKeyBits = options.caKeyBits ?? DEFAULTS.caKeyBits;
  const rotateKeys = options.rotateKeys ?? false;
  const validityOf = (p: CertProfile) =>
    options.validityDays?.[p.id] ??
    (p.isCa ? (options.caValidityDays ?? DEFAULTS.caValidityDays) : (options.leafValidityDays ?? DEFAULTS.leafValidityDays));

  const paths = pkiPaths(workspace);
  const root = paths.root;
  // A dry run decides exactly as a real run would, but generates no key and writes nothing.
  const dryRun = options.dryRun === true;
  if (!dryRun) {
    await ensurePrivateDir(root);
    await Promise.all([ensurePrivateDir(paths.etcd.dir), ensurePrivateDir(path.join(root, 'kubelet'))]);
  }

  // Workers (if that backend is chosen) start on the first key only: a dry or no-op run starts none.
  const generator = createKeyGenerator(options.concurrency, options.keygen);
  const keygen = (bits: number) => generator.generate(bits);
  try {

    const changed = new Set<string>();
    const reasons: Record<string, string> = {};
    const warnings: string[] = [];
    const tasks: Promise<unknown>[] = [];

    // 1. CAs: kept when present; created (key generation queued first, it is on the critical path) when absent.
    const cas = new Map<string, Promise<SigningCa>>();
    const caState = new Map<string, SigningCa | 'new'>();
    for (const profile of profiles.filter((p) => p.isCa)) {
      const files = filesOf(root, profile.id);
      const [certPem, keyPem] = await Promise.all([readPem(files.cert), readPem(files.key)]);
      if (certPem !== null && keyPem !== null) {
        const key = parseRsaKey(keyPem);
        if (!key) throw new PkiError(`${profile.id}.key is unreadable or not an RSA key; restore it from a backup`);
        const ca = loadSigningCa(profile.id, certPem, key.pair.privateKey);
        const caExpiry = expiryReason(ca.notAfter, now, Math.max(renewBeforeDays, 365));
        if (caExpiry) warnings.push(`${profile.id} ${caExpiry}: plan a CA rotation (leaves cannot outlive it)`);
        caState.set(profile.id, ca);
        cas.set(profile.id, Promise.resolve(ca));
        continue;
      }
      if (certPem !== null || keyPem !== null) {
        const [present, absent] = certPem !== null ? ['crt', 'key'] : ['key', 'crt'];
        throw new PkiError(
          `${profile.id}.${present} exists but ${profile.id}.${absent} is missing: restore it, or remove ` +
            `${profile.id}.${present} to create a new CA (every certificate it signed will be reissued)`,
        );
      }
      changed.add(profile.id);
      reasons[profile.id] = 'missing';
      caState.set(profile.id, 'new');
      if (dryRun) continue;
      const created = keygen(caKeyBits).then(async (pair) => {
        const pem = await issueCertificate({
          profile,
          publicPem: pair.publicPem,
          privateKey: pair.privateKey,
          validityDays: validityOf(profile),
          now,
        });
        await writeFileAtomic(files.key, pair.privatePem, KEY_MODE);
        await writeFileAtomic(files.cert, pem, CERT_MODE);
        return loadSigningCa(profile.id, pem, pair.privateKey);
      });
      created.catch(() => undefined); // awaited below through the leaves and allOrFirstError
      cas.set(profile.id, created);
      tasks.push(created);
    }

    // 2. Service-account key pair (sa.key / sa.pub): never replaced while sa.key is sound, as that would
    //    invalidate every service-account token.
    const sa = paths.serviceAccount;
    const [saKeyPem, saPubPem] = await Promise.all([readPem(sa.key), readPem(sa.pub)]);
    const saKey = saKeyPem === null ? null : parseRsaKey(saKeyPem);
    if (saKey === null) {
      changed.add(SERVICE_ACCOUNT_ID);
      reasons[SERVICE_ACCOUNT_ID] = saKeyPem === null ? 'missing' : 'sa.key unreadable or not RSA';
      if (!dryRun)
        tasks.push(
        keygen(keyBits).then(async (pair) => {
          await writeFileAtomic(sa.key, pair.privatePem, KEY_MODE);
          await writeFileAtomic(sa.pub, pair.publicPem, CERT_MODE);
        }),
      );
    } else {
      let pubMatches = false;
      try {
        pubMatches =
          saPubPem !== null &&
          createPublicKey(saPubPem).export({ type: 'spki', format: 'der' }).equals(createPublicKey(saKey.pair.privateKey).export({ type: 'spki', format: 'der' }));
      } catch {
        pubMatches = false;
      }
      if (!pubMatches) {
        changed.add(SERVICE_ACCOUNT_ID);
        reasons[SERVICE_ACCOUNT_ID] = saPubPem === null ? 'sa.pub missing (rewritten from sa.key)' : 'sa.pub does not match sa.key (rewritten from sa.key)';
        if (!dryRun) tasks.push(writeFileAtomic(sa.pub, saKey.pair.publicPem, CERT_MODE));
      }
    }

    // 3. Leaves.
    const leaves = profiles.filter((p) => !p.isCa);
    const decisions = await Promise.all(
      leaves.map((p) => {
        const ca = caState.get(p.issuer ?? '');
        if (!ca) throw new PkiError(`internal error: no CA ${p.issuer} for ${p.id}`);
        return evaluateLeaf(p, filesOf(root, p.id), ca, { now, renewBeforeDays, keyBits, rotateKeys, renewLeaves: options.renewLeaves });
      }),
    );
    leaves.forEach((profile, i) => {
      const decision = decisions[i];
      if (!decision?.reissue) return;
      changed.add(profile.id);
      reasons[profile.id] = decision.reasons.join('; ');
      if (dryRun) return;
      const files = filesOf(root, profile.id);
      const reuse = decision.reuseKey;
      const keyPromise = reuse ? Promise.resolve(reuse) : keygen(keyBits);
      tasks.push(
        (async () => {
          const pair = await keyPromise;
          const ca = await cas.get(profile.issuer ?? '');
          if (!ca) throw new PkiError(`internal error: no CA ${profile.issuer} for ${profile.id}`);
          const pem = await issueCertificate({
            profile,
            publicPem: pair.publicPem,
            privateKey: pair.privateKey,
            ca,
            validityDays: validityOf(profile),
            now,
          });
          // key first: a crash in between leaves a key/cert mismatch, which the next run repairs
          if (!reuse) await writeFileAtomic(files.key, pair.privatePem, KEY_MODE);
          await writeFileAtomic(files.cert, pem, CERT_MODE);
        })(),
      );
    });

    await allOrFirstError(tasks);

    const allIds = [...profiles.map((p) => p.id), SERVICE_ACCOUNT_ID];
    const wanted = new Set(allIds);
    const onDisk = (await Promise.all(['', 'kubelet', 'etcd'].map((sub) => listIds(root, sub)))).flat();
    const orphans = onDisk.filter((id) => !wanted.has(id)).sort();
    // A removed node's certificates are moved out of the way, never deleted and never left behind.
    let archiveDir: string | null = null;
    const archived: string[] = [];
    if (!dryRun && orphans.length > 0) {
      archiveDir = await newArchiveDir(root, now);
      for (const id of orphans) {
        for (const ext of ['crt', 'key']) if (await moveIntoArchive(root, archiveDir, `${id}.${ext}`)) archived.push(`${id}.${ext}`);
      }
    }
    return {
      changed: allIds.filter((id) => changed.has(id)),
      kept: allIds.filter((id) => !changed.has(id)),
      reasons,
      orphans,
      archived,
      archiveDir: archiveDir && path.relative(root, archiveDir),
      warnings,
    };
  } finally {
    await generator.close();
  }
}
