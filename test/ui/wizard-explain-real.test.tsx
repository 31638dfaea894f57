/**
 * `e` on the review with the real teaching view (src/explain, offline) over a workspace whose PKI is
 * real (ensurePki writes RSA keys): every file of kube-worker-01 is opened in turn, list and content,
 * and no frame ever drawn holds a line of any private key; the kubelet's key and kubeconfigs show
 * their note instead; the kubelet unit and config are there with a why and their content.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { wizardExplain } from '../../src/commands/explain-actions.js';
import { ensurePki } from '../../src/pki/ensure.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { KEY_MATERIAL } from './fixtures/fake-explain.js';
import { KEYS, press, stripAnsi, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard } from './wizard-session.js';
import { defaultSpec } from '../../src/spec/defaults.js';

afterEach(closeSessions);

let ws = '';
const keyLines: string[] = [];

function keysUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? keysUnder(p) : n.endsWith('.key') ? [p] : [];
  });
}

beforeAll(async () => {
  ws = mkdtempSync(path.join(tmpdir(), 'kcw-explain-'));
  // The wizard's draft is the defaults named after its folder; the PKI is made for the same hosts.
  await ensurePki(ws, pkiInput({ ...defaultSpec(), name: 'kcore-cluster' }), { keyBits: 2048, caKeyBits: 2048 });
  for (const k of keysUnder(path.join(ws, 'pki')))
    for (const l of readFileSync(k, 'utf8').split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(l)) keyLines.push(l);
}, 60_000);

afterAll(() => {
  if (ws) rmSync(ws, { recursive: true, force: true });
});

describe('e on the review, real explanations', () => {
  it('walks every file of kube-worker-01 at 60×24: no frame holds key material; secrets show their note', async () => {
    expect(keyLines.length).toBeGreaterThan(100);
    const s = await openWizard({}, [60, 24]);
    // The real explanation, over the test's workspace (the one with the PKI).
    s.actions.explain = async () => ({ ...wizardExplain, host: (_dir, spec, host) => wizardExplain.host(ws, spec, host) });
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter);
    await waitFor(() => s.frame().includes('5/8 Review'), 'the review', s.frame);
    while (!/^ › kube-worker-01/m.test(s.frame())) await press(s.stdin, KEYS.down);
    await press(s.stdin, 'e');
    await waitFor(() => /Files converge writes on kube-worker-01 +\d+ files/.test(s.frame()), 'the files', s.frame, 20_000);
    const count = Number(/kube-worker-01 +(\d+) files/.exec(s.frame())![1]);
    expect(count).toBeGreaterThan(10);
    const seen = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      expectFits(s);
      const picked = /^ › (\/\S+)/m.exec(s.frame())?.[1];
      expect(picked, s.frame()).toBeDefined();
      await press(s.stdin, KEYS.enter);
      seen.set(picked!, s.frame());
      expectFits(s);
      await press(s.stdin, KEYS.esc, KEYS.down);
    }
    expect(seen.size).toBe(count);
    const kubeletKey = seen.get('/etc/kubernetes/pki/kubelet.key')!;
    expect(kubeletKey).toContain('content not shown: this is a secret');
    expect(kubeletKey).toContain('private key: not shown');
    expect(seen.get('/etc/kubernetes/kubelet.kubeconfig')).toContain('content not shown: this is a secret');
    expect(seen.get('/etc/kubernetes/kubelet-config.yaml')).toMatch(/kind: KubeletConfiguration/);
    expect(seen.get('/etc/systemd/system/kubelet.service')).toMatch(/ExecStart=/);
    for (const f of seen.values()) expect(f).toMatch(/^ why: \S/m);
    // Every frame drawn, not only the last of each step.
    const frames = s.stdout.frames.map(stripAnsi);
    for (const f of frames) {
      expect(f).not.toMatch(KEY_MATERIAL);
      for (const l of keyLines) expect(f.includes(l)).toBe(false);
    }
  }, 120_000);
});
