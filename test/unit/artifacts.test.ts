import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, ArtifactError, contentOf, createArtifactStore, LazyFile, locate, parseSums, readUnpacked } from '../../src/engine/artifacts.js';
import { sha256 } from '../../src/engine/ops.js';
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

  it('hashes a cached file once: a stamp beside it stands for the hash while inode, size and mtime hold', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-art-stamp-'));
    const f = path.join(dir, 'etcd');
    await writeFile(f, 'binary v1');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(await readUnpacked(f)).toEqual({ content: Buffer.from('binary v1'), sha256: sha('binary v1') });
    const st = await stat(f);
    expect(JSON.parse(await readFile(`${f}.sha256.json`, 'utf8'))).toEqual({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, sha256: sha('binary v1') });
    // The stamp is what answers: one planted for the same file is believed ...
    await writeFile(`${f}.sha256.json`, JSON.stringify({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, sha256: 'f'.repeat(64) }));
    const lazy = await readUnpacked(f);
    expect(lazy.sha256).toBe('f'.repeat(64));
    // With its stamp holding, the content is not read: only when it is uploaded (contentOf), and it has no digest of its own.
    expect(lazy.content).toBeInstanceOf(LazyFile);
    expect(lazy.content.length).toBe(st.size);
    expect(await contentOf(lazy.content)).toEqual(Buffer.from('binary v1'));
    expect(() => sha256(lazy.content)).toThrow(/was not read and has no known SHA-256/);
    // ... until the file changes: another mtime, or another size, and it is hashed again (and stamped anew).
    await utimes(f, st.atime, new Date(st.mtimeMs + 5000));
    expect((await readUnpacked(f)).sha256).toBe(sha('binary v1'));
    await appendFile(f, '!');
    expect((await readUnpacked(f)).sha256).toBe(sha('binary v1!'));
    expect(JSON.parse(await readFile(`${f}.sha256.json`, 'utf8')).sha256).toBe(sha('binary v1!'));
  });

  it('checks a cached download once: later runs trust its stamp, a copy changed since is checked (and refused) again', async () => {
    const store = createArtifactStore(await ws(), mirror.dir);
    const a = ARTIFACTS.etcd(mirror.etcdVersion, 'amd64');
    const first = await store.fetch(a);
    const stampFile = `${first.path}.sha256.json`;
    expect(JSON.parse(await readFile(stampFile, 'utf8')).sha256).toBe(first.sha256);
    // Another run (a new store) answers from the stamp: a stamp saying otherwise makes it check, and fetch again.
    const st = await stat(first.path);
    await writeFile(stampFile, JSON.stringify({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, sha256: '0'.repeat(64) }));
    expect((await createArtifactStore(path.dirname(path.dirname(path.dirname(first.path))), mirror.dir).fetch(a)).sha256).toBe(first.sha256);
    expect(JSON.parse(await readFile(stampFile, 'utf8')).sha256).toBe(first.sha256);
    // A corrupted copy (its mtime moves) is hashed, found wrong, and replaced from the source.
    await appendFile(first.path, 'x');
    const again = await createArtifactStore(path.dirname(path.dirname(path.dirname(first.path))), mirror.dir).fetch(a);
    expect(again.sha256).toBe(first.sha256);
    expect(createHash('sha256').update(await readFile(first.path)).digest('hex')).toBe(first.sha256);
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

  // flannel publishes no checksum file: its release job uploads only the tarballs
  // (flannel-io/flannel .github/workflows/release.yml `gh release upload ${GIT_TAG} dist/flannel*`, Makefile
  // `tar.gz`). Its official checksum is the SHA-256 GitHub lists per release asset in the release's REST
  // JSON (`assets[].digest`, "sha256:<hex>": https://docs.github.com/en/rest/releases/releases#get-a-release-by-tag-name,
  // https://github.blog/changelog/2025-06-03-releases-now-expose-digests-for-release-assets/).
  // The other projects publish their own: etcd SHA256SUMS (etcd-io/etcd scripts/release.sh), CNI plugins
  // .sha256 (containernetworking/plugins .github/workflows/release.yaml), flannel's CNI plugin .sha256
  // (flannel-io/cni-plugin scripts/package.sh), containerd .sha256sum, Kubernetes <file>.sha256 on dl.k8s.io.
  it('flannel: checked against the digest GitHub lists for the release asset, or a clear refusal', async () => {
    const f = ARTIFACTS.flannel('0.28.9', 'amd64');
    expect(f.officialUrl).toBe('https://github.com/flannel-io/flannel/releases/download/v0.28.9/flannel-v0.28.9-linux-amd64.tar.gz');
    expect(f.officialChecksum).toEqual({ kind: 'github-digest', url: 'https://api.github.com/repos/flannel-io/flannel/releases/tags/v0.28.9' });
    expect(ARTIFACTS.cniPlugins('1.9.1', 'amd64').officialChecksum).toEqual({
      kind: 'single',
      url: 'https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz.sha256',
    });

    const tarball = await readFile(path.join(mirror.dir, mirror.etcdFile));
    const sha = createHash('sha256').update(tarball).digest('hex');
    let release: unknown = {};
    const server = createServer((req, res) => {
      if (req.url === '/repos/flannel-io/flannel/releases/tags/v0.28.9') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(release));
      else if (req.url === `/download/${f.file}`) res.writeHead(200).end(tarball);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const api = `http://127.0.0.1:${port}/repos/flannel-io/flannel/releases/tags/v0.28.9`;
    const local = { ...f, officialUrl: `http://127.0.0.1:${port}/download/${f.file}`, officialChecksum: { kind: 'github-digest' as const, url: api } };
    try {
      const other = { name: 'flannel-v0.28.9-linux-arm64.tar.gz', digest: `sha256:${'1'.repeat(64)}` };
      release = { tag_name: 'v0.28.9', assets: [other, { name: f.file, digest: `sha256:${sha.toUpperCase()}` }] };
      const got = await createArtifactStore(await ws(), 'official').fetch(local);
      expect(got.sha256).toBe(sha);
      expect((await readFile(got.path)).equals(tarball)).toBe(true);

      release = { assets: [other, { name: f.file, digest: `sha256:${'0'.repeat(64)}` }] };
      await expect(createArtifactStore(await ws(), 'official').fetch(local)).rejects.toThrow(/has SHA-256 [0-9a-f]{64}, but the checksum list says 0{64}/);

      // an asset uploaded before GitHub computed digests has `digest: null`
      release = { assets: [{ name: f.file, digest: null }] };
      await expect(createArtifactStore(await ws(), 'official').fetch(local)).rejects.toThrow(
        `no checksum is published for ${f.file}: flannel publishes no checksum file and GitHub lists no SHA-256 digest for it (${api}); put the file in a mirror or folder with its sha256sum line in SHA256SUMS and point artifacts.source (or --artifacts) at it`,
      );
      release = { assets: [other] };
      await expect(createArtifactStore(await ws(), 'official').fetch(local)).rejects.toThrow(`${f.file} is not an asset of the release at ${api}`);
      const gone = { ...local, officialChecksum: { kind: 'github-digest' as const, url: `${api}-missing` } };
      await expect(createArtifactStore(await ws(), 'official').fetch(gone)).rejects.toThrow(
        `no checksum for ${f.file}: v0.28.9-missing could not be downloaded from ${api}-missing: HTTP 404; put the file in a mirror or folder`,
      );
      // a mirror or folder never asks GitHub: its SHA256SUMS is the checksum
      expect(locate(f, mirror.dir, '/ws').checksum).toEqual({ kind: 'sums', location: path.join(mirror.dir, 'SHA256SUMS') });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
