// The README's first commands must work on a fresh machine, and what it links to must ship in the package.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');

describe('README on a fresh machine', () => {
  it('the first command block clones and installs before it runs kcore-wizard; `npm test` stays the test command', () => {
    const first = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const cmds = first.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
    // kcore-wizard is not on the registry: `npx kcore-wizard` outside a clone asks it for the package (404).
    const run = cmds.findIndex((c) => /^npx kcore-wizard\b/.test(c));
    expect(run).toBeGreaterThan(0);
    const clone = cmds.findIndex((c) => /^git clone\b/.test(c));
    const install = cmds.findIndex((c) => /^npm ci\b/.test(c));
    expect(clone).toBeGreaterThanOrEqual(0);
    expect(install).toBeGreaterThan(clone);
    expect(run).toBeGreaterThan(install);
    expect(cmds).toContain('npm test');
  });

  it('every docs/ page the README links to exists and is in the package tarball', () => {
    const links = [...readme.matchAll(/\]\((docs\/[^)#]+)\)/g)].map((m) => m[1]!);
    expect(links).toContain('docs/bad-input.md');
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    for (const l of new Set(links)) {
      expect(existsSync(l), l).toBe(true);
      expect(files, l).toContain(l);
    }
    // `npm pack` alone takes a few seconds on a loaded machine.
  }, 60_000);
});
