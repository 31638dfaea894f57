import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSpec, plannedHosts, loadSpec } from '../../src/spec/index.js';
import { renderVagrantfile, writeWorkspace } from '../../src/render/index.js';
import { runCli } from '../support/cli.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PROBE = path.join(ROOT, 'test/support/vagrantfile-probe.rb');

interface Probe {
  box: string;
  box_url: string;
  provisioners: number;
  machines: Array<{
    name: string;
    hostname: string;
    provisioners: number;
    networks: Array<{ type: string; ip: string }>;
    providers: Record<string, Record<string, unknown>>;
  }>;
}

/** Evaluate a Vagrantfile with real Ruby against a recording stand-in for Vagrant's DSL. */
function probe(vagrantfile: string): Probe {
  execFileSync('ruby', ['-c', vagrantfile], { stdio: 'pipe' });
  return JSON.parse(execFileSync('ruby', [PROBE, vagrantfile], { encoding: 'utf8' })) as Probe;
}

describe('workspace rendering', () => {
  it('init --etcd 3 --masters 2 --workers 5 then render: Ruby parses the Vagrantfile and it matches the spec', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-render-'));
    expect((await runCli(['init', dir, '--etcd', '3', '--masters', '2', '--workers', '5', '--worker-memory', '3072', '--master-cpus', '2'])).code).toBe(0);
    const r = await runCli(['render', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created +.*Vagrantfile\n/);
    expect(r.stdout).toMatch(/created +.*inventory\.ini\n/);

    const { spec } = await loadSpec(dir);
    const p = probe(path.join(dir, 'Vagrantfile'));
    expect(p.box).toBe('flatcar-stable');
    expect(p.box_url).toBe('https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.box');
    expect(p.provisioners).toBe(0);
    const expected = plannedHosts(spec);
    expect(p.machines.map((m) => m.name)).toEqual(expected.map((h) => h.name));
    expect(p.machines).toHaveLength(10);
    for (const [i, m] of p.machines.entries()) {
      const h = expected[i]!;
      expect(m.hostname).toBe(h.name);
      expect(m.provisioners).toBe(0); // `vagrant up` stays free of provisioning
      expect(m.networks).toEqual([expect.objectContaining({ type: 'private_network', ip: h.ip, netmask: '255.255.255.0' })]);
      for (const prov of ['virtualbox', 'libvirt'])
        expect(m.providers[prov]).toMatchObject({ memory: h.memory, cpus: h.cpus });
      // lxc: eth0 on the cluster bridge with the static address; memory limit in the host's cgroup flavour.
      const lxc = m.providers.lxc!.customize as Array<[string, string]>;
      expect(lxc).toEqual(expect.arrayContaining([['net.0.link', 'kc-kcore'], ['net.0.ipv4.address', `${h.ip}/24 10.0.0.255`]]));
      expect(lxc.find(([k]) => /^cgroup2?\.memory\.(max|limit_in_bytes)$/.test(k))?.[1]).toBe(`${h.memory}M`);
    }
    expect(p.machines.find((m) => m.name === 'kube-worker-05')!.networks[0]!.ip).toBe('10.0.0.125');
    expect(p.machines.find((m) => m.name === 'kube-worker-05')!.providers.virtualbox).toMatchObject({ memory: 3072, cpus: 1 });
    expect(p.machines.find((m) => m.name === 'kube-master-02')!.providers.virtualbox).toMatchObject({ memory: 2048, cpus: 2 });

    // A second render changes nothing.
    const again = await runCli(['render', dir]);
    expect(again.stdout).not.toMatch(/^changed/m);
    expect(again.stdout.match(/unchanged/g)).toHaveLength(2);
  });

  it('writes an inventory that Ansible accepts as it is, with the three groups', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-inv-'));
    await runCli(['init', dir, '--etcd', '3', '--masters', '2', '--workers', '5']);
    await runCli(['render', dir]);
    const out = execFileSync('ansible-inventory', ['-i', path.join(dir, 'inventory.ini'), '--list'], {
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_LOCAL_TEMP: dir, HOME: dir },
    });
    const inv = JSON.parse(out) as Record<string, { hosts?: string[] }> & { _meta: { hostvars: Record<string, Record<string, string>> } };
    expect(inv.etcd!.hosts).toEqual(['etcd-01', 'etcd-02', 'etcd-03']);
    expect(inv['kube-master']!.hosts).toEqual(['kube-master-01', 'kube-master-02']);
    expect(inv['kube-worker']!.hosts).toEqual(['kube-worker-01', 'kube-worker-02', 'kube-worker-03', 'kube-worker-04', 'kube-worker-05']);
    expect(inv._meta.hostvars['kube-worker-03']).toMatchObject({ ip: '10.0.0.123', ansible_user: 'core' });
  });

  it('the existing-machines provider gets an inventory with addresses and no Vagrantfile', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-existing-'));
    const spec = defaultSpec();
    spec.provider = 'existing';
    spec.groups['kube-worker'].count = 1;
    spec.machines = [
      { name: 'db1', address: '192.0.2.10', group: 'etcd', port: 22 },
      { name: 'cp1', address: '192.0.2.11', group: 'kube-master', port: 2222 },
      { name: 'node1', address: '192.0.2.12', group: 'kube-worker', port: 22, privateIp: '10.9.0.12' },
    ];
    const results = await writeWorkspace(dir, spec);
    expect(results.map((r) => r.path)).toEqual(['inventory.ini']);
    const inv = await readFile(path.join(dir, 'inventory.ini'), 'utf8');
    expect(inv).toContain('cp1 ip=192.0.2.11 ansible_host=192.0.2.11 ansible_port=2222');
    expect(inv).toContain('node1 ip=10.9.0.12 ansible_host=192.0.2.12 ansible_port=22');
  });

  it('writes atomically with mode 0644 and reports unchanged files', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-atomic-'));
    const spec = defaultSpec();
    expect((await writeWorkspace(dir, spec)).every((r) => r.changed)).toBe(true);
    expect(((await stat(path.join(dir, 'Vagrantfile'))).mode & 0o777).toString(8)).toBe('644');
    expect((await writeWorkspace(dir, spec)).some((r) => r.changed)).toBe(false);
    spec.groups['kube-worker'].count = 3;
    expect(await writeWorkspace(dir, spec)).toEqual([
      { path: 'Vagrantfile', changed: true },
      { path: 'inventory.ini', changed: true },
    ]);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a rewrite replaces the file by rename: an open reader of the old file keeps it whole', async () => {
    // An in-place write (truncate, then write) changes the bytes under every open reader, which can
    // then see half a file. A rename swaps the directory entry: the old inode, reached here through a
    // hard link (as a reader holding it open would), keeps the old content intact.
    const { link, open } = await import('node:fs/promises');
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-rename-'));
    const spec = defaultSpec();
    await writeWorkspace(dir, spec);
    const file = path.join(dir, 'Vagrantfile');
    const before = await readFile(file, 'utf8');
    const inode = (await stat(file)).ino;
    await link(file, path.join(dir, 'old-inode'));
    const reader = await open(file, 'r');
    try {
      spec.groups['kube-worker'].count = 5;
      await writeWorkspace(dir, spec);
      const after = await readFile(file, 'utf8');
      expect(after).not.toBe(before);
      expect(after).toBe(renderVagrantfile(spec));
      expect((await stat(file)).ino).not.toBe(inode);
      expect(await readFile(path.join(dir, 'old-inode'), 'utf8')).toBe(before);
      expect((await reader.readFile()).toString('utf8')).toBe(before);
    } finally {
      await reader.close();
    }
  });

  it("the repository's top-level Vagrantfile is the default spec's render", async () => {
    expect(await readFile(path.join(ROOT, 'Vagrantfile'), 'utf8')).toBe(renderVagrantfile(defaultSpec()));
  });
});
