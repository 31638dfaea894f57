/**
 * Forgetting destroyed machines in the workspace's known_hosts (`<ws>/known_hosts`): a new machine on
 * the same address has a new host key, and a stale entry would make the next `up` refuse it as a
 * changed key. Only the given names go; every other line is kept byte for byte.
 * The editing is src/ssh/known-hosts.ts's (one implementation: its lock, its atomic 0600 write).
 */
import { KnownHosts, knownHostsName, removeKnownHostsNames } from '../ssh/known-hosts.js';

/** The names OpenSSH looks up for a host: `addr` on port 22 (also written `[addr]:22`), `[addr]:port` otherwise. */
export function knownHostsNames(host: string, port = 22): string[] {
  const n = knownHostsName(host, port);
  return port === 22 ? [n, `[${n}]:22`] : [n];
}

/**
 * Remove `names` from known_hosts text. A line listing several patterns keeps the others; a line whose
 * patterns are all removed (or a hashed line that matches) is dropped. Returns the new text and how
 * many entries were touched.
 */
export function removeKnownHostsEntries(text: string, names: readonly string[]): { text: string; removed: number } {
  return removeKnownHostsNames(text, names);
}

/** Forget these hosts in a known_hosts file (absent file: nothing to do). Returns the entries removed. */
export async function forgetKnownHosts(file: string, hosts: ReadonlyArray<{ host: string; port?: number }>): Promise<number> {
  return new KnownHosts(file).remove(hosts.map((h) => knownHostsName(h.host, h.port ?? 22)));
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
