// Start-up costs nothing: `--version` and `--help` load no command module, and so none of Ink, React, ssh2,
// the engine, the roles or the UI. The proof is the static import graph of src/cli.ts as Node sees it: each
// file is compiled with the project's own compiler options (tsconfig.json: verbatimModuleSyntax keeps
// `import { type X }` as a real import, react-jsx adds react/jsx-runtime) and the emitted JavaScript's
// import and export declarations are followed; import() expressions load on demand and are not. Re-adding
// one static import of a command module (or of anything that reaches Ink) to cli.ts, commands/index.ts or
// args.ts fails here.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build.mjs';
import { commands, findCommand } from '../../src/commands/index.js';
import { runCli } from '../support/cli.js';
import { staticGraph } from '../support/import-graph.js';

const root = path.resolve('.');

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

describe('start-up', () => {
  it('cli.ts statically reaches only node built-ins and a few light modules: no command, Ink, React, ssh2, engine, roles or UI', () => {
    const g = staticGraph('src/cli.ts');
    expect(g.packages.filter((p) => !builtins.has(p))).toEqual([]);
    expect(g.files.filter((f) => /^src\/(engine|ssh|ui|roles|state|health|output|vagrant|pki|render)\//.test(f) || /^src\/commands\/(?!index\.ts$|args\.ts$)/.test(f))).toEqual([]);
    // The whole graph, so that a new light import is a deliberate choice here too.
    expect(g.files).toEqual(['src/cli.ts', 'src/commands/args.ts', 'src/commands/index.ts', 'src/spec/errors.ts']);
  });

  it('the graph walker sees what it must: a command module reaches Ink, React and the engine', () => {
    // Guards the guard: if the walker missed imports, the test above would pass for nothing.
    const wizard = staticGraph('src/commands/wizard.tsx');
    expect(wizard.packages).toEqual(expect.arrayContaining(['ink', 'react']));
    const converge = staticGraph('src/commands/converge.ts');
    expect(converge.packages).toContain('p-limit');
    expect(converge.files).toContain('src/converge/run.ts');
    // `import type` is erased; `import { type X }` is not (verbatimModuleSyntax keeps `import {} from`).
    expect(staticGraph('test/unit/fixtures/type-only-import.ts')).toEqual({ files: ['test/unit/fixtures/type-only-import.ts'], packages: [] });
    const inline = staticGraph('test/unit/fixtures/inline-type-import.ts');
    expect(inline.files).toContain('src/converge/run.ts');
    expect(inline.packages).toContain('p-limit');
  }, 60_000);

  it('dashboard --once (text or JSON) loads no Ink or React: only the full screen imports src/ui/dashboard/run.tsx', () => {
    const g = staticGraph('src/commands/dashboard.tsx');
    expect(g.packages.filter((p) => /^(ink|react)(\/|-|$)/.test(p))).toEqual([]);
    expect(g.files.filter((f) => f.startsWith('src/ui/'))).toEqual([]);
    // What it imports on demand does reach Ink (so the check above is about the import being lazy).
    expect(readFileSync('src/commands/dashboard.tsx', 'utf8')).toContain("await import('../ui/dashboard/run.js')");
    expect(staticGraph('src/ui/dashboard/run.tsx').packages).toEqual(expect.arrayContaining(['ink', 'react']));
  }, 60_000);

  it('converge and test load neither execa nor node-forge up front: a no-op run spawns no local process and issues no certificate', () => {
    for (const entry of ['src/commands/converge.ts', 'src/commands/test.ts']) {
      const g = staticGraph(entry);
      expect(g.files, entry).toContain('src/roles/index.ts');
      expect(g.files, entry).toEqual(expect.arrayContaining(['src/engine/artifacts.ts', 'src/roles/kubectl/index.ts', 'src/pki/x509.ts']));
      expect(g.packages.filter((p) => p === 'execa' || p === 'node-forge'), entry).toEqual([]);
    }
    // They are imported on demand where a process runs or a certificate is issued.
    expect(readFileSync('src/engine/artifacts.ts', 'utf8')).toContain("await import('execa')");
    expect(readFileSync('src/pki/x509.ts', 'utf8')).toContain("import('node-forge')");
  }, 60_000);

  it("the wizard's first frame needs only the workspace step: later steps and the Vagrantfile renderer (nunjucks) load after it", () => {
    const g = staticGraph('src/commands/wizard.tsx');
    expect(g.files).toContain('src/ui/wizard/steps/Workspace.tsx');
    expect(g.files.filter((f) => f.startsWith('src/ui/wizard/steps/') && !f.endsWith('/Workspace.tsx'))).toEqual([]);
    expect(g.files.filter((f) => /^src\/(render|vagrant|ssh|converge|roles)\//.test(f))).toEqual([]);
    expect(g.packages).not.toContain('nunjucks');
    // The steps loaded later do reach the renderer (the Review step renders the Vagrantfile).
    expect(staticGraph('src/ui/wizard/steps/Review.tsx').files).toContain('src/render/env.ts');
  }, 60_000);

  it('nunjucks and ssh2 load with require(), never as ESM imports: nunjucks at the first render, ssh2 with no export scan', () => {
    // `test` renders nothing; converge renders after the handshakes have started (src/render/env.ts says why).
    for (const entry of ['src/commands/converge.ts', 'src/commands/test.ts', 'src/ui/wizard/steps/Review.tsx']) {
      expect(staticGraph(entry).packages.filter((p) => p.startsWith('nunjucks') || p.startsWith('ssh2')), entry).toEqual([]);
    }
    const env = readFileSync('src/render/env.ts', 'utf8');
    expect(env).toMatch(/const loadNunjucks = \(\): typeof nunjucks => createRequire\(.*\)\('nunjucks'\)/);
    expect(env).toMatch(/if \(!env\) \{\n\s+const nunjucks = loadNunjucks\(\);/);
    expect(readFileSync('src/ssh/connect.ts', 'utf8')).toContain("createRequire(import.meta.url)('ssh2/lib/client.js')");
  }, 60_000);

  it('every listed command loads its module, whose name and summary are the ones --help prints', async () => {
    for (const c of commands) {
      const def = await c.load();
      expect(def.name).toBe(c.name);
      expect(def.summary).toBe(c.summary);
    }
    expect(findCommand('converge')?.name).toBe('converge');
  }, 60_000);

  it('`help <command>` and `<command> --help` load that command and print its flags', async () => {
    const a = await runCli(['help', 'converge']);
    const b = await runCli(['converge', '--help']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toMatch(/^Usage: kcore-wizard converge /);
    expect(a.stdout).toContain('--skip-tags <tags>');
  });
});

// What bin/kcore-wizard.js runs is the bundle `npm run build` makes (scripts/build.mjs). The same checks on
// it, from esbuild's metafile: which source files each output file holds, and which outputs it imports
// statically (loaded with it) or dynamically (on demand). Built here into a temp folder, so the test needs no
// earlier build and proves the build script itself.
describe('the bundle (dist/cli)', () => {
  let out: string;
  let meta: Metafile;
  beforeAll(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'kc-bundle-'));
    meta = await buildCli(out);
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const rel = (f: string) => path.relative(root, path.resolve(root, f));
  const outputOf = (entry: string) => {
    const hit = Object.entries(meta.outputs).find(([, o]) => o.entryPoint && rel(o.entryPoint) === entry);
    if (!hit) throw new Error(`no output chunk for ${entry}`);
    return hit[0];
  };
  /** Source files (relative) and external packages loaded with `file`: it and its static imports, transitively. */
  const loadedWith = (file: string) => {
    const files = new Set<string>();
    const externals = new Set<string>();
    const seen = new Set<string>();
    const todo = [file];
    while (todo.length) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      for (const input of Object.keys(meta.outputs[f]!.inputs)) files.add(rel(input));
      for (const imp of meta.outputs[f]!.imports) {
        if (imp.kind !== 'import-statement') continue;
        if (imp.external) externals.add(imp.path);
        else todo.push(path.relative(root, path.resolve(root, imp.path)));
      }
    }
    return { files: [...files], externals: [...externals] };
  };
  const heavy = (g: { files: string[]; externals: string[] }) => [
    ...g.files.filter((f) => /node_modules\/(ink|react|react-reconciler|yoga-layout|es-toolkit|ssh2|node-forge|nunjucks|execa)\//.test(f) || /^src\/(engine|ssh|ui|roles)\//.test(f)),
    ...g.externals.filter((p) => !builtins.has(p)),
  ];
  const entry = () => Object.entries(meta.outputs).find(([, o]) => o.entryPoint && rel(o.entryPoint) === 'src/cli.ts')![0];

  it('--version and --help load the entry chunk and what it imports statically: no Ink, React, ssh2, engine, roles or UI', () => {
    const g = loadedWith(entry());
    expect(g.files).toEqual(expect.arrayContaining(['src/cli.ts', 'src/commands/index.ts']));
    expect(heavy(g)).toEqual([]);
  });

  it('dashboard --once loads no Ink or React; the full screen, loaded on demand, does (guards the walk)', () => {
    const dash = outputOf('src/commands/dashboard.tsx');
    expect(heavy(loadedWith(dash)).filter((f) => /ink|react|src\/ui\//.test(f))).toEqual([]);
    const screen = outputOf('src/ui/dashboard/run.tsx');
    expect(meta.outputs[dash]!.imports.filter((i) => i.kind === 'dynamic-import').map((i) => path.relative(root, path.resolve(root, i.path)))).toContain(screen);
    expect(loadedWith(screen).files.some((f) => f.includes('node_modules/ink/'))).toBe(true);
  });

  it("the wizard's first frame loads the workspace step only: later steps and nunjucks stay chunks of their own", () => {
    const g = loadedWith(outputOf('src/commands/wizard.tsx'));
    expect(g.files).toContain('src/ui/wizard/steps/Workspace.tsx');
    expect(g.files.some((f) => f.includes('node_modules/ink/'))).toBe(true);
    expect(g.files.filter((f) => (f.startsWith('src/ui/wizard/steps/') && !f.endsWith('/Workspace.tsx')) || f.includes('node_modules/nunjucks/'))).toEqual([]);
    expect(outputOf('src/ui/wizard/steps/Review.tsx')).toBeTruthy();
  });

  it('converge loads neither execa nor node-forge with it; no output holds nunjucks (required at the first render)', () => {
    const g = loadedWith(outputOf('src/commands/converge.ts'));
    expect(g.files).toContain('src/roles/index.ts');
    expect(g.files.filter((f) => /node_modules\/(execa|node-forge)\//.test(f))).toEqual([]);
    expect(Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs)).filter((f) => f.includes('node_modules/nunjucks/'))).toEqual([]);
    expect(Object.values(meta.outputs).flatMap((o) => o.imports).filter((i) => i.path.startsWith('nunjucks'))).toEqual([]);
  });

  it('runs from its folder: --version reads package.json, render finds templates/', () => {
    const cli = (args: string[], cwd = root) =>
      execFileSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(path.join(out, 'cli.js'))}).then((m) => m.runCli(${JSON.stringify(args)}))`], { cwd, encoding: 'utf8' });
    expect(cli(['--version']).trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
    const ws = mkdtempSync(path.join(tmpdir(), 'kc-bundle-ws-'));
    try {
      cli(['init', ws]);
      expect(cli(['render', ws])).toContain(`created   ${path.join(ws, 'Vagrantfile')}`);
      expect(readFileSync(path.join(ws, 'Vagrantfile'), 'utf8')).toMatch(/Vagrant\.configure/);
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  }, 60_000);

  /** A folder holding bin/kcore-wizard.js as shipped, beside this bundle as ../dist/cli; returns it and the launcher's path. */
  const shippedLauncher = (prefix: string) => {
    const top = mkdtempSync(path.join(tmpdir(), prefix));
    mkdirSync(path.join(top, 'bin'));
    mkdirSync(path.join(top, 'dist'));
    copyFileSync('bin/kcore-wizard.js', path.join(top, 'bin', 'kcore-wizard.js'));
    symlinkSync(out, path.join(top, 'dist', 'cli'));
    return { top, launcher: path.join(top, 'bin', 'kcore-wizard.js') };
  };

  it("the launcher ends with the command's exit code, all of its output and the files it wrote (beforeExit → exit)", () => {
    const { top, launcher } = shippedLauncher('kc-bundle-bin-');
    try {
      const bin = (args: string[]) => spawnSync(process.execPath, [launcher, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: path.join(top, 'cache') } });
      const ws = path.join(top, 'ws');
      expect(bin(['init', ws]).status).toBe(0);
      const ok = bin(['render', ws]);
      expect({ status: ok.status, created: ok.stdout.includes(`created   ${path.join(ws, 'Vagrantfile')}`) }).toEqual({ status: 0, created: true });
      expect(readFileSync(path.join(ws, 'Vagrantfile'), 'utf8')).toMatch(/Vagrant\.configure/);
      writeFileSync(path.join(ws, 'kcore.yaml'), 'cluster: [\n');
      const bad = bin(['render', ws]);
      expect({ status: bad.status, names: bad.stderr.includes(path.join(ws, 'kcore.yaml')) }).toEqual({ status: 2, names: true });
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  }, 60_000);

  it("the launcher turns on Node's compile cache (Node ≥ 22.8) in the user's cache folder, before the CLI's modules load", () => {
    // Node 20 has no module.enableCompileCache: a preload gives the launcher one that records its argument, and a
    // loader hook records when the bundle's entry loads. A static import of it would load before the launcher's
    // first line runs, so before the cache is on.
    const { top, launcher } = shippedLauncher('kc-compile-cache-');
    try {
      const record = JSON.stringify(path.join(top, 'record'));
      // Node loads ../dist/cli/cli.js by its real path: the bundle's own.
      const entry = JSON.stringify(pathToFileURL(path.join(realpathSync(out), 'cli.js')).href);
      const hooks = `import { appendFileSync } from 'node:fs'; export async function load(url, ctx, next) { if (url === ${entry}) appendFileSync(${record}, 'load dist/cli/cli.js\\n'); return next(url, ctx); }`;
      const stub = `import m from 'node:module'; import { appendFileSync } from 'node:fs'; m.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)})); m.enableCompileCache = (d) => { appendFileSync(${record}, 'cache ' + d + '\\n'); return { status: 0 }; };`;
      const bin = (env: NodeJS.ProcessEnv) => {
        rmSync(path.join(top, 'record'), { force: true });
        const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(stub)}`, launcher, '--version'], { cwd: root, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: '', ...env } });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
        return readFileSync(path.join(top, 'record'), 'utf8').split('\n').filter(Boolean);
      };
      const home = (p: string) => `cache ${path.join(p, '.cache', 'kcore-wizard', 'node-compile-cache')}`;
      expect(bin({ XDG_CACHE_HOME: path.join(top, 'xdg') })).toEqual([`cache ${path.join(top, 'xdg', 'kcore-wizard', 'node-compile-cache')}`, 'load dist/cli/cli.js']);
      expect(bin({ HOME: path.join(top, 'home') })).toEqual([home(path.join(top, 'home')), 'load dist/cli/cli.js']);
      // A relative XDG_CACHE_HOME is to be ignored (XDG Base Directory spec): not a folder under the current one.
      expect(bin({ XDG_CACHE_HOME: 'relative/cache', HOME: path.join(top, 'home') })).toEqual([home(path.join(top, 'home')), 'load dist/cli/cli.js']);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });

  it('bin/kcore-wizard.js loads the bundle', () => {
    expect(readFileSync('bin/kcore-wizard.js', 'utf8')).toMatch(/^const \{ runCli \} = await import\('\.\.\/dist\/cli\/cli\.js'\);$/m);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.build).toBe('node scripts/build.mjs');
  });
});
