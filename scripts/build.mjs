// `npm run build`: the CLI bundled by esbuild into dist/cli/ (ESM, node20, code splitting: every command,
// the wizard's later steps and the full-screen dashboard stay chunks that load on demand, as from source).
// Node then reads a handful of files instead of ~1000 modules (Ink's own graph is most of them).
// Type checking stays with tsc (`npm run typecheck`). Run directly: `node scripts/build.mjs [outdir]`.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Two source files find package files relative to themselves (src/cli.ts: ../package.json; src/render/env.ts:
 * ../../templates). In the bundle every file sits in `outdir`, so those paths are rewritten relative to it; a
 * source that no longer holds the expected text fails the build rather than a run.
 */
function packagePaths(outdir) {
  const rel = (p) => JSON.stringify(path.relative(outdir, path.join(ROOT, p)).split(path.sep).join('/'));
  const rewrites = [
    { file: path.join(ROOT, 'src', 'cli.ts'), from: "require('../package.json')", to: `require(${rel('package.json')})` },
    { file: path.join(ROOT, 'src', 'render', 'env.ts'), from: "'..', '..', 'templates'", to: rel('templates') },
  ];
  return {
    name: 'package-paths',
    setup(b) {
      const seen = new Set();
      b.onLoad({ filter: /[\\/]src[\\/](cli|render[\\/]env)\.ts$/ }, async (args) => {
        const r = rewrites.find((w) => w.file === args.path);
        if (!r) return undefined;
        const text = await readFile(args.path, 'utf8');
        if (!text.includes(r.from)) throw new Error(`${path.relative(ROOT, r.file)} no longer contains ${r.from}: update scripts/build.mjs`);
        seen.add(r.file);
        return { contents: text.replace(r.from, r.to), loader: 'ts' };
      });
      b.onEnd((result) => {
        if (result.errors.length === 0 && seen.size !== rewrites.length) throw new Error(`scripts/build.mjs: not every package path was rewritten (${[...seen].join(', ')})`);
      });
    },
  };
}

/**
 * The build id: a SHA-256 of every source file, the templates and the lockfile. The spec cache (src/spec/load.ts)
 * keys what it kept by it, so a judgement made by one build of the validation rules is never reused by another.
 */
export async function buildId() {
  const h = createHash('sha256');
  const files = [];
  for (const dir of ['src', 'templates']) for (const e of await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true })) if (e.isFile()) files.push(path.join(e.parentPath ?? e.path, e.name));
  for (const f of [...files.sort(), path.join(ROOT, 'package.json'), path.join(ROOT, 'package-lock.json')]) h.update(`${path.relative(ROOT, f)}\0`).update(await readFile(f)).update('\0');
  return h.digest('hex').slice(0, 32);
}

/** Bundles src/cli.ts into `outdir` (emptied first); returns esbuild's metafile (what each output holds and imports). */
export async function buildCli(outdir = path.join(ROOT, 'dist', 'cli')) {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { cli: path.join(ROOT, 'src', 'cli.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
    // ssh2 loads its optional native bindings (.node) relative to its own files; Ink's devtools are never used;
    // nunjucks is require()d at the first render (src/render/env.ts), never with the module graph.
    external: ['ssh2', 'ssh2/*', 'cpu-features', 'react-devtools-core', 'nunjucks'],
    // CommonJS dependencies (node-forge, nunjucks …) call require() for Node built-ins.
    banner: { js: "import { createRequire as __kcoreRequire } from 'node:module'; const require = __kcoreRequire(import.meta.url);" },
    define: { __KCORE_BUILD__: JSON.stringify(await buildId()) },
    plugins: [packagePaths(outdir)],
  });
  return result.metafile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outdir = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  // The whole of dist/ is the bundle's: nothing stale from an older build layout stays beside it.
  if (!outdir) await rm(path.join(ROOT, 'dist'), { recursive: true, force: true });
  const meta = await buildCli(outdir);
  process.stdout.write(`${path.relative(ROOT, outdir ?? path.join(ROOT, 'dist', 'cli'))}: ${Object.keys(meta.outputs).filter((f) => f.endsWith('.js')).length} files\n`);
}
