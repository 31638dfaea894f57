/**
 * The artifact source shared by every role that installs binaries. Files keep their official names;
 * every file is checked against a SHA-256 before use:
 *  - `official`: the projects' release downloads, checked against their published checksums;
 *  - an http(s) base URL (a mirror): `<base>/<file>`, checked against `<base>/SHA256SUMS`;
 *  - a local folder: `<dir>/<file>`, checked against `<dir>/SHA256SUMS`.
 * Verified files are cached in `<workspace>/.kcore/artifacts/` so reruns need no network.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile, writeFileAtomic } from '../util/fs.js';

export interface ArtifactSpec {
  /** Short id used in messages and plans: `etcd`, `kubernetes-server`, `cni-plugins` … */
  id: string;
  version: string;
  /** The official file name, also the name in mirrors and folders. */
  file: string;
  officialUrl: string;
  /**
   * Where the official checksum is published: a SHA256SUMS-style list, a file holding just the hash, or
   * (for projects that publish no checksum file) the release's JSON on GitHub's REST API, whose assets
   * carry the SHA-256 GitHub computed at upload (`"digest": "sha256:<hex>"`, on every asset uploaded since
   * June 2025: https://github.blog/changelog/2025-06-03-releases-now-expose-digests-for-release-assets/).
   */
  officialChecksum: { kind: ChecksumKind; url: string };
}

export type ChecksumKind = 'sums' | 'single' | 'github-digest';

export class ArtifactError extends Error {
  override name = 'ArtifactError';
  constructor(
    readonly file: string,
    readonly location: string,
    message: string,
  ) {
    super(message);
  }
}

export const ARTIFACTS = {
  etcd: (v: string, arch: string): ArtifactSpec => {
    const base = `https://github.com/etcd-io/etcd/releases/download/v${v}`;
    const file = `etcd-v${v}-linux-${arch}.tar.gz`;
    return { id: 'etcd', version: v, file, officialUrl: `${base}/${file}`, officialChecksum: { kind: 'sums', url: `${base}/SHA256SUMS` } };
  },
  kubernetesServer: (v: string, arch: string): ArtifactSpec => {
    const file = `kubernetes-server-linux-${arch}.tar.gz`;
    const url = `https://dl.k8s.io/v${v}/${file}`;
    return { id: 'kubernetes-server', version: v, file, officialUrl: url, officialChecksum: { kind: 'single', url: `${url}.sha256` } };
  },
  kubernetesNode: (v: string, arch: string): ArtifactSpec => {
    const file = `kubernetes-node-linux-${arch}.tar.gz`;
    const url = `https://dl.k8s.io/v${v}/${file}`;
    return { id: 'kubernetes-node', version: v, file, officialUrl: url, officialChecksum: { kind: 'single', url: `${url}.sha256` } };
  },
  containerd: (v: string, arch: string): ArtifactSpec => {
    const file = `containerd-${v}-linux-${arch}.tar.gz`;
    const url = `https://github.com/containerd/containerd/releases/download/v${v}/${file}`;
    return { id: 'containerd', version: v, file, officialUrl: url, officialChecksum: { kind: 'single', url: `${url}.sha256sum` } };
  },
  cniPlugins: (v: string, arch: string): ArtifactSpec => {
    const file = `cni-plugins-linux-${arch}-v${v}.tgz`;
    const url = `https://github.com/containernetworking/plugins/releases/download/v${v}/${file}`;
    return { id: 'cni-plugins', version: v, file, officialUrl: url, officialChecksum: { kind: 'single', url: `${url}.sha256` } };
  },
  // flannel's release job uploads the tarballs only (flannel-io/flannel .github/workflows/release.yml:
  // `gh release upload ${GIT_TAG} dist/flannel*`, Makefile `tar.gz`): no SHA256SUMS, no .sha256. Its
  // checksum is the digest GitHub lists for the release asset.
  flannel: (v: string, arch: string): ArtifactSpec => {
    const file = `flannel-v${v}-linux-${arch}.tar.gz`;
    const base = `https://github.com/flannel-io/flannel/releases/download/v${v}`;
    return {
      id: 'flannel',
      version: v,
      file,
      officialUrl: `${base}/${file}`,
      officialChecksum: { kind: 'github-digest', url: `https://api.github.com/repos/flannel-io/flannel/releases/tags/v${v}` },
    };
  },
} as const;

export type SourceKind = 'official' | 'mirror' | 'folder';

