/**
 * `init --provider existing`: a workspace for machines kcore-wizard does not create. The spec lists
 * one machine per planned host (placeholder addresses), loads and renders, and init says what to fill
 * in before `up`. The engine reaches provider-existing machines from that list (src/converge/inventory.ts).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveHosts } from '../../src/converge/inventory.js';
import { loadSpec } from '../../src/spec/load.js';
import { plannedMachines } from '../../src/commands/init.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { runCli } from '../support/cli.js';

describe('init --provider existing', () => {
  it('writes a spec listing each planned machine and says what to fill in', async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), 'kcw-existing-')), 'ws');
    const r = await runCli(['init', dir, '--provider', 'existing', '--workers', '3', '--ssh-user', 'admin']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('lists 5 under machines: at placeholder addresses (etcd-01 10.0.0.101 … kube-worker-03 10.0.0.123)');
    expect(r.stdout).toMatch(/next: edit machines: in .*kcore\.yaml: each machine's address \(and port\) as you reach it over SSH/);
    expect(r.stdout).toContain('ssh.identityFile');
    expect(r.stdout).toMatch(/then: kcore-wizard up /);
    const loaded = await loadSpec(dir);
    expect(loaded.spec.provider).toBe('existing');
    expect(loaded.spec.machines.map((m) => `${m.name}@${m.address}:${m.port}/${m.group}`)).toEqual([
      'etcd-01@10.0.0.101:22/etcd',
      'kube-master-01@10.0.0.111:22/kube-master',
      'kube-worker-01@10.0.0.121:22/kube-worker',
      'kube-worker-02@10.0.0.122:22/kube-worker',
      'kube-worker-03@10.0.0.123:22/kube-worker',
    ]);
    // The engine connects to what the list says, as the spec's ssh.user.
    const hosts = await resolveHosts(dir, loaded.spec);
    expect(hosts.map((h) => `${h.target.user}@${h.target.host}:${h.target.port}`)).toEqual(loaded.spec.machines.map((m) => `admin@${m.address}:22`));
    // render writes the inventory and no Vagrantfile.
    expect((await runCli(['render', dir])).code).toBe(0);
    expect(await readFile(path.join(dir, 'inventory.ini'), 'utf8')).toContain('kube-worker-03');
    await expect(readFile(path.join(dir, 'Vagrantfile'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('keeps the addresses of machines already listed, by name, when the counts change', () => {
    const spec = { ...defaultSpec({ provider: 'existing' }), machines: [{ name: 'kube-worker-01', address: 'w1.example.net', group: 'kube-worker' as const, port: 2222 }] };
    spec.groups['kube-worker'].count = 3;
    const m = plannedMachines(spec);
    expect(m).toHaveLength(5);
    expect(m.find((x) => x.name === 'kube-worker-01')).toEqual({ name: 'kube-worker-01', address: 'w1.example.net', group: 'kube-worker', port: 2222 });
    expect(m.find((x) => x.name === 'kube-worker-03')?.address).toBe('10.0.0.123');
    // Machines of any name stay; fewer machines wanted drops the last ones of that group only.
    const named = { ...spec, machines: [{ name: 'db-a', address: '192.168.7.5', group: 'etcd' as const, port: 22 }, ...m.filter((x) => x.group !== 'etcd')] };
    named.groups['kube-worker'].count = 1;
    expect(plannedMachines(named).map((x) => `${x.name}@${x.address}`)).toEqual(['db-a@192.168.7.5', 'kube-master-01@10.0.0.111', 'kube-worker-01@w1.example.net']);
  });
});
