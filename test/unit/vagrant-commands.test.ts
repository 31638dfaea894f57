import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDestroy } from '../../src/commands/destroy.js';
import { runUp, upExitCode } from '../../src/commands/up.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { defaultSpec, saveSpec } from '../../src/spec/index.js';
import type { PreflightProbes } from '../../src/vagrant/preflight.js';
import { jsonLines, kcore } from '../e2e/cli.js';

const smallHost: PreflightProbes = {
  vagrantVersion: async () => '2.3.4',
  vagrantPlugins: async () => [{ name: 'vagrant-lxc', version: '1.4.3' }],
  which: async (c) => `/usr/bin/${c}`,
  commandVersion: async () => undefined,
  boxes: async () => [{ name: 'kcore/debian-12', provider: 'lxc', version: '0' }],
  memory: async () => ({ totalMb: 4096, availableMb: 3000 }),
  cpus: async () => 2,
  addresses: async () => [],
  cgroup: async () => ({ layout: 2, memory: true }),
  isRoot: () => true,
  sudoWorks: async () => true,
  runningMachines: async () => [],
};

async function workspace(provider: 'lxc' | 'existing' = 'lxc') {
  const dir = await mkdtemp(path.join(tmpdir(), 'kcore-upcmd-'));
  const spec = defaultSpec({ provider });
  if (provider === 'existing') {
    spec.groups = { etcd: { count: 1, memory: 1024, cpus: 1 }, 'kube-master': { count: 1, memory: 2048, cpus: 1 }, 'kube-worker': { count: 1, memory: 2048, cpus: 1 } };
    spec.machines = [
      { name: 'e1', address: '192.0.2.11', group: 'etcd', port: 22 },
      { name: 'm1', address: '192.0.2.12', group: 'kube-master', port: 22 },
      { name: 'w1', address: '192.0.2.13', group: 'kube-worker', port: 22 },
    ];
  }
  await saveSpec(dir, spec);
  return { dir, spec };
}

describe('up', () => {
  it('renders the workspace, then stops at preflight with the fixes (exit 2) when the host is too small', async () => {
    const { dir, spec } = await workspace();
    const events: EngineEvent[] = [];
    const r = await runUp({ workspace: dir, spec, emit: (e) => events.push(e), signal: new AbortController().signal, probes: smallHost });
    expect(r.status).toBe('preflight-failed');
    expect(upExitCode(r)).toBe(2);
    expect(r.message).toContain('memory: the cluster needs 7168 MB, this machine has 3000 MB free');
    expect(await readFile(path.join(dir, 'Vagrantfile'), 'utf8')).toContain('kcore/debian-12');
    const phases = events.filter((e) => e.type === 'phase').map((e) => e.type === 'phase' && `${e.phase}:${e.status}`);
    expect(phases).toEqual(['render:start', 'render:end', 'preflight:start', 'preflight:end']);
    expect(events.some((e) => e.type === 'log' && e.level === 'error' && /fix: lower memory per group/.test(e.message))).toBe(true);
    expect(events.some((e) => e.type === 'phase' && e.phase === 'vagrant-up')).toBe(false);
  });

  it('provider existing skips vagrant entirely', async () => {
    const { dir, spec } = await workspace('existing');
    const events: EngineEvent[] = [];
    const r = await runUp({ workspace: dir, spec, emit: (e) => events.push(e), signal: new AbortController().signal, machinesOnly: true, probes: smallHost });
    expect(r.status).toBe('ok');
    expect(r.hosts.map((h) => [h.name, h.state])).toEqual([
      ['e1', 'existing'],
      ['m1', 'existing'],
      ['w1', 'existing'],
    ]);
    expect(events.filter((e) => e.type === 'phase' && e.status === 'skipped').map((e) => e.type === 'phase' && e.phase)).toEqual(['vagrant-up', 'ssh-config', 'converge']);
  });

  it('--provider must match the spec', async () => {
    const { dir } = await workspace();
    const r = await kcore(['up', dir, '--provider', 'virtualbox', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--provider virtualbox does not match kcore\.yaml's provider "lxc"/);
  });
});

describe('destroy', () => {
  it('off a terminal without --yes: refuses with exit 2 naming --yes, and touches nothing', async () => {
    const { dir } = await workspace();
    await writeFile(path.join(dir, 'ssh.config'), 'Host etcd-01\n  HostName 10.0.0.101\n');
    const r = await kcore(['destroy', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/destroy would destroy the 4 machines of cluster "kcore" in .*: pass --yes to confirm/);
    expect(await readFile(path.join(dir, 'ssh.config'), 'utf8')).toContain('etcd-01');
  });

  it('existing machines: forgets ssh.config and their known_hosts lines, keeps the spec; --purge keeps kcore.yaml', async () => {
    const { dir, spec } = await workspace('existing');
    await writeFile(path.join(dir, 'known_hosts'), '192.0.2.11 ssh-ed25519 AAAAe1\n192.0.2.99 ssh-ed25519 AAAAother\n');
    await writeFile(path.join(dir, 'inventory.ini'), '[etcd]\n');
    const events: EngineEvent[] = [];
    const r = await runDestroy({ workspace: dir, spec, emit: (e) => events.push(e), signal: new AbortController().signal, purge: false });
    expect(r).toMatchObject({ ok: true, machines: [], knownHostsRemoved: 1 });
    expect(await readFile(path.join(dir, 'known_hosts'), 'utf8')).toBe('192.0.2.99 ssh-ed25519 AAAAother\n');

    const purge = await kcore(['destroy', dir, '--yes', '--purge', '--output', 'json']);
    expect(purge.code).toBe(0);
    const res = jsonLines(purge.stdout).find((l) => l.type === 'destroy-result') as { removed: string[] };
    expect(res.removed).toEqual(['inventory.ini', 'known_hosts']);
    expect(await readFile(path.join(dir, 'kcore.yaml'), 'utf8')).toContain('provider: existing');
  });
});
