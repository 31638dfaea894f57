// Addressing for the test hosts: the private /24 they live in, the bridge that joins them to the
// test process, and the bounded TCP probe used to know a host's sshd is up.
// Only addresses inside the chosen /24 are ever probed.
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { track, type RunState } from './cleanup.js';
import { run, sleep } from './run.js';

/** Default first two octets of the test prefix: unusual enough not to collide with real networks. */
export const DEFAULT_PREFIX_BASE = '10.213';

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function isPrefix(prefix: string): boolean {
  const parts = prefix.split('.');
  return parts.length === 3 && parts.every((p) => OCTET.test(p));
}

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Does the network a.b.c.d/len overlap the /24 `prefix`? */
function overlaps(prefix: string, cidr: string): boolean {
  const [addr = '', lenText = '32'] = cidr.split('/');
  const parts = addr.split('.');
  while (parts.length < 4) parts.push('0'); // `ip route` may print "10/8"
  const len = Number(lenText);
  const common = Math.min(len, 24);
  if (common === 0) return false; // a default route is not a use of the prefix
  const mask = common === 32 ? 0xffffffff : ~((1 << (32 - common)) - 1) >>> 0;
  return ((toInt(parts.join('.')) & mask) >>> 0) === ((toInt(`${prefix}.0`) & mask) >>> 0);
}

/** Every IPv4 address and route of the root namespace, as "a.b.c.d/len". */
async function usedNetworks(): Promise<string[]> {
  const addrs = await run('ip', ['-4', '-o', 'addr', 'show']);
  const routes = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
  const out: string[] = [];
  for (const m of addrs.matchAll(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/g)) out.push(m[1] ?? '');
  for (const line of routes.split('\n')) {
    // A route line starts with its destination, or with a route type ("local", "broadcast", …) then
    // the destination. "default" routes (0/0) do not claim the prefix and are skipped.
    const words = line.trim().split(/\s+/);
    const dst = /^\d/.test(words[0] ?? '') ? words[0] : /^\d/.test(words[1] ?? '') ? words[1] : undefined;
    if (dst) out.push(dst.includes('/') ? dst : `${dst}/32`);
  }
  return out;
}

export async function prefixInUse(prefix: string): Promise<string | undefined> {
  return (await usedNetworks()).find((n) => overlaps(prefix, n));
}

/**
 * Chooses the /24 for a set of hosts. An explicit prefix (option, or KCORE_TEST_PREFIX) must be free;
 * otherwise a random free 10.213.N is taken. Races with a concurrent run are caught later, once the
 * bridge holds the address (see claimBridgeAddress).
 */
export async function choosePrefix(requested: string | undefined): Promise<string> {
  const explicit = requested ?? process.env.KCORE_TEST_PREFIX;
  if (explicit !== undefined) {
    if (!isPrefix(explicit) || !explicit.startsWith('10.')) {
      throw new Error(`test prefix must look like "10.X.Y" (a /24 inside 10.0.0.0/8), got "${explicit}"`);
    }
    const clash = await prefixInUse(explicit);
    if (clash) throw new Error(`test prefix ${explicit}.0/24 is already in use on this machine (${clash})`);
    return explicit;
  }
  const used = await usedNetworks();
  for (let attempt = 0; attempt < 64; attempt++) {
    const candidate = `${DEFAULT_PREFIX_BASE}.${randomInt(1, 255)}`;
    if (!used.some((n) => overlaps(candidate, n))) return candidate;
  }
  throw new Error(`no free /24 found in ${DEFAULT_PREFIX_BASE}.0.0/16`);
}

/** Resolves requested addresses (full IPs or last octets) inside the prefix; defaults to .11, .12, … */
export function planIps(prefix: string, count: number, ips: readonly (string | number)[] | undefined): string[] {
  if (ips !== undefined && ips.length !== count) throw new Error(`ips has ${ips.length} entries for ${count} hosts`);
  const out = Array.from({ length: count }, (_, i) => {
    const want = ips?.[i] ?? 11 + i;
    const ip = typeof want === 'number' ? `${prefix}.${want}` : want;
    const last = Number(ip.split('.')[3]);
    if (!ip.startsWith(`${prefix}.`) || ip.split('.').length !== 4 || !OCTET.test(String(last)) || last < 2 || last > 254) {
      throw new Error(`host address ${ip} is not a usable address of ${prefix}.0/24 (.2-.254; .1 is the bridge)`);
    }
    return ip;
  });
  if (new Set(out).size !== out.length) throw new Error(`duplicate host addresses: ${out.join(', ')}`);
  return out;
}

/**
 * Gives the bridge the .1 address, then checks no other interface holds an address in the /24
 * (a concurrent run that picked the same prefix). Returns false on a clash so the caller retries.
 */
export async function claimBridgeAddress(bridge: string, prefix: string): Promise<boolean> {
  await run('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
  const addrs = await run('ip', ['-4', '-o', 'addr', 'show']);
  const holders = addrs
    .split('\n')
    .filter((l) => /\binet (\d+\.\d+\.\d+\.\d+\/\d+)/.test(l))
    .filter((l) => overlaps(prefix, /\binet (\S+)/.exec(l)?.[1] ?? ''))
    .map((l) => l.split(/\s+/)[1]?.replace(/@.*/, ''));
  return holders.every((dev) => dev === bridge);
}

/** One TCP connection attempt, bounded by `timeoutMs`. */
export function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls ip:port until it accepts a connection, or `deadline` (ms since epoch) passes. */
export async function waitForTcp(ip: string, port: number, deadline: number, stillAlive: () => boolean): Promise<boolean> {
  while (Date.now() < deadline) {
    if (!stillAlive()) return false;
    if (await tcpProbe(ip, port, 1_000)) return true;
    await sleep(50);
  }
  return false;
}

/**
 * Creates the run's bridge and gives it the .1 address of a free /24.
 * The bridge name is recorded before it exists so that a failure halfway is still cleaned up.
 */
export async function createBridge(state: RunState, requested: string | undefined): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const prefix = await choosePrefix(requested);
    const bridge = `kcbr${state.id}${attempt}`;
    state.bridge = bridge;
    track(state);
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    // No IPv6 (no link-local chatter), no STP delay: the bridge is a plain private switch.
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
    if (await claimBridgeAddress(bridge, prefix)) {
      await run('ip', ['link', 'set', bridge, 'up']);
      return prefix;
    }
    // A concurrent run took the same /24 at the same moment: give it up and pick again.
    await run('ip', ['link', 'delete', bridge]);
    if (requested !== undefined) throw new Error(`test prefix ${requested}.0/24 was taken concurrently`);
  }
  throw new Error('could not claim a free test prefix after 5 attempts');
}
