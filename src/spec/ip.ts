/** Small IPv4 helpers for the spec's network plan (no dependency needed for /24-style arithmetic). */

export function parseIpv4(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface Cidr {
  base: number;
  bits: number;
  /** number of addresses */
  size: number;
  text: string;
}

export function parseCidr(text: string): Cidr | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return null;
  const ip = parseIpv4(m[1]!);
  const bits = Number(m[2]);
  if (ip === null || bits > 32) return null;
  const size = 2 ** (32 - bits);
  return { base: ip - (ip % size), bits, size, text };
}

/** True when the CIDR's address has host bits set (10.2.0.5/16): almost always a typo. */
export function hasHostBits(text: string): boolean {
  const c = parseCidr(text);
  const ip = parseIpv4(text.split('/')[0]!);
  return !!c && ip !== null && ip !== c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const n = parseIpv4(ip);
  return n !== null && n >= c.base && n < c.base + c.size;
}

/** The n-th address of a CIDR (0 = network address). */
export function nthAddress(c: Cidr, n: number): string {
  return formatIpv4(c.base + n);
}
