import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, ArtifactError, createArtifactStore, locate, parseSums } from '../../src/engine/artifacts.js';
import { buildLocalEtcdMirror, serveMirror, type Mirror } from '../support/mirror.js';

let mirror: Mirror;
beforeAll(async () => {
  mirror = await buildLocalEtcdMirror();
});

const ws = () => mkdtemp(path.join(tmpdir(), 'kcore-art-ws-'));

describe('artifact source', () => {
  it('knows the official locations and checksum files', () => {
    const etcd = ARTIFACTS.etcd('3.6.5', 'amd64');
    expect(etcd.file).toBe('etcd-v3.6.5-linux-amd64.tar.gz');
    expect(locate(etcd, 'official', '/ws')).toEqual({
      location: 'https://github.com/etcd-io/etcd/releases/download/v3.6.5/etcd-v3.6.5-linux-amd64.tar.gz',
      checksum: { kind: 'sums', location: 'https://github.com/etcd-io/etcd/releases/download/v3.6.5/SHA256SUMS' },
    });
    expect(locate(ARTIFACTS.kubernetesServer('1.34.2', 'amd64'), 'http://m/k8s/', '/ws').location).toBe('http://m/k8s/kubernetes-server-linux-amd64.tar.gz');
    expect(locate(etcd, 'artifacts', '/ws')).toEqual({
      location: '/ws/artifacts/etcd-v3.6.5-linux-amd64.tar.gz',
      checksum: { kind: 'sums', location: '/ws/artifacts/SHA256SUMS' },
    });
  });

  it('parses sha256sum output in both modes', () => {
    const h = 'a'.repeat(64);
    expect([...parseSums(`${h}  a.tar.gz\n${'B'.repeat(64)} *dir/b.tgz\ngarbage\n`)]).toEqual([
      ['a.tar.gz', h],
      ['b.tgz', 'b'.repeat(64)],
    ]);
  });

  it('fetches from a local folder, checks the SHA-256, caches and unpacks', async () => {
    const store = createArtifactStore(await ws(), mirror.dir);
    const a = ARTIFACTS.etcd(mirror.etcdVersion, 'amd64');
    const got = await store.fetch(a);
    expect(got.sha256).toMatch(/^[0-9a-f]{64}$/);
    const dir = await store.unpack(a);
    const etcd = await readFile(path.join(dir, `etcd-v${mirror.etcdVersion}-linux-amd64`, 'etcd'));
    expect(etcd.equals(await readFile('/usr/bin/etcd'))).toBe(true);
  });

  it('fetches from an http mirror', async () => {
    const server = await serveMirror(mirror.dir);
    try {
      const store = createArtifactStore(await ws(), server.url);
      const a = ARTIFACTS.etcd(mirror.etcdVersion, 'amd64');
      await store.fetch(a);
      expect(server.requests).toEqual(['SHA256SUMS', a.file]);
      const missing = ARTIFACTS.kubernetesServer('1.34.2', 'amd64');
      await expect(store.fetch(missing)).rejects.toThrow(
        new ArtifactError(missing.file, `${server.url}/SHA256SUMS`, `kubernetes-server-linux-amd64.tar.gz is not listed in ${server.url}/SHA256SUMS: add its sha256sum line`),
      );
    } finally {
      await server.close();
    }
  });

  it('names the file and where it was expected when it is missing or corrupt', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-art-'));
    const a = ARTIFACTS.etcd('3.4.23', 'amd64');
    const store = createArtifactStore(await ws(), dir);
    await expect(store.fetch(a)).rejects.toThrow(`no checksum for ${a.file}: SHA256SUMS is missing: expected at ${dir}/SHA256SUMS`);
    await writeFile(path.join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  ${a.file}\n`);
    await expect(createArtifactStore(await ws(), dir).fetch(a)).rejects.toThrow(`${a.file} is missing: expected at ${dir}/${a.file}`);
    await writeFile(path.join(dir, a.file), 'not the real thing');
    await expect(createArtifactStore(await ws(), dir).fetch(a)).rejects.toThrow(/has SHA-256 [0-9a-f]{64}, but the checksum list says 0{64}: the file is corrupt or was replaced/);
  });
});

