// Keys made ahead (up starts them while vagrant starts the machines): ensurePki later in the process takes them
// instead of generating its own, with either key generator backend, and a complete PKI asks none.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePki, pkiPaths, prefetchPkiKeys, type PkiInput } from '../../src/pki/index.js';
import { spareKeyCount } from '../../src/pki/keys.js';

const input: PkiInput = {
  clusterName: 'demo',
  clusterDomain: 'cluster.local',
  serviceCidr: '10.3.0.0/24',
  etcd: [{ name: 'etcd-01', ip: '10.0.0.101' }],
  masters: [{ name: 'kube-master-01', ip: '10.0.0.111' }],
  workers: [{ name: 'kube-worker-01', ip: '10.0.0.121' }],
};
// The smallest sizes the PKI takes keep the test quick; they only have to differ, as a CA's and a leaf's do.
const sizes = { caKeyBits: 3072, keyBits: 2048 } as const;
const dirs: string[] = [];
const workspace = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'kc-prefetch-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('keys made ahead of the PKI', () => {
  for (const keygen of ['threadpool', 'workers'] as const) {
    it(`a first PKI takes the prefetched keys of both sizes (${keygen} generator); a complete one asks none`, async () => {
      const ws = workspace();
      const started = await prefetchPkiKeys(ws, input, sizes);
      const dry = await ensurePki(ws, input, { ...sizes, dryRun: true });
      // Everything is missing: a key for each CA, each leaf and the service-account key.
      expect(started).toBe(dry.changed.length);
      expect({ ca: spareKeyCount(sizes.caKeyBits), leaf: spareKeyCount(sizes.keyBits) }).toEqual({ ca: 2, leaf: started - 2 });
      const r = await ensurePki(ws, input, { ...sizes, keygen });
      expect(r.changed.length).toBe(started);
      expect({ ca: spareKeyCount(sizes.caKeyBits), leaf: spareKeyCount(sizes.keyBits) }).toEqual({ ca: 0, leaf: 0 });
      // What was issued with them is whole: a leaf signed by its CA, holding the key beside it, of the asked size.
      const p = pkiPaths(ws);
      const leaf = new X509Certificate(readFileSync(path.join(p.root, 'apiserver.crt')));
      expect(leaf.verify(new X509Certificate(readFileSync(path.join(p.root, 'ca.crt'))).publicKey)).toBe(true);
      const key = createPrivateKey(readFileSync(path.join(p.root, 'apiserver.key')));
      expect(leaf.checkPrivateKey(key)).toBe(true);
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(sizes.keyBits);
      expect(await prefetchPkiKeys(ws, input, sizes)).toBe(0);
      expect({ ca: spareKeyCount(sizes.caKeyBits), leaf: spareKeyCount(sizes.keyBits) }).toEqual({ ca: 0, leaf: 0 });
    }, 60_000);
  }
});
