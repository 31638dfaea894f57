import { isIP } from 'node:net';
import { PkiError } from './types.js';

function v6Groups(ip: string): number[] {
  let text = ip.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    // embedded IPv4 tail (::ffff:10.0.0.1): rewrite as two hex groups
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = parse(head);
  if (rest === undefined) return h;
  const t = parse(rest);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** Canonical text of an IP address (IPv4 dotted quad, IPv6 RFC 5952), or null if `ip` is not an address. */
export function canonicalIp(ip: string): string | null {
  const kind = isIP(ip);
  if (kind === 4) return ip.split('.').map((o) => String(Number(o))).join('.');
  if (kind !== 6) return null;
  const g = v6Groups(ip);
  // longest run of two or more zero groups becomes ::
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function ipToBigInt(ip: string): { value: bigint; bits: number } {
  if (isIP(ip) === 4) {
    return { value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  }
  return { value: v6Groups(ip).reduce((acc, g) => (acc << 16n) | BigInt(g), 0n), bits: 128 };
}

function bigIntToIp(value: bigint, bits: number): string {
  if (bits === 32) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  return canonicalIp(groups.join(':')) ?? groups.join(':');
}

/** First usable address of a CIDR: the `kubernetes` service ClusterIP (10.3.0.0/24 → 10.3.0.1). */
export function firstServiceIp(cidr: string): string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m || !isIP(m[1] ?? '')) throw new PkiError(`serviceCidr ${JSON.stringify(cidr)} is not a CIDR such as 10.3.0.0/24`);
  const { value, bits } = ipToBigInt(m[1] ?? '');
  const prefix = Number(m[2]);
  if (prefix > bits - 2) throw new PkiError(`serviceCidr ${cidr} is too small to hold services`);
  const hostBits = BigInt(bits - prefix);
  const network = (value >> hostBits) << hostBits;
  return bigIntToIp(network + 1n, bits);
}
