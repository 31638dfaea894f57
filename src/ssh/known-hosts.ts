// The workspace's own known_hosts file, in OpenSSH format: `[marker] patterns keytype base64 [comment]`.
// Reads plain, `[host]:port`, wildcard/negated and hashed (`|1|salt|hmac`) entries; writes atomically.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { keyedQueue } from '../util/queue.js';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: '@cert-authority' | '@revoked';
  /** The host field as written: comma-separated patterns, or one hashed `|1|…|…` name. */
  hosts: string;
  keyType: string;
  /** Base64 of the public key blob. */
  key: string;
  comment?: string;
}

export type HostKeyCheck =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  | { status: 'changed'; known: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** The name OpenSSH writes and looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** OpenSSH fingerprint of a public key blob: `SHA256:` + base64 without padding. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, …). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) throw new Error('Invalid SSH public key blob');
  const len = keyBlob.readUInt32BE(0);
  if (len <= 0 || len > 64 || 4 + len > keyBlob.length) throw new Error('Invalid SSH public key blob');
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/** Hashed host name in OpenSSH's `HashKnownHosts` form: `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const mac = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${mac}`;
}

function hashedMatches(hashed: string, name: string): boolean {
  const parts = hashed.split('|');
  // ['', '1', salt, mac]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && got.equals(want);
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

/** Does a known_hosts host field match `name` (already in `[host]:port` form when port ≠ 22)? */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatches(field, name);
  let positive = false;
  for (const raw of field.split(',')) {
    if (!raw) continue;
    const negated = raw.startsWith('!');
    const pat = negated ? raw.slice(1) : raw;
    if (globToRegExp(pat).test(name)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m !== '@cert-authority' && m !== '@revoked') continue; // unknown marker: ignored, like OpenSSH
      marker = m;
    }
    if (fields.length < 3) continue; // malformed: skipped
    const [hosts, keyType, key, ...rest] = fields as [string, string, string, ...string[]];
    const entry: KnownHostEntry = { line: i + 1, hosts, keyType, key };
    if (marker) entry.marker = marker;
    if (rest.length) entry.comment = rest.join(' ');
    out.push(entry);
  }
  return out;
}

// Writers of the same file, within this process, go one at a time (each re-reads the file in its turn).
const withLock = keyedQueue();

export class KnownHosts {
  constructor(readonly path: string) {}

  async read(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    }
  }

  async entries(): Promise<KnownHostEntry[]> {
    return parseKnownHosts(await this.read());
  }

  /** Entries (excluding @cert-authority) whose host field matches host:port. */
  async lookup(host: string, port: number): Promise<KnownHostEntry[]> {
    const name = knownHostsName(host, port);
    return (await this.entries()).filter((e) => e.marker !== '@cert-authority' && hostFieldMatches(e.hosts, name));
  }

  /** Compare a presented key with what the file knows about host:port. */
  async check(host: string, port: number, keyBlob: Buffer): Promise<HostKeyCheck> {
    const found = await this.lookup(host, port);
    const b64 = keyBlob.toString('base64');
    const revoked = found.find((e) => e.marker === '@revoked' && e.key === b64);
    if (revoked) return { status: 'revoked', entry: revoked };
    const plain = found.filter((e) => !e.marker);
    const same = plain.find((e) => e.key === b64);
    if (same) return { status: 'known', entry: same };
    // A known key of any type that differs is a change: a server presenting a new type is not trusted silently.
    if (plain.length > 0) return { status: 'changed', known: plain };
    return { status: 'unknown' };
  }

  /** Key types known for host:port, to ask the server for those first. */
  async knownKeyTypes(host: string, port: number): Promise<string[]> {
    return [...new Set((await this.lookup(host, port)).filter((e) => !e.marker).map((e) => e.keyType))];
  }

  /** Record a key for host:port (appended; an identical line is not duplicated). */
  async add(host: string, port: number, keyBlob: Buffer): Promise<void> {
    const name = knownHostsName(host, port);
    const line = `${name} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
    await withLock(this.path, async () => {
      const text = await this.read();
      const lines = splitLines(text);
      if (lines.some((l) => l.trim() === line)) return;
      lines.push(line);
      await this.write(lines);
    });
  }

  /** Replace whatever is known for host:port by this key (used when a changed key was explicitly accepted). */
  async replace(host: string, port: number, keyBlob: Buffer): Promise<void> {
    const name = knownHostsName(host, port);
    const line = `${name} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
    await withLock(this.path, async () => {
      const lines = splitLines(removeKnownHostsNames(await this.read(), [name]).text);
      lines.push(line);
      await this.write(lines);
    });
  }

  /**
   * Forget hosts: each name is `host` (port 22), `[host]:port` or `host:port`. Plain entries lose that
   * name (the line goes when no name is left); hashed entries that match are removed; wildcard lines stay.
   * Returns how many entries were touched (an absent file: 0, and it is not created).
   */
  async remove(hostNames: string[]): Promise<number> {
    return withLock(this.path, async () => {
      const text = await this.read();
      if (!text) return 0;
      const r = removeKnownHostsNames(text, hostNames);
      if (r.removed > 0) await this.write(splitLines(r.text));
      return r.removed;
    });
  }

  /** Private (0600), fsynced, through the project's one atomic writer; the caller holds the lock. */
  private async write(lines: string[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, lines.length > 0 ? lines.join('\n') + '\n' : '', 0o600, { sync: true });
  }
}

function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function normaliseName(n: string): string {
  const t = n.trim().toLowerCase();
  if (t.startsWith('[')) {
    const m = /^\[(.+)\]:(\d+)$/.exec(t);
    return m ? knownHostsName(m[1]!, Number(m[2])) : t;
  }
  const m = /^([^:]+):(\d+)$/.exec(t); // host:port (not IPv6)
  return m ? knownHostsName(m[1]!, Number(m[2])) : t;
}

/**
 * known_hosts text without the given names (`host`, `[host]:port`, `host:port`; a port-22 name also matches
 * an explicit `[host]:22` pattern). A line listing several patterns keeps the others; a line whose patterns
 * all go, or a hashed line that matches, is dropped; every other line is kept byte for byte. Pure.
 */
export function removeKnownHostsNames(text: string, hostNames: readonly string[]): { text: string; removed: number } {
  const names = [...new Set(hostNames.map(normaliseName).flatMap((n) => (n.startsWith('[') ? [n] : [n, `[${n}]:22`])))];
  const lines = splitLines(text);
  const out: string[] = [];
  let removed = 0;
  for (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) {
      out.push(line);
      continue;
    }
    const fields = trimmed.split(/\s+/);
    const hasMarker = fields[0]!.startsWith('@');
    const hostIdx = hasMarker ? 1 : 0;
    const hostField = fields[hostIdx];
    if (hostField === undefined) {
      out.push(line);
      continue;
    }
    if (hostField.startsWith('|')) {
      if (names.some((n) => hostFieldMatches(hostField, n))) removed++;
      else out.push(line);
      continue;
    }
    const patterns = hostField.split(',');
    const kept = patterns.filter((p) => !names.includes(p.toLowerCase()));
    if (kept.length === patterns.length) {
      out.push(line);
      continue;
    }
    removed++;
    if (kept.length > 0) {
      fields[hostIdx] = kept.join(',');
      out.push(fields.join(' '));
    }
  }
  return { text: out.length > 0 ? out.join('\n') + '\n' : '', removed };
}
