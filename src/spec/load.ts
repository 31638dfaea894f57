/**
 * Load `kcore.yaml`. Parsing and validating it (parse.ts) takes the yaml parser and zod, more code than the rest of
 * a command like `test` or `converge` needs; so the result is kept in the workspace (`.kcore/spec-cache.json`),
 * keyed by the SHA-256 of the file's bytes and by the build of kcore-wizard that judged it, and a later run with the
 * same file and the same build reads that instead. Anything else (no cache, another file, another build, a cache
 * that does not read) parses the file again, with every error and warning as before; running from the sources
 * (no build id) never uses the cache.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ClusterSpec } from './schema.js';
import { SpecError, type SpecProblem } from './errors.js';
import { InputFileError, readInputFile, writeFileAtomic } from '../util/fs.js';

export const SPEC_FILE = 'kcore.yaml';
export const SPEC_CACHE = path.join('.kcore', 'spec-cache.json');

/** The bundle's build id (scripts/build.mjs: a digest of the sources and the lockfile); undefined from the sources. */
declare const __KCORE_BUILD__: string | undefined;
const BUILD = typeof __KCORE_BUILD__ === 'string' ? __KCORE_BUILD__ : undefined;

export interface LoadedSpec {
  spec: ClusterSpec;
  file: string;
  warnings: SpecProblem[];
}

interface SpecCache {
  build: string;
  sha256: string;
  spec: ClusterSpec;
  warnings: SpecProblem[];
}

export function specPath(workspace: string): string {
  return path.join(workspace, SPEC_FILE);
}

export async function loadSpec(workspace: string): Promise<LoadedSpec> {
  return loadSpecCached(workspace, BUILD);
}

/** loadSpec with the cache keyed by `build` (none: no cache). */
export async function loadSpecCached(workspace: string, build: string | undefined): Promise<LoadedSpec> {
  const file = specPath(workspace);
  let text: string;
  try {
    text = await readInputFile(file, { what: `the cluster spec (${SPEC_FILE})` });
  } catch (e) {
    if (e instanceof InputFileError && e.code === 'ENOENT')
      throw new SpecError(file, [{ field: '', message: `no cluster spec here: run \`kcore-wizard init ${workspace === '.' ? '' : workspace}\` first, or pass --dir` }]);
    throw e;
  }
  if (!build) return (await import('./parse.js')).parseSpec(text, file);
  const sha256 = createHash('sha256').update(text).digest('hex');
  const cacheFile = path.join(workspace, SPEC_CACHE);
  try {
    const c = JSON.parse(await readFile(cacheFile, 'utf8')) as Partial<SpecCache>;
    if (c.build === build && c.sha256 === sha256 && c.spec && Array.isArray(c.warnings)) return { spec: c.spec, file, warnings: c.warnings };
  } catch {
    // no cache, or one that does not read: parse
  }
  const loaded = (await import('./parse.js')).parseSpec(text, file);
  // Only in a workspace kcore-wizard has worked in (.kcore exists): loading a spec creates nothing new.
  if (existsSync(path.dirname(cacheFile))) {
    const c: SpecCache = { build, sha256, spec: loaded.spec, warnings: loaded.warnings };
    await writeFileAtomic(cacheFile, `${JSON.stringify(c)}\n`, 0o600).catch(() => undefined);
  }
  return loaded;
}
