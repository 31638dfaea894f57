/**
 * CA rotation of the workspace PKI, in three phases, each rolled out to every host before the next
 * (src/converge/ca-rotation.ts drives them). The cluster CA (`ca`) and the etcd CA (`etcd/ca`) rotate
 * together; the service-account key pair (sa.key/sa.pub) is not a CA and is kept.
 *
 *   phase 1  trust both   `<id>.crt` = old CA + new CA, `<id>.key` = old key: leaves unchanged,
 *                         every host that gets the bundle trusts certificates of either CA.
 *   phase 2  reissue      `<id>.crt` = new CA + old CA, `<id>.key` = new key: every leaf is reissued
 *                         by the new CA; hosts still presenting old leaves are still trusted.
 *   phase 3  drop old     `<id>.crt` = new CA only: the old CA is trusted nowhere once rolled.
 *
 * The signing CA is always the bundle's first certificate and matches `<id>.key`
 * (kube-controller-manager's --cluster-signing-cert-file takes exactly one certificate:
 * kubernetes pkg/controller/certificates/signer/signer.go caProvider.setCA "expected 1 certificate",
 * so the kube-master role uploads only that one for it; see signingCertificate()).
 * Every trust file takes a bundle: kube-apiserver --client-ca-file and kubelet clientCAFile
 * (dynamiccertificates CA content, cert.ParseCertsPEM), kubeconfig certificate-authority-data
 * (client-go x509.CertPool.AppendCertsFromPEM), etcd --trusted-ca-file (client/pkg/transport
 * tlsutil.NewCertPool: every PEM block). Upstream procedure: kubernetes.io "Manual Rotation of CA
 * Certificates" (docs/tasks/tls/manual-rotation-of-ca-certificates).
 *
 * The phase lives in `pki/ca-rotation.json`; the old and new CA during the rotation in
 * `pki/rotation/<ca>/{old,new}.{crt,key}` (keys 0600). Entering a phase is idempotent and derives
 * everything from those files, so a rerun after a stop (even one in the middle of a transition)
 * resumes. At the end the old CAs go to `pki/archive/<UTC time>/`, never deleted.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { moveIntoArchive, newArchiveDir } from './archive.js';
import { certificateProfiles, CLUSTER_CA_ID, ETCD_CA_ID } from './catalog.js';
import { ensurePki } from './ensure.js';
import { generateRsaKey, parseRsaKey } from './keys.js';
import { pkiRoot } from './paths.js';
import { CERT_MODE, ensurePrivateDir, KEY_MODE, readPem } from './store.js';
import { PkiError, type EnsurePkiResult, type PkiInput } from './types.js';
import { issueCertificate, parseCertificate } from './x509.js';
import { writeFileAtomic as writeAtomic } from '../util/fs.js';

const writeFileAtomic = (file: string, data: string, mode: number) => writeAtomic(file, data, mode, { sync: true });

export const ROTATED_CAS = [CLUSTER_CA_ID, ETCD_CA_ID] as const;
export const ROTATION_STATE_FILE = 'ca-rotation.json';
export const ROTATION_DIR = 'rotation';

export type RotationPhase = 1 | 2 | 3;

export interface RotationState {
  version: 1;
  startedAt: string;
  /** The phase whose files are in place. */
  phase: RotationPhase;
  /** Whether that phase has been rolled out to every host (then the next phase may start). */
  rolled: boolean;
}

export const PHASE_TITLES: Record<RotationPhase, string> = {
  1: 'CA rotation phase 1 of 3: every host trusts the old and the new CA',
  2: 'CA rotation phase 2 of 3: every certificate reissued by the new CA',
  3: 'CA rotation phase 3 of 3: the old CA is trusted no more',
};

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----(\r?\n)?/g;

/** The certificates of a PEM bundle, byte for byte, each ending with a newline. */
export function splitPemBundle(pem: string): string[] {
  return [...pem.matchAll(PEM_BLOCK)].map((m) => (m[1] ? m[0] : `${m[0]}\n`));
}

