// The spec cache (src/spec/load.ts): a run with the same kcore.yaml and the same build reads the judgement kept in
// .kcore/spec-cache.json instead of loading the yaml parser and zod; anything else parses the file again, with
// every error and warning as before. Through the bundle (the real build id) in cli tests below.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSpec, loadSpecCached, renderSpecYaml, SpecError, SPEC_CACHE } from '../../src/spec/index.js';
import { staticGraph } from '../support/import-graph.js';
import { spawnSync } from 'node:child_process';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function workspace(opts: { kcore?: boolean; yaml?: string } = {}): string {
  const ws = mkdtempSync(path.join(tmpdir(), 'kcore-spec-cache-'));
  dirs.push(ws);
  if (opts.kcore !== false) mkdirSync(path.join(ws, '.kcore'), { mode: 0o700 });
  // An even etcd count: a valid spec with a warning, so warnings are seen to survive the cache.
  const spec = defaultSpec({ name: 'cached' });
  spec.groups.etcd.count = 2;
  writeFileSync(path.join(ws, 'kcore.yaml'), opts.yaml ?? renderSpecYaml(spec));
  return ws;
}

const cacheOf = (ws: string) => JSON.parse(readFileSync(path.join(ws, SPEC_CACHE), 'utf8')) as { build: string; sha256: string; spec: { name: string }; warnings: unknown[] };

describe('spec cache', () => {
  it('keeps what parsing judged, keyed by the file and the build, and answers from it the next time', async () => {
    const ws = workspace();
    const first = await loadSpecCached(ws, 'build-a');
    expect(first.warnings.length).toBeGreaterThan(0);
    const c = cacheOf(ws);
    expect(c).toMatchObject({ build: 'build-a', spec: { name: 'cached' } });
    expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path.join(ws, SPEC_CACHE)).mode & 0o777).toBe(0o600);
    // The next load answers from the cache: one planted there (same file, same build) is what comes back.
    writeFileSync(path.join(ws, SPEC_CACHE), JSON.stringify({ ...c, spec: { ...c.spec, name: 'from-cache' } }));
    const second = await loadSpecCached(ws, 'build-a');
    expect(second.spec.name).toBe('from-cache');
    expect(second.warnings).toEqual(first.warnings);
    expect(second.file).toBe(first.file);
  });

  it('another build, another file, or a cache that does not read: the file is parsed again', async () => {
    const ws = workspace();
    await loadSpecCached(ws, 'build-a');
    const planted = () => writeFileSync(path.join(ws, SPEC_CACHE), JSON.stringify({ ...cacheOf(ws), spec: { ...cacheOf(ws).spec, name: 'stale' } }));
    planted();
    expect((await loadSpecCached(ws, 'build-b')).spec.name).toBe('cached');
    expect(cacheOf(ws).build).toBe('build-b');
    planted();
    writeFileSync(path.join(ws, 'kcore.yaml'), readFileSync(path.join(ws, 'kcore.yaml'), 'utf8').replace('name: cached', 'name: edited'));
    expect((await loadSpecCached(ws, 'build-b')).spec.name).toBe('edited');
    writeFileSync(path.join(ws, SPEC_CACHE), '{"build": "build-b", "sha2');
    expect((await loadSpecCached(ws, 'build-b')).spec.name).toBe('edited');
    expect(cacheOf(ws).spec.name).toBe('edited');
  });

  it('a spec with errors is never kept: each load reports it again, naming the line', async () => {
    const ws = workspace({ yaml: 'apiVersion: kcore-wizard/v1\nname: [oops\n' });
    for (let i = 0; i < 2; i++) await expect(loadSpecCached(ws, 'build-a')).rejects.toThrow(SpecError);
    await expect(loadSpecCached(ws, 'build-a')).rejects.toThrow(/kcore\.yaml:3:1: invalid YAML/);
    expect(existsSync(path.join(ws, SPEC_CACHE))).toBe(false);
  });

  it('creates nothing in a folder kcore-wizard has not worked in (no .kcore), and runs from the sources use no cache', async () => {
    const fresh = workspace({ kcore: false });
    expect((await loadSpecCached(fresh, 'build-a')).spec.name).toBe('cached');
    expect(existsSync(path.join(fresh, '.kcore'))).toBe(false);
    const ws = workspace();
    expect((await loadSpecCached(ws, undefined)).spec.name).toBe('cached');
    expect(existsSync(path.join(ws, SPEC_CACHE))).toBe(false);
  });

  it('the commands that only read a spec (converge, test, the dashboard) do not load zod, the yaml package or the spec parser', () => {
    for (const entry of ['src/commands/converge.ts', 'src/commands/test.ts', 'src/commands/dashboard.tsx']) {
      const g = staticGraph(entry);
      expect(g.packages, entry).not.toContain('zod');
      // The Kubernetes roles load yaml when they first write YAML (src/util/yaml.ts).
      expect(g.packages, entry).not.toContain('yaml');
      expect(g.files, entry).not.toContain('src/spec/parse.ts');
      expect(g.files, entry).not.toContain('src/spec/schema.ts');
    }
    // Guards the guard: init writes a spec, so it reaches zod.
    expect(staticGraph('src/commands/init.ts').packages).toContain('zod');
  }, 60_000);

  // The bundle (npm run build, done by `npm test` first) carries the build id; runs from the sources have none.
  const bundle = (args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/kcore-wizard.js', ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('through the bundle: the second run of a command reads the cache the first one wrote, with the same output', () => {
    const ws = workspace();
    const a = bundle(['explain', ws, 'etcd-01']);
    expect(a.code).toBe(0);
    const c = cacheOf(ws);
    expect(c.build).toMatch(/^[0-9a-f]{32}$/);
    const b = bundle(['explain', ws, 'etcd-01']);
    expect(b.stdout).toBe(a.stdout);
    expect(b.stdout).toMatch(/^etcd-01 \(etcd, /);
    // The same build, a planted answer: the bundle reads the cache (the second run above did too).
    writeFileSync(path.join(ws, SPEC_CACHE), JSON.stringify({ ...c, spec: { ...c.spec, network: { ...(c.spec as unknown as { network: object }).network, prefix: '10.99.99' } } }));
    expect(bundle(['explain', ws, 'etcd-01']).stdout).toMatch(/^etcd-01 \(etcd, 10\.99\.99\.101\)/);
  });
});
