// Certificates expiring within 30 days are a warning in `certs` (exit 1), `pki` (exit 0) and through
// expiryWarnings(), the function the dashboard header reads; archived certificates raise none.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePki, expiryWarnings, expiryWarningsOf, listCertificates } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { defaultSpec, saveSpec } from '../../src/spec/index.js';
import { runCli } from '../support/cli.js';
import type { Task, TaskContext } from '../../src/engine/task.js';

const DAY = 86_400_000;
let ws: string;
const spec = defaultSpec({ name: 'demo' });

beforeAll(async () => {
  ws = await mkdtemp(path.join(tmpdir(), 'kcore-expiry-'));
  await saveSpec(ws, spec);
  await ensurePki(ws, pkiInput(spec), { caKeyBits: 2048, validityDays: { admin: 12, scheduler: 29 } });
}, 60_000);
afterAll(async () => {
  await rm(ws, { recursive: true, force: true });
});

describe('expiry warnings', () => {
  it('lists what expires within 30 days, soonest first, with one line each', async () => {
    const now = new Date();
    const w = await expiryWarnings(ws, now);
    expect(w.map((x) => x.file)).toEqual(['admin.crt', 'scheduler.crt']);
    expect(w[0]!.message).toMatch(/^admin\.crt expires in 1[12] days \(\d{4}-\d{2}-\d{2}\)$/);
    expect(w.every((x) => !x.expired)).toBe(true);
    // 13 days on, admin has expired and is still listed
    const later = expiryWarningsOf(await listCertificates(ws, new Date(now.getTime() + 13 * DAY)));
    expect(later[0]).toMatchObject({ file: 'admin.crt', expired: true });
    expect(later[0]!.message).toMatch(/^admin\.crt expired 1 day ago/);
    // a threshold of 10 days leaves nothing
    expect(expiryWarningsOf(await listCertificates(ws, now), 10)).toEqual([]);
  });

  it('`pki` prints a warning line and marks them in JSON, exit 0; `certs` exits 1', async () => {
    const t = await runCli(['pki', ws]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/\nwarning: 2 certificates expire within 30 days or expired: admin\.crt expires in 1[12] days \([\d-]+\); scheduler\.crt expires in 2[89] days \([\d-]+\) \(renew them: kcore-wizard certs renew\)\n$/);
    const j = await runCli(['pki', ws, '--output', 'json']);
    expect(j.code).toBe(0);
    const list = JSON.parse(j.stdout) as Array<{ file: string; expiring: boolean }>;
    expect(list.filter((c) => c.expiring).map((c) => c.file)).toEqual(['admin.crt', 'scheduler.crt']);
    const c = await runCli(['certs', ws]);
    expect(c.code).toBe(1);
  });
});

describe('the pki role says when it archives', () => {
  it('plans "archive …" for a removed worker, and its apply names what moved and where', async () => {
    const { pkiRole } = await import('../../src/roles/pki/index.js');
    const { defaultSpec: ds } = await import('../../src/spec/index.js');
    const big = ds({ name: 'demo' });
    big.groups['kube-worker'].count = 3;
    const w = await mkdtemp(path.join(tmpdir(), 'kcore-archive-role-'));
    try {
      await ensurePki(w, pkiInput(big), { caKeyBits: 2048 });
      const small = ds({ name: 'demo' });
      small.groups['kube-worker'].count = 2;
      const lines: string[] = [];
      const ctx = { run: { workspace: w, spec: small, dryRun: false }, output: (l: string) => lines.push(l) } as unknown as TaskContext;
      const t = pkiRole.tasks[0] as Task<Awaited<ReturnType<typeof ensurePki>>>;
      const facts = await t.gather(ctx);
      const planned = t.plan!(ctx, facts);
      expect(planned).toEqual(['archive kubelet/kube-worker-03 (no longer in the spec) into pki/archive/']);
      await t.apply!(ctx, facts, planned);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^archived the certificates of what is no longer in the spec \(kubelet\/kube-worker-03\) into pki\/archive\/\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z\/ \(moved, not deleted\)$/);
      expect(t.plan!(ctx, await t.gather(ctx))).toEqual([]);
    } finally {
      await rm(w, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the pki role reads ahead (while the hosts answer the bootstrap)', () => {
  it('its tasks take the early reads; after it issued anything the smoke test lists again', async () => {
    const { pkiRole } = await import('../../src/roles/pki/index.js');
    const { defaultSpec: ds } = await import('../../src/spec/index.js');
    const spec2 = ds({ name: 'demo' });
    const w = await mkdtemp(path.join(tmpdir(), 'kcore-pki-ahead-'));
    try {
      await ensurePki(w, pkiInput(spec2), { caKeyBits: 2048 });
      // admin expired: the check plans to reissue it, and a listing made before that says expired.
      await rm(path.join(w, 'pki', 'admin.crt'));
      await ensurePki(w, pkiInput(spec2), { caKeyBits: 2048, validityDays: { admin: 10 }, now: new Date(Date.now() - 400 * DAY) });
      const run = { workspace: w, spec: spec2, dryRun: false };
      const ctx = { run, output: () => undefined } as unknown as TaskContext;
      const [check, smoke] = pkiRole.tasks as [Task<Awaited<ReturnType<typeof ensurePki>>>, Task<void>];
      pkiRole.readAhead!(run as never, [check, smoke]);
      const planned = check.plan!(ctx, await check.gather(ctx));
      expect(planned).toEqual([expect.stringMatching(/^reissue admin \(.*expired/)]);
      await check.apply!(ctx, undefined as never, planned);
      // The early listing (admin expired) was dropped by the apply: the smoke test sees the reissued admin.crt.
      await expect(smoke.gather(ctx)).resolves.toBeUndefined();

      // No change: the smoke test takes the early listing (made before admin expired again here).
      pkiRole.readAhead!(run as never, [smoke]);
      await new Promise((r) => setTimeout(r, 200));
      await rm(path.join(w, 'pki', 'admin.crt'));
      await ensurePki(w, pkiInput(spec2), { caKeyBits: 2048, validityDays: { admin: 10 }, now: new Date(Date.now() - 400 * DAY) });
      await expect(smoke.gather(ctx)).resolves.toBeUndefined();
      // Taken once: the next run of the check reads the folder as it is now.
      await expect(smoke.gather(ctx)).rejects.toThrow(/expired: admin\.crt/);
    } finally {
      await rm(w, { recursive: true, force: true });
    }
  }, 60_000);
});
