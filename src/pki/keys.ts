import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import os from 'node:os';
import pLimit from 'p-limit';
import { Worker } from 'node:worker_threads';

export interface RsaKeyPair {
  /** PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), as kubeadm writes it. */
  privatePem: string;
  /** SPKI PEM (`BEGIN PUBLIC KEY`). */
  publicPem: string;
  privateKey: KeyObject;
}

function threadpoolSize(): number {
  return Number(process.env.UV_THREADPOOL_SIZE) || 4;
}

/**
 * Default number of key generations in flight. Native RSA key generation runs in libuv's threadpool
 * (UV_THREADPOOL_SIZE, 4 unless set before the first use); one thread is left free so file I/O and
 * signing are not queued behind multi-second prime searches.
 */
export function defaultKeygenConcurrency(): number {
  return Math.max(1, Math.min(os.availableParallelism(), threadpoolSize() - 1));
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

/**
 * Keys made ahead of an issue (prefetchRsaKeys), by size, not yet taken: `up` starts them while vagrant starts the
 * machines, and the PKI that converge issues later in the same process takes them first (createKeyGenerator), so
 * a first `up` does not wait seconds for RSA prime searches after the machines are up. In this process's memory
 * only: never written anywhere; one left unused goes with the process.
 */
const spareKeys = new Map<number, Array<Promise<RsaKeyPair>>>();
let spareLimit: ReturnType<typeof pLimit> | undefined;

/** Starts `count` key generations of `bits` in the background (libuv's threadpool, one thread left free). */
export function prefetchRsaKeys(bits: number, count: number): void {
  spareLimit ??= pLimit(defaultKeygenConcurrency());
  const list = spareKeys.get(bits) ?? [];
  for (let i = 0; i < count; i++) {
    const p = spareLimit(() => generateRsaKey(bits));
    p.catch(() => undefined); // a failed one is not taken: spareOrFresh falls back to a new generation
    list.push(p);
  }
  spareKeys.set(bits, list);
}

/** How many prefetched keys of `bits` are still waiting to be taken. */
export function spareKeyCount(bits: number): number {
  return spareKeys.get(bits)?.length ?? 0;
}

/** A prefetched key of `bits` (the oldest), else a `fresh` one; a prefetch that failed gives a fresh key too. */
function spareOrFresh(bits: number, fresh: (bits: number) => Promise<RsaKeyPair>): Promise<RsaKeyPair> {
  const p = spareKeys.get(bits)?.shift();
  return p ? p.catch(() => fresh(bits)) : fresh(bits);
}

export type KeygenBackend = 'auto' | 'threadpool' | 'workers';

export interface KeyGenerator {
  generate(bits: number): Promise<RsaKeyPair>;
  /** Stops worker threads, if any were started. */
  close(): Promise<void>;
}

// Plain CommonJS evaluated in each worker (works from sources run by vite-node/vitest and from dist alike).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { generateKeyPairSync } = require('node:crypto');
parentPort.on('message', ({ id, bits }) => {
  try {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: bits,
      publicExponent: 0x10001,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    parentPort.postMessage({ id, privatePem: privateKey, publicPem: publicKey });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface WorkerReply {
  id: number;
  privatePem?: string;
  publicPem?: string;
  error?: string;
}

/**
 * Native RSA key generation, `concurrency` at a time. 'threadpool' uses async generateKeyPair (libuv's
 * threadpool, 4 threads unless UV_THREADPOOL_SIZE was set before its first use); 'workers' runs
 * generateKeyPairSync in worker threads, which is not bound by that pool. 'auto' picks workers only when
 * the machine has more cores than the threadpool can keep busy. Workers start lazily, on the first key.
 */
export function createKeyGenerator(concurrency?: number, backend: KeygenBackend = 'auto'): KeyGenerator {
  const cores = os.availableParallelism();
  const useWorkers = backend === 'workers' || (backend === 'auto' && concurrency === undefined && cores > threadpoolSize() - 1);
  if (!useWorkers) {
    const limit = pLimit(concurrency ?? defaultKeygenConcurrency());
    const fresh = (bits: number) => limit(() => generateRsaKey(bits));
    return { generate: (bits) => spareOrFresh(bits, fresh), close: async () => undefined };
  }
  const size = Math.max(1, concurrency ?? cores);
  const workers: Worker[] = [];
  const idle: Worker[] = [];
  const queue: Array<{ id: number; bits: number }> = [];
  const pending = new Map<number, { resolve: (p: RsaKeyPair) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop();
      const job = queue.shift();
      if (worker && job) worker.postMessage(job);
    }
  };
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const start = () => {
    while (workers.length < size) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.on('message', (reply: WorkerReply) => {
        const p = pending.get(reply.id);
        pending.delete(reply.id);
        idle.push(worker);
        dispatch();
        if (!p) return;
        if (reply.error !== undefined || reply.privatePem === undefined || reply.publicPem === undefined) {
          p.reject(new Error(`RSA key generation failed: ${reply.error ?? 'no key'}`));
        } else {
          p.resolve({ privatePem: reply.privatePem, publicPem: reply.publicPem, privateKey: createPrivateKey(reply.privatePem) });
        }
      });
      worker.on('error', failAll);
      workers.push(worker);
      idle.push(worker);
    }
  };
  const fresh = (bits: number): Promise<RsaKeyPair> => {
    start();
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      queue.push({ id, bits });
      dispatch();
    });
  };
  return {
    generate: (bits) => spareOrFresh(bits, fresh),
    async close() {
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
      idle.length = 0;
    },
  };
}
