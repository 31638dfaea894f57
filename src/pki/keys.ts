import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import os from 'node:os';

export interface RsaKeyPair {
  /** PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), as kubeadm writes it. */
  privatePem: string;
  /** SPKI PEM (`BEGIN PUBLIC KEY`). */
  publicPem: string;
  privateKey: KeyObject;
}

/**
 * Default number of key generations in flight. Native RSA key generation runs in libuv's threadpool
 * (UV_THREADPOOL_SIZE, 4 unless set before the first use); one thread is left free so file I/O and
 * signing are not queued behind multi-second prime searches.
 */
export function defaultKeygenConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(os.availableParallelism(), pool - 1));
}

/** RSA key generation with Node's native (OpenSSL) implementation, off the main thread. */
export function generateRsaKey(bits: number): Promise<RsaKeyPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: bits,
        publicExponent: 0x10001,
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, publicPem, privatePem) => {
        if (err) return reject(err);
        resolve({ privatePem, publicPem, privateKey: createPrivateKey(privatePem) });
      },
    );
  });
}

/** Parses an existing private key file; null when it is not a usable RSA key. Never echoes key material. */
export function parseRsaKey(privatePem: string): { pair: RsaKeyPair; bits: number } | null {
  try {
    const privateKey = createPrivateKey(privatePem);
    if (privateKey.asymmetricKeyType !== 'rsa') return null;
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return { pair: { privatePem, publicPem, privateKey }, bits };
  } catch {
    return null;
  }
}

/** RSASSA-PKCS1-v1_5 / SHA-256 signature with native crypto, in the threadpool (~100× faster than forge). */
export function signSha256(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign('sha256', data, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
}
