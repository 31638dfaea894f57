/**
 * Forgetting destroyed machines in the workspace's known_hosts (`<ws>/known_hosts`): a new machine on
 * the same address has a new host key, and a stale entry would make the next `up` refuse it as a
 * changed key. Only the given names go; every other line is kept byte for byte.
 * The editing is src/ssh/known-hosts.ts's (one implementation: its lock, its atomic 0600 write), and the
 * `vagrant ssh-config` text is read by src/ssh/ssh-config.ts, the parser the engine connects with.
 */
import { KnownHosts, knownHostsName, removeKnownHostsNames } from '../ssh/known-hosts.js';
import { parseSshConfig } from '../ssh/ssh-config.js';

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

/** `Host`, `HostName` and `Port` of each concrete Host entry of a `vagrant ssh-config` file. */
export function sshConfigHosts(text: string): Array<{ name: string; hostName?: string; port: number }> {
  // The evaluated targets (wildcard blocks as defaults, first value wins), as the engine sees them.
  return parseSshConfig(text, { defaultUser: 'unused' }).targets.map((t) => (t.host !== t.name ? { name: t.name, hostName: t.host, port: t.port } : { name: t.name, port: t.port }));
}
