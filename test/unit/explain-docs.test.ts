/**
 * docs/how-it-works.md is generated from the roles' own whys (src/explain/how-it-works.ts): it fails here
 * when a why, a task, a file or a concept changed and the page was not regenerated.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { howItWorksMarkdown } from '../../src/explain/how-it-works.js';

describe('docs/how-it-works.md', () => {
  it('is what `npm run docs:how-it-works` writes now (regenerate it after changing a why)', async () => {
    const want = await howItWorksMarkdown();
    const have = await readFile('docs/how-it-works.md', 'utf8');
    // A short diff first: the line that differs, not two 500-line strings.
    const w = want.split('\n');
    const h = have.split('\n');
    const at = w.findIndex((l, i) => l !== h[i]);
    expect(at === -1 && w.length === h.length ? null : { line: at + 1, want: w[at], have: h[at] }, 'run `npm run docs:how-it-works`').toBeNull();
  }, 60_000);

  it('covers the roles in run order, the ideas of etcd, and every file of a worker with its why', async () => {
    const md = await readFile('docs/how-it-works.md', 'utf8');
    const order = ['bootstrap', 'pki', 'etcd', 'kube-master', 'kube-worker', 'kubectl', 'addons'].map((r) => md.indexOf(`\n### ${r}\n`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(md).toContain('**members and ETCD_INITIAL_CLUSTER**');
    expect(md).toContain('| `/etc/kubernetes/kubelet-config.yaml` |');
    expect(md).toContain('Server: https://127.0.0.1:6444.');
    expect(md).not.toMatch(/PRIVATE KEY|no why written yet|kcore-how-it-works-/);
  });
});
