// The static import graph of a source file as Node sees it (see test/unit/cli-startup.test.ts): each file compiled
// with the project's own compiler options, the emitted import and export declarations followed; import()
// expressions load on demand and are not.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

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