export function sourceKind(source: string): SourceKind {
  if (source === 'official') return 'official';
  if (/^https?:\/\//.test(source)) return 'mirror';
  return 'folder';
}

/** Where a file comes from and where its checksum is, for the given source (pure). */
export function locate(a: ArtifactSpec, source: string, workspace: string): { location: string; checksum: { kind: ChecksumKind; location: string } } {
  switch (sourceKind(source)) {
    case 'official':
      return { location: a.officialUrl, checksum: { kind: a.officialChecksum.kind, location: a.officialChecksum.url } };
    case 'mirror': {
      const base = source.replace(/\/+$/, '');
      return { location: `${base}/${a.file}`, checksum: { kind: 'sums', location: `${base}/SHA256SUMS` } };
    }
    case 'folder': {
      const dir = path.resolve(workspace, source);
      return { location: path.join(dir, a.file), checksum: { kind: 'sums', location: path.join(dir, 'SHA256SUMS') } };
    }
  }
}

/** Parse `sha256sum` output ("<hex>  <file>" or "<hex> *<file>") into file → hash. */
export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line);
    if (m) out.set(path.basename(m[2]!), m[1]!.toLowerCase());
  }
  return out;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * What a file of the artifact cache was when it was last hashed: its SHA-256 holds while its inode, size and
 * modification time are what they were (the quick check rsync and git make). Hashing the etcd release (a 20 MB
 * tarball, 40 MB of binaries) took ~45 ms of every no-op converge; a stamp costs one stat and one small read.
 */
interface Stamp {
  ino: number;
  size: number;
  mtimeMs: number;
  sha256: string;
}

const stampOf = (st: { ino: number; size: number; mtimeMs: number }, sha256: string): Stamp => ({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, sha256 });
const holds = (s: Partial<Stamp> | undefined, st: { ino: number; size: number; mtimeMs: number }) => !!s?.sha256 && s.ino === st.ino && s.size === st.size && s.mtimeMs === st.mtimeMs;

/** The stamp kept beside `file` (`<file>.sha256.json`), when it still describes the file. */
async function stampedDigest(file: string): Promise<string | undefined> {
  return (await stampedFile(file))?.sha256;
}

