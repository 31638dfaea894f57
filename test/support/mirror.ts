/**
 * A local artifact mirror for tests: an etcd release tarball built from Debian's etcd binaries in the
 * official layout (`etcd-v<ver>-linux-amd64/{etcd,etcdctl}`) and a SHA256SUMS file beside it. Kubernetes
 * binaries cannot be had on these machines, so they are absent on purpose. `serveMirror` serves the
 * same folder over HTTP on 127.0.0.1 for the mirror-URL source.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scratchDir } from './scratch.js';

/** The version of Debian's etcd-server package (e.g. 3.4.23), which the mirror's tarball carries. */
export function debianEtcdVersion(): string {
  const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'etcd-server'], { encoding: 'utf8' });
  const m = /^(\d+\.\d+\.\d+)/.exec(v);
  if (!m) throw new Error(`cannot read the etcd-server package version (got "${v}"): install etcd-server and etcd-client`);
  return m[1]!;
}

export interface Mirror {
  dir: string;
  etcdVersion: string;
  etcdFile: string;
}

/** Build (or rebuild) the mirror folder. `dir` defaults to a new temp folder (removed by removeScratch()). */
export async function buildLocalEtcdMirror(dir?: string): Promise<Mirror> {
  const out = dir ?? (await scratchDir('kcore-mirror-'));
  const version = debianEtcdVersion();
  const top = `etcd-v${version}-linux-amd64`;
  const file = `${top}.tar.gz`;
  const stage = await mkdtemp(path.join(tmpdir(), 'kcore-etcd-stage-'));
  try {
    await mkdir(path.join(stage, top));
    for (const bin of ['etcd', 'etcdctl']) await copyFile(`/usr/bin/${bin}`, path.join(stage, top, bin));
    await mkdir(out, { recursive: true });
    execFileSync('tar', ['-czf', path.join(out, file), '-C', stage, top]);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  const sum = createHash('sha256').update(await readFile(path.join(out, file))).digest('hex');
  await writeFile(path.join(out, 'SHA256SUMS'), `${sum}  ${file}\n`);
  return { dir: out, etcdVersion: version, etcdFile: file };
}

/** Serve a folder over HTTP on 127.0.0.1 (random port) for mirror-URL tests. */
export async function serveMirror(dir: string): Promise<{ url: string; close(): Promise<void>; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const name = path.basename(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    requests.push(name);
    readFile(path.join(dir, name)).then(
      (b) => res.writeHead(200, { 'content-length': b.length }).end(b),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('mirror server has no port');
  return { url: `http://127.0.0.1:${addr.port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Add Debian 13's etcd (3.5.x, from the trixie suite of the same archive, downloaded once by
 * test/hosts/fetch-debs.sh) to a mirror, repacked in the official release layout with etcdutl:
 * the target of a real rolling upgrade 3.4 → 3.5. SHA256SUMS lists every tarball of the mirror.
 */
export async function addDebianEtcd(mirror: Mirror, suite = 'trixie'): Promise<{ version: string; file: string }> {
  const fetch = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'hosts', 'fetch-debs.sh');
  const debs = execFileSync('bash', [fetch, suite, 'etcd-server'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const deb = execFileSync('bash', ['-c', `ls ${debs}/etcd-server_*.deb | tail -1`], { encoding: 'utf8' }).trim();
  const m = /etcd-server_(\d+\.\d+\.\d+)/.exec(deb);
  if (!m) throw new Error(`no etcd-server .deb in ${debs}`);
  const version = m[1]!;
  const top = `etcd-v${version}-linux-amd64`;
  const file = `${top}.tar.gz`;
  const stage = await mkdtemp(path.join(tmpdir(), 'kcore-etcd-deb-'));
  try {
    execFileSync('dpkg-deb', ['-x', deb, path.join(stage, 'x')]);
    await mkdir(path.join(stage, top));
    for (const bin of ['etcd', 'etcdutl']) await copyFile(path.join(stage, 'x', 'usr', 'bin', bin), path.join(stage, top, bin));
    // etcdctl is in Debian's etcd-client package; the 3.4 etcdctl of this machine speaks the same v3 API.
    await copyFile('/usr/bin/etcdctl', path.join(stage, top, 'etcdctl'));
    execFileSync('tar', ['-czf', path.join(mirror.dir, file), '-C', stage, top]);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  const sums: string[] = [];
  for (const f of [mirror.etcdFile, file]) sums.push(`${createHash('sha256').update(await readFile(path.join(mirror.dir, f))).digest('hex')}  ${f}`);
  await writeFile(path.join(mirror.dir, 'SHA256SUMS'), sums.join('\n') + '\n');
  return { version, file };
}