/**
 * The first certificate of a bundle: the signing CA (it matches the key). For files that must hold one
 * certificate (kube-controller-manager --cluster-signing-cert-file). Text without a certificate (a dry
 * run's placeholder) is returned unchanged.
 */
export function signingCertificate(pem: string | Buffer): string {
  const text = pem.toString();
  return splitPemBundle(text)[0] ?? text;
}

function dirOf(id: string): string {
  return id.replace(/\//g, '-');
}

function files(root: string, id: string) {
  const d = path.join(root, ROTATION_DIR, dirOf(id));
  return {
    dir: d,
    liveCrt: path.join(root, `${id}.crt`),
    liveKey: path.join(root, `${id}.key`),
    oldCrt: path.join(d, 'old.crt'),
    oldKey: path.join(d, 'old.key'),
    newCrt: path.join(d, 'new.crt'),
    newKey: path.join(d, 'new.key'),
  };
}

export async function readRotation(workspace: string): Promise<RotationState | null> {
  const text = await readPem(path.join(pkiRoot(workspace), ROTATION_STATE_FILE));
  if (text === null) return null;
  let s: RotationState;
  try {
    s = JSON.parse(text) as RotationState;
  } catch {
    throw new PkiError(`pki/${ROTATION_STATE_FILE} is not valid JSON: restore it from a backup (it records how far a CA rotation got)`);
  }
  if (s.version !== 1 || ![1, 2, 3].includes(s.phase) || typeof s.rolled !== 'boolean') {
    throw new PkiError(`pki/${ROTATION_STATE_FILE}: unknown content (phase ${JSON.stringify(s.phase)}); restore it from a backup`);
  }
  return s;
}

async function writeState(workspace: string, s: RotationState): Promise<void> {
  await writeFileAtomic(path.join(pkiRoot(workspace), ROTATION_STATE_FILE), `${JSON.stringify(s, null, 2)}\n`, 0o600);
}

/** The live signing pair of a CA: the bundle's certificate that matches `<id>.key`. */
async function livePair(root: string, id: string): Promise<{ crt: string; key: string }> {
  const f = files(root, id);
  const [bundle, key] = await Promise.all([readPem(f.liveCrt), readPem(f.liveKey)]);
  if (bundle === null || key === null) throw new PkiError(`pki/${id}.crt or pki/${id}.key is missing: a CA rotation needs the current CA (run kcore-wizard converge --tags pki first)`);
  const parsed = parseRsaKey(key);
  if (!parsed) throw new PkiError(`pki/${id}.key is unreadable or not an RSA key; restore it from a backup`);
  const crt = splitPemBundle(bundle).find((c) => parseCertificate(c).x509.checkPrivateKey(parsed.pair.privateKey));
  if (!crt) throw new PkiError(`pki/${id}.key matches no certificate of pki/${id}.crt; restore them from a backup`);
  return { crt, key };
}

async function read(file: string): Promise<string> {
  const t = await readPem(file);
  if (t === null) throw new PkiError(`${file} is missing: the CA rotation cannot go on without it; restore it from a backup`);
  return t;
}

export interface EnterPhaseOptions {
  now?: Date;
  /** RSA modulus of the new CAs. Default 4096 (as ensurePki). */
  caKeyBits?: 2048 | 3072 | 4096;
  caValidityDays?: number;
}

/** Puts phase `phase`'s files in place and records it (not rolled yet). Idempotent. */
export async function enterPhase(workspace: string, input: PkiInput, phase: RotationPhase, options: EnterPhaseOptions = {}): Promise<{ state: RotationState; reissued?: EnsurePkiResult }> {
  const root = pkiRoot(workspace);
  const now = options.now ?? new Date();
  const previous = await readRotation(workspace);
  const profiles = certificateProfiles(input);
  for (const id of ROTATED_CAS) {
    const f = files(root, id);
    if (phase === 1) {
      await ensurePrivateDir(f.dir);
      // The old CA is saved first: from here on, it is known whatever else happens.
      if ((await readPem(f.oldKey)) === null) {
        const old = await livePair(root, id);
        await writeFileAtomic(f.oldCrt, old.crt, CERT_MODE);
        await writeFileAtomic(f.oldKey, old.key, KEY_MODE);
      }
      if ((await readPem(f.newKey)) === null || (await readPem(f.newCrt)) === null) {
        const profile = profiles.find((p) => p.id === id);
        if (!profile) throw new PkiError(`internal error: no profile for ${id}`);
        const pair = await generateRsaKey(options.caKeyBits ?? 4096);
        const pem = await issueCertificate({ profile, publicPem: pair.publicPem, privateKey: pair.privateKey, validityDays: options.caValidityDays ?? 3650, now });
        await writeFileAtomic(f.newKey, pair.privatePem, KEY_MODE);
        await writeFileAtomic(f.newCrt, pem, CERT_MODE);
      }
    }
    const [oldCrt, oldKey, newCrt, newKey] = await Promise.all([read(f.oldCrt), read(f.oldKey), read(f.newCrt), read(f.newKey)]);
    if (phase === 1) {
      await writeFileAtomic(f.liveKey, oldKey, KEY_MODE);
      await writeFileAtomic(f.liveCrt, oldCrt + newCrt, CERT_MODE);
    } else {
      // New key before the bundle that starts with the new CA: ensurePki always finds a matching pair.
      await writeFileAtomic(f.liveKey, newKey, KEY_MODE);
      await writeFileAtomic(f.liveCrt, phase === 2 ? newCrt + oldCrt : newCrt, CERT_MODE);
    }
  }
  // Phase 2: every leaf now fails "signed by the current CA" and is reissued by the new CA (keys kept).
  const reissued = phase === 2 ? await ensurePki(workspace, input, { now }) : undefined;
  const state: RotationState = { version: 1, startedAt: previous?.startedAt ?? now.toISOString(), phase, rolled: false };
  await writeState(workspace, state);
  return { state, reissued };
}

export async function markRolled(workspace: string, state: RotationState): Promise<RotationState> {
  const next = { ...state, rolled: true };
  await writeState(workspace, next);
  return next;
}

/**
 * After phase 3 is rolled out: the old CAs (certificate and key) and the state file move to
 * `pki/archive/<UTC time>/`; the working copies of the new CAs, now identical to the live files,
 * are removed. Returns the archive folder relative to `<workspace>/pki`.
 */
export async function finishRotation(workspace: string, now: Date = new Date()): Promise<string> {
  const root = pkiRoot(workspace);
  const dir = await newArchiveDir(root, now);
  for (const id of ROTATED_CAS) {
    const f = files(root, id);
    const [newCrt, newKey, liveCrt, liveKey] = await Promise.all([readPem(f.newCrt), readPem(f.newKey), readPem(f.liveCrt), readPem(f.liveKey)]);
    // old.crt → archive/<t>/ca.crt (etcd/ca.crt): named as they were when live
    await moveFile(f.oldCrt, path.join(dir, `${id}.crt`));
    await moveFile(f.oldKey, path.join(dir, `${id}.key`), true);
    for (const [copy, text, live] of [
      [f.newCrt, newCrt, liveCrt],
      [f.newKey, newKey, liveKey],
    ] as const) {
      if (text === null) continue;
      if (text === live) await fs.rm(copy);
      else await moveFile(copy, path.join(dir, `${id}.new${path.extname(copy)}`), copy.endsWith('.key'));
    }
    await fs.rmdir(f.dir).catch(() => undefined);
  }
  await fs.rmdir(path.join(root, ROTATION_DIR)).catch(() => undefined);
  await moveIntoArchive(root, dir, ROTATION_STATE_FILE);
  return path.relative(root, dir);
}

async function moveFile(from: string, to: string, key = false): Promise<void> {
  if ((await readPem(from)) === null) return;
  await ensurePrivateDir(path.dirname(to));
  if (key) await fs.chmod(from, KEY_MODE);
  await fs.rename(from, to);
}
