/**
 * Flatcar publishes, next to every image, `<file>.DIGESTS`: sections headed `# <ALGO> HASH`, each
 * followed by `<hex>  <file name>` lines (the Gentoo/catalyst layout, also signed as `.DIGESTS.asc`).
 * A downloaded Flatcar box is accepted only if its SHA-512 (or, failing that, SHA-256) matches.
 * MD5 and SHA-1 alone are refused: they no longer prove anything.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { replaceFile } from '../util/fs.js';

export type DigestAlgo = 'md5' | 'sha1' | 'sha256' | 'sha512';

/** file name → algorithm → lower-case hex. */
export type Digests = Map<string, Partial<Record<DigestAlgo, string>>>;

const HEX_LEN: Record<DigestAlgo, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };
/** Strongest first; only these prove the download. */
const TRUSTED: DigestAlgo[] = ['sha512', 'sha256'];

export function parseDigests(text: string): Digests {
  const out: Digests = new Map();
  let algo: DigestAlgo | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    // A PGP-signed copy (.DIGESTS.asc) wraps the same text; its armour lines are not hashes.
    if (!line || line.startsWith('-----') || /^(Hash|Version|Comment):/.test(line)) continue;
    const header = /^#\s*(MD5|SHA1|SHA256|SHA512)\s+HASH\s*$/i.exec(line);
    if (header) {
      algo = header[1]!.toLowerCase() as DigestAlgo;
      continue;
    }
    if (line.startsWith('#')) {
      algo = undefined; // an unknown section (e.g. # WHIRLPOOL HASH): skip its lines
      continue;
    }
    const m = /^([0-9a-fA-F]+)\s+\*?(.+)$/.exec(line);
    if (!m || !algo || m[1]!.length !== HEX_LEN[algo]) continue;
    const file = path.basename(m[2]!.trim());
    const entry = out.get(file) ?? {};
    entry[algo] = m[1]!.toLowerCase();
    out.set(file, entry);
  }
  return out;
}

export async function hashFile(file: string, algo: DigestAlgo): Promise<string> {
  const h = createHash(algo);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class DigestError extends Error {
  override name = 'DigestError';
}

/**
 * Check `file` (saved locally) against a DIGESTS text, under the name `publishedName` (the name in
 * the DIGESTS file, i.e. the URL's last segment). Returns the algorithm and hash that matched.
 */
export async function verifyAgainstDigests(file: string, digestsText: string, publishedName = path.basename(file)): Promise<{ algo: DigestAlgo; hash: string }> {
  const entry = parseDigests(digestsText).get(publishedName);
  if (!entry) throw new DigestError(`the DIGESTS file lists no hash for ${publishedName}: refusing an unverified box`);
  const algo = TRUSTED.find((a) => entry[a]);
  if (!algo)
    throw new DigestError(`the DIGESTS file has only ${Object.keys(entry).join('/')} for ${publishedName}: a SHA-256 or SHA-512 is needed to trust the download`);
  const want = entry[algo]!;
  const got = await hashFile(file, algo);
  if (got !== want)
    throw new DigestError(`${publishedName} does not match its published ${algo.toUpperCase()}: expected ${want.slice(0, 16)}…, got ${got.slice(0, 16)}… (download corrupted or tampered with; it was not added)`);
  return { algo, hash: got };
}

/** Where Flatcar publishes the digests of a release file: the same URL plus `.DIGESTS`. */
export function digestsUrl(boxUrl: string): string {
  return `${boxUrl}.DIGESTS`;
}

/** Download `url` to `file` (0600, through a temp file renamed only once verified) after fetching `<url>.DIGESTS`. */
export async function downloadVerified(
  url: string,
  file: string,
  opts: { fetchImpl?: typeof fetch; signal?: AbortSignal; /** why the DIGESTS must come first, for its error */ use?: string } = {},
): Promise<{ algo: DigestAlgo; hash: string }> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const publishedName = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  const dres = await fetchImpl(digestsUrl(url), { signal: opts.signal });
  if (!dres.ok) throw new Error(`could not fetch ${digestsUrl(url)}: HTTP ${dres.status} (${opts.use ?? 'the image is only used'} once its digest is checked)`);
  const digests = await dres.text();
  const res = await fetchImpl(url, { signal: opts.signal });
  if (!res.ok || !res.body) throw new Error(`could not download ${url}: HTTP ${res.status}`);
  return replaceFile(file, async (tmp) => {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(tmp, { mode: 0o600 }));
    return verifyAgainstDigests(tmp, digests, publishedName);
  });
}
