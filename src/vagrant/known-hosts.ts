/**
 * Forgetting destroyed machines in the workspace's known_hosts (`<ws>/known_hosts`): a new machine on
 * the same address has a new host key, and a stale entry would make the next `up` refuse it as a
 * changed key. Only the given names go; every other line is kept byte for byte.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/fs.js';

/** The names OpenSSH looks up for a host: `addr` on port 22, `[addr]:port` otherwise. */
export function knownHostsNames(host: string, port = 22): string[] {
  const h = host.toLowerCase();
  return port === 22 ? [h, `[${h}]:22`] : [`[${h}]:${port}`];
}

function hashedMatches(hashed: string, name: string): boolean {
  const parts = hashed.split('|'); // ['', '1', salt, mac]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const mac = createHmac('sha1', Buffer.from(parts[2]!, 'base64')).update(name).digest('base64');
  return mac === parts[3];
}

/**
 * Remove `names` from known_hosts text. A line listing several patterns keeps the others; a line whose
 * patterns are all removed (or a hashed line that matches) is dropped. Returns the new text and how
 * many entries were touched.
 */
export function removeKnownHostsEntries(text: string, names: readonly string[]): { text: string; removed: number } {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  let removed = 0;
  const out: string[] = [];
  const lines = text.split('\n');
  const trailing = lines.length > 0 && lines[lines.length - 1] === '';
  if (trailing) lines.pop();
  for (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) {
      out.push(line);
      continue;
    }
    const fields = trimmed.split(/\s+/);
    const markerAt = fields[0]!.startsWith('@') ? 1 : 0;
    const hostField = fields[markerAt];
    if (hostField === undefined) {
      out.push(line);
      continue;
    }
    if (hostField.startsWith('|1|')) {
      if ([...wanted].some((n) => hashedMatches(hostField, n))) removed++;
      else out.push(line);
      continue;
    }
    const patterns = hostField.split(',');
    const kept = patterns.filter((p) => !wanted.has(p.toLowerCase()));
    if (kept.length === patterns.length) {
      out.push(line);
      continue;
    }
    removed++;
    if (kept.length === 0) continue;
    fields[markerAt] = kept.join(',');
    out.push(fields.join(' '));
  }
  return { text: out.join('\n') + (trailing && out.length ? '\n' : ''), removed };
}

/** Apply removeKnownHostsEntries to a file (absent file: nothing to do). */
export async function forgetKnownHosts(file: string, hosts: ReadonlyArray<{ host: string; port?: number }>): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  const names = hosts.flatMap((h) => knownHostsNames(h.host, h.port));
  const r = removeKnownHostsEntries(text, names);
  if (r.removed) await writeFileAtomic(file, r.text, 0o600);
  return r.removed;
}

/** `Host`, `HostName` and `Port` of each entry of a `vagrant ssh-config` file. */
export function sshConfigHosts(text: string): Array<{ name: string; hostName?: string; port: number }> {
  const out: Array<{ name: string; hostName?: string; port: number }> = [];
  let cur: { name: string; hostName?: string; port: number } | undefined;
  for (const raw of text.split('\n')) {
    const m = /^\s*(\w+)\s+(.+?)\s*$/.exec(raw);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    if (key === 'host') {
      cur = { name: m[2]!, port: 22 };
      out.push(cur);
    } else if (cur && key === 'hostname') cur.hostName = m[2]!;
    else if (cur && key === 'port') cur.port = Number(m[2]) || 22;
  }
  return out;
}