async function stampedFile(file: string): Promise<{ sha256: string; size: number } | undefined> {
  try {
    const [st, text] = await Promise.all([stat(file), readFile(`${file}.sha256.json`, 'utf8')]);
    const s = JSON.parse(text) as Partial<Stamp>;
    return holds(s, st) && s.sha256 ? { sha256: s.sha256, size: st.size } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A file's content read when it is needed (an upload, the teaching view), not when it is only compared by its
 * digest: a no-op converge compares 40-60 MB of binaries by their stamped digests and reads none of them.
 */
export class LazyFile {
  constructor(
    readonly path: string,
    readonly length: number,
  ) {}
  read(): Promise<Buffer> {
    return readFile(this.path);
  }
}

/** The content of a wanted file, read now if it was left for later. */
export async function contentOf(content: string | Buffer | LazyFile): Promise<string | Buffer> {
  return content instanceof LazyFile ? content.read() : content;
}

async function stamp(file: string, sha256: string): Promise<void> {
  // Best effort: without a stamp the next run hashes again.
  await stat(file)
    .then((st) => writeFileAtomic(`${file}.sha256.json`, `${JSON.stringify(stampOf(st, sha256))}\n`))
    .catch(() => undefined);
}

/**
 * A file of an unpacked artifact and its SHA-256, hashed once per cache (stamped beside it), not once per run.
 * With its stamp holding, its content is read only when it is uploaded (LazyFile).
 */
export async function readUnpacked(file: string): Promise<{ content: Buffer | LazyFile; sha256: string }> {
  const known = await stampedFile(file);
  if (known) return { content: new LazyFile(file, known.size), sha256: known.sha256 };
  const content = await readFile(file);
  const sha256 = createHash('sha256').update(content).digest('hex');
  await stamp(file, sha256);
  return { content, sha256 };
}

async function fetchBytes(location: string, file: string, signal?: AbortSignal): Promise<Buffer> {
  if (!/^https?:\/\//.test(location)) {
    try {
      return await readFile(location);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new ArtifactError(file, location, `${path.basename(location)} is missing: expected at ${location}`);
      throw e;
    }
  }
  let res: Response;
  try {
    const headers = location.startsWith('https://api.github.com/') ? { accept: 'application/vnd.github+json' } : undefined;
    res = await fetch(location, { signal, redirect: 'follow', headers });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ArtifactError(file, location, `${path.basename(location)} could not be downloaded from ${location}: ${(e as Error).cause ? String((e as Error & { cause: Error }).cause.message) : (e as Error).message}`);
  }
  if (!res.ok) throw new ArtifactError(file, location, `${path.basename(location)} could not be downloaded from ${location}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** What to do when a project publishes no checksum for a file. */
const MIRROR_HINT = 'put the file in a mirror or folder with its sha256sum line in SHA256SUMS and point artifacts.source (or --artifacts) at it';

/** The SHA-256 GitHub lists for a release asset (the release's REST API JSON, `assets[].digest`). */
export function githubDigest(a: ArtifactSpec, location: string, json: string): string {
  let release: { assets?: Array<{ name?: string; digest?: string | null }> };
  try {
    release = JSON.parse(json) as typeof release;
  } catch {
    throw new ArtifactError(a.file, location, `${location} is not a GitHub release (no JSON): ${a.id} publishes no checksum file for ${a.file}; ${MIRROR_HINT}`);
  }
  const asset = (release.assets ?? []).find((x) => x.name === a.file);
  if (!asset) throw new ArtifactError(a.file, location, `${a.file} is not an asset of the release at ${location}; ${MIRROR_HINT}`);
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(asset.digest ?? '');
  if (!m)
    throw new ArtifactError(
      a.file,
      location,
      `no checksum is published for ${a.file}: ${a.id} publishes no checksum file and GitHub lists no SHA-256 digest for it (${location}); ${MIRROR_HINT}`,
    );
  return m[1]!.toLowerCase();
}

export interface ArtifactStore {
  readonly source: string;
  /** The local path of a verified copy of the artifact (downloaded or copied and checked once). */
  fetch(a: ArtifactSpec, signal?: AbortSignal): Promise<{ path: string; sha256: string }>;
  /** Unpack a verified tarball (cached) and return the folder it was unpacked into. */
  unpack(a: ArtifactSpec, signal?: AbortSignal): Promise<string>;
  /** Where the artifact would come from (for plans and messages). */
  describe(a: ArtifactSpec): string;
}

export function createArtifactStore(workspace: string, source: string): ArtifactStore {
  const cacheDir = path.join(workspace, '.kcore', 'artifacts');
  const inflight = new Map<string, Promise<{ path: string; sha256: string }>>();
  const unpacking = new Map<string, Promise<string>>();

  async function expectedHash(a: ArtifactSpec, signal?: AbortSignal): Promise<string> {
    const { checksum } = locate(a, source, workspace);
    const text = (await fetchBytes(checksum.location, a.file, signal).catch((e: unknown) => {
      if (e instanceof ArtifactError)
        throw new ArtifactError(a.file, checksum.location, `no checksum for ${a.file}: ${e.message}${checksum.kind === 'github-digest' ? `; ${MIRROR_HINT}` : ''}`);
      throw e;
    })).toString('utf8');
    if (checksum.kind === 'github-digest') return githubDigest(a, checksum.location, text);
    if (checksum.kind === 'single') {
      const m = /^([0-9a-fA-F]{64})\b/.exec(text.trim());
      if (!m) throw new ArtifactError(a.file, checksum.location, `${checksum.location} holds no SHA-256 for ${a.file}`);
      return m[1]!.toLowerCase();
    }
    const hash = parseSums(text).get(a.file);
    if (!hash) throw new ArtifactError(a.file, checksum.location, `${a.file} is not listed in ${checksum.location}: add its sha256sum line`);
    return hash;
  }

  async function doFetch(a: ArtifactSpec, signal?: AbortSignal) {
    const expected = await expectedHash(a, signal);
    const cached = path.join(cacheDir, a.file);
    try {
      // Checked once: a stamp that still describes the copy (same inode, size, mtime) stands for its hash.
      if ((await stampedDigest(cached)) === expected) return { path: cached, sha256: expected };
      if ((await stat(cached)).isFile() && (await sha256File(cached)) === expected) {
        await stamp(cached, expected);
        return { path: cached, sha256: expected };
      }
    } catch {
      /* not cached yet */
    }
    const { location } = locate(a, source, workspace);
    const bytes = await fetchBytes(location, a.file, signal);
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== expected)
      throw new ArtifactError(a.file, location, `${a.file} from ${location} has SHA-256 ${got}, but the checksum list says ${expected}: the file is corrupt or was replaced`);
    await mkdir(cacheDir, { recursive: true });
    await replaceFile(cached, (tmp) => writeFile(tmp, bytes));
    await stamp(cached, expected);
    return { path: cached, sha256: expected };
  }

  return {
    source,
    describe: (a) => locate(a, source, workspace).location,
    fetch(a, signal) {
      let p = inflight.get(a.file);
      if (!p) {
        p = doFetch(a, signal);
        inflight.set(a.file, p);
        p.catch(() => inflight.delete(a.file));
      }
      return p;
    },
    unpack(a, signal) {
      let p = unpacking.get(a.file);
      if (!p) {
        p = (async () => {
          const { path: tarball, sha256 } = await this.fetch(a, signal);
          const dir = path.join(cacheDir, `${a.file}.${sha256.slice(0, 12)}.d`);
          try {
            if ((await stat(dir)).isDirectory()) return dir;
          } catch {
            /* unpack below */
          }
          const tmp = `${dir}.${randomBytes(4).toString('hex')}.tmp`;
          await mkdir(tmp, { recursive: true });
          try {
            // execa (~100 modules) is loaded only when a tarball is really unpacked: never in a no-op converge.
            const { execa } = await import('execa');
            await execa('tar', ['-xzf', tarball, '-C', tmp], { cancelSignal: signal });
            await rename(tmp, dir);
          } catch (e) {
            await rm(tmp, { recursive: true, force: true });
            throw new ArtifactError(a.file, tarball, `${a.file} could not be unpacked: ${(e as Error).message.split('\n')[0]}`);
          }
          return dir;
        })();
        unpacking.set(a.file, p);
        p.catch(() => unpacking.delete(a.file));
      }
      return p;
    },
  };
}
