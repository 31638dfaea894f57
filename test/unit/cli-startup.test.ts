// Start-up costs nothing: `--version` and `--help` load no command module, and so none of Ink, React, ssh2,
// the engine, the roles or the UI. The proof is the static import graph of src/cli.ts as Node sees it: each
// file is compiled with the project's own compiler options (tsconfig.json: verbatimModuleSyntax keeps
// `import { type X }` as a real import, react-jsx adds react/jsx-runtime) and the emitted JavaScript's
// import and export declarations are followed; import() expressions load on demand and are not. Re-adding
// one static import of a command module (or of anything that reaches Ink) to cli.ts, commands/index.ts or
// args.ts fails here.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { commands, findCommand } from '../../src/commands/index.js';
import { runCli } from '../support/cli.js';

const root = path.resolve('.');
const tsconfig = ts.parseJsonConfigFileContent(ts.readConfigFile('tsconfig.json', (f) => ts.sys.readFile(f)).config, ts.sys, root).options;
// package.json says "type": "module", so NodeNext emits ES modules; transpileModule cannot read package.json.
const compilerOptions = { ...tsconfig, module: ts.ModuleKind.ESNext };

const emitted = new Map<string, string[]>();
/** The module specifiers of the static imports and re-exports in what tsc emits for `file`. */
function emittedImports(file: string): string[] {
  let names = emitted.get(file);
  if (!names) {
    const js = ts.transpileModule(readFileSync(file, 'utf8'), { fileName: file, compilerOptions }).outputText;
    const out = ts.createSourceFile(`${file}.js`, js, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
    names = out.statements.flatMap((st) => {
      const spec = ts.isImportDeclaration(st) || ts.isExportDeclaration(st) ? st.moduleSpecifier : undefined;
      return spec && ts.isStringLiteral(spec) ? [spec.text] : [];
    });
    emitted.set(file, names);
  }
  return names;
}

/** Every module reached from `entry` through the imports and re-exports that tsc emits. */
export function staticGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [path.resolve(entry)];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const name of emittedImports(file)) {
      if (name.startsWith('.')) {
        const base = path.resolve(path.dirname(file), name).replace(/\.js$/, '');
        const hit = ['.ts', '.tsx', '/index.ts'].map((e) => base + e).find((f) => existsSync(f));
        if (!hit) throw new Error(`${path.relative(root, file)}: cannot resolve ${name}`);
        todo.push(hit);
      } else packages.add(name);
    }
  }
  return { files: [...files].map((f) => path.relative(root, f)).sort(), packages: [...packages].sort() };
}

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
    expect(converge.packages).toContain('ssh2');
    expect(converge.files).toContain('src/converge/run.ts');
    // `import type` is erased; `import { type X }` is not (verbatimModuleSyntax keeps `import {} from`).
    expect(staticGraph('test/unit/fixtures/type-only-import.ts')).toEqual({ files: ['test/unit/fixtures/type-only-import.ts'], packages: [] });
    const inline = staticGraph('test/unit/fixtures/inline-type-import.ts');
    expect(inline.files).toContain('src/converge/run.ts');
    expect(inline.packages).toContain('ssh2');
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
    // The steps loaded later do reach it (the Review step renders the Vagrantfile).
    expect(staticGraph('src/ui/wizard/steps/Review.tsx').packages).toContain('nunjucks');
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
