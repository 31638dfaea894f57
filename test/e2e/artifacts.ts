/**
 * A local artifact folder for end-to-end runs on a machine without internet: an etcd release tarball
 * in the official layout (`etcd-v<V>-linux-amd64.tar.gz` holding `etcd-v<V>-linux-amd64/etcd` and
 * `etcdctl`), made from Debian's own etcd binaries, plus a `SHA256SUMS` in `sha256sum` format.
 * Kubernetes, containerd, CNI and flannel are not available here, so they are simply absent: the
 * engine must say so by name.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Debian's etcd-server version without the Debian revision: `3.4.23-4+b4` → `3.4.23`. */
export function debianEtcdVersion(): string {
  const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'etcd-server'], { encoding: 'utf8' }).trim();
  const m = /^(?:\d+:)?(\d+\.\d+\.\d+)/.exec(v);
  if (!m) throw new Error(`cannot read a version from etcd-server's "${v}"`);
  return m[1]!;
}

export interface LocalMirror {
  dir: string;
  etcdVersion: string;
  files: string[];
}

export function buildLocalEtcdMirror(dir: string, opts: { version?: string; etcd?: string; etcdctl?: string } = {}): LocalMirror {
  const version = opts.version ?? debianEtcdVersion();
  const etcd = opts.etcd ?? '/usr/bin/etcd';
  const etcdctl = opts.etcdctl ?? '/usr/bin/etcdctl';
  for (const f of [etcd, etcdctl]) if (!existsSync(f)) throw new Error(`${f} is missing: apt-get install etcd-server etcd-client`);
  mkdirSync(dir, { recursive: true });
  const base = `etcd-v${version}-linux-amd64`;
  const file = `${base}.tar.gz`;
  const stage = mkdtempSync(path.join(tmpdir(), 'kcore-etcd-mirror-'));
  try {
    mkdirSync(path.join(stage, base));
    copyFileSync(etcd, path.join(stage, base, 'etcd'));
    copyFileSync(etcdctl, path.join(stage, base, 'etcdctl'));
    execFileSync('chmod', ['0755', path.join(stage, base, 'etcd'), path.join(stage, base, 'etcdctl')]);
    execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-czf', path.join(dir, file), '-C', stage, base]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  const sum = createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex');
  writeFileSync(path.join(dir, 'SHA256SUMS'), `${sum}  ${file}\n`);
  return { dir, etcdVersion: version, files: [file] };
}
