/**
 * selftest's pure parts and its bad input: the syntax step with the real validators (ruby, systemd-analyze,
 * kubectl, as test/unit/kube-render.test.ts uses them) on a default workspace, the exit code per step,
 * and flags refused with exit 2 before any step runs. The steps on real machines:
 * test/integration/selftest.test.ts.
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SELFTEST_STEPS, stepExitCode, syntaxStep, wouldChange } from '../../src/commands/selftest.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { defaultSpec, saveSpec } from '../../src/spec/index.js';
import { runCli } from '../support/cli.js';

describe('selftest', () => {
  it('names each step by its exit code: 11 create … 16 destroy', () => {
    expect(SELFTEST_STEPS.map((s) => [s, stepExitCode(s)])).toEqual([
      ['create', 11],
      ['syntax', 12],
      ['converge', 13],
      ['idempotence', 14],
      ['verify', 15],
      ['destroy', 16],
    ]);
  });

  it('syntax renders the workspace and passes the real validators on every unit and manifest', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-selftest-'));
    const spec = defaultSpec({ name: 'demo' });
    spec.addons.dashboard = true;
    const r = await syntaxStep(ws, spec);
    expect(r.lines).toEqual([]);
    expect(r.status).toBe('passed');
    // 1 etcd (unit + drop-in), 1 master (3 units), 2 workers (4 units each) → 12 unit files verified.
    expect(r.detail).toBe('rendered Vagrantfile, inventory.ini, ruby -c Vagrantfile, systemd-analyze verify on 12 units, kubectl annotate --local coredns, kubectl annotate --local dashboard');
    expect(await readFile(path.join(ws, 'Vagrantfile'), 'utf8')).toContain('demo');
  }, 60_000);

  it('lists what a plan would change, one line per change', () => {
    const end = (host: string, status: 'ok' | 'changed', changes: string[]): EngineEvent => ({ type: 'task-end', at: 0, host, role: 'etcd', task: 'etcd unit and drop-in', tags: [], status, changes, durationMs: 1 });
    expect(wouldChange([end('etcd-01', 'ok', []), end('etcd-02', 'changed', ['update /a (content differs)', 'update /b (content differs)'])])).toEqual([
      'etcd-02 etcd › etcd unit and drop-in: update /a (content differs)',
      'etcd-02 etcd › etcd unit and drop-in: update /b (content differs)',
    ]);
  });

  it('refuses an unknown --limit or --tags with exit 2 before any step runs', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-selftest-'));
    await saveSpec(ws, defaultSpec({}));
    const a = await runCli(['selftest', ws, '--limit', 'etcd-07']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--limit etcd-07: no such host or group/);
    expect(a.stdout).not.toContain('selftest 1/6');
    const b = await runCli(['selftest', ws, '--tags', 'etdc']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--tags etdc: no such tag or role/);
  });

  it('a vagrant provider: a failed create (preflight) skips the rest but destroy, exit 11; --keep keeps', async () => {
    // A vagrant without the vagrant-libvirt plugin, on PATH: preflight's provider check fails for certain.
    const bin = await mkdtemp(path.join(tmpdir(), 'kcore-fakebin-'));
    await writeFile(path.join(bin, 'vagrant'), '#!/bin/sh\ncase "$1" in --version) echo "Vagrant 2.4.3" ;; plugin|box|status) ;; *) echo "fake vagrant: $1 must not run" >&2; exit 1 ;; esac\n');
    await chmod(path.join(bin, 'vagrant'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-selftest-'));
    const spec = defaultSpec({ provider: 'libvirt' });
    spec.network.prefix = '10.251.8';
    await saveSpec(ws, spec);
    const r = await runCli(['selftest', ws], { env });
    expect(r.code).toBe(11);
    expect(r.stdout).toMatch(/---- create: FAILED: preflight failed: provider: the vagrant-libvirt plugin/);
    for (const [i, step] of ['syntax', 'converge', 'idempotence', 'verify'].entries()) expect(r.stdout).toMatch(new RegExp(`${i + 2} ${step} +skipped +not run: create failed`));
    expect(r.stdout).toMatch(/6 destroy +passed +0 machines destroyed/);
    expect(r.stdout).toContain('selftest failed at create (exit 11)');
    const kept = await runCli(['selftest', ws, '--keep', '--output', 'json'], { env });
    expect(kept.code).toBe(11);
    const last = kept.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string; status?: string; detail?: string });
    expect(last.find((l) => l.type === 'selftest-step' && l.step === 'destroy')).toMatchObject({ status: 'skipped', detail: 'kept (--keep)' });
    expect(last.at(-1)).toMatchObject({ type: 'selftest-result', failedStep: 'create', exitCode: 11 });
  }, 60_000);
});
