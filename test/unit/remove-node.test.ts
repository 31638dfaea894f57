// remove-node: which node may go (the spec is count-based for vagrant providers), the spec without it,
// its ssh.config block, the machine destroyed through vagrant, and the refusals (exit 2, what to do).
// The whole command on real machines: test/integration/kube-upgrade.test.ts.
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeNodeProblem, specWithout, sshConfigWithout } from '../../src/commands/remove-node.js';
import { defaultSpec, saveSpec, type ClusterSpec } from '../../src/spec/index.js';
import * as vagrant from '../../src/vagrant/vagrant.js';
import { runCli } from '../support/cli.js';

const vbox = () => {
  const s = defaultSpec();
  s.groups['kube-worker'].count = 3;
  s.groups['kube-master'].count = 2;
  return s;
};
const existing = (): ClusterSpec => {
  const s = defaultSpec({ provider: 'existing' });
  s.groups['kube-worker'].count = 3;
  s.machines = [
    { name: 'etcd-a', address: '10.9.0.1', group: 'etcd', port: 22 },
    { name: 'm-a', address: '10.9.0.2', group: 'kube-master', port: 22 },
    { name: 'w-a', address: '10.9.0.3', group: 'kube-worker', port: 22 },
    { name: 'w-b', address: '10.9.0.4', group: 'kube-worker', port: 22 },
    { name: 'w-c', address: '10.9.0.5', group: 'kube-worker', port: 22 },
  ];
  return s;
};

describe('which node remove-node may take', () => {
  it('vagrant providers: only the highest-numbered machine of its group (hosts are -01..-N by count)', () => {
    expect(removeNodeProblem(vbox(), 'kube-worker-03')).toBeNull();
    expect(removeNodeProblem(vbox(), 'kube-master-02')).toBeNull();
    expect(removeNodeProblem(vbox(), 'kube-worker-01')).toBe(
      'remove-node kube-worker-01: with provider virtualbox the kube-worker machines are numbered 01 to 03 by groups.kube-worker.count, so only the highest-numbered one can go: remove kube-worker-03 instead (drain kube-worker-01 by hand if it is the one that is broken, then remove kube-worker-03)',
    );
  });
  it('existing: any machine of its group', () => {
    for (const n of ['w-a', 'w-b', 'w-c']) expect(removeNodeProblem(existing(), n)).toBeNull();
  });
  it('never an etcd member (that is etcd scale-down), never the last master or worker, never an unknown name', () => {
    expect(removeNodeProblem(vbox(), 'etcd-01')).toBe(
      'remove-node etcd-01: etcd-01 is an etcd member, not a Kubernetes node. To remove an etcd member, lower groups.etcd.count in kcore.yaml and run `kcore-wizard converge` (the member leaves the cluster before it stops; quorum is kept)',
    );
    expect(removeNodeProblem(existing(), 'm-a')).toMatch(/^remove-node m-a: it is the cluster's only master \(groups\.kube-master\.count is 1/);
    expect(removeNodeProblem(vbox(), 'kube-worker-09')).toBe('remove-node kube-worker-09: no such machine in kcore.yaml (machines: etcd-01, kube-master-01, kube-master-02, kube-worker-01, kube-worker-02, kube-worker-03)');
  });
  it('the spec without it: one fewer in its group; existing: out of machines, the others kept in order', () => {
    expect(specWithout(vbox(), 'kube-worker-03').groups['kube-worker'].count).toBe(2);
    const e = specWithout(existing(), 'w-b');
    expect(e.groups['kube-worker'].count).toBe(2);
    expect(e.machines.map((m) => m.name)).toEqual(['etcd-a', 'm-a', 'w-a', 'w-c']);
  });
  it("ssh.config loses only the node's Host block", () => {
    const text = 'Host kube-worker-02\n  HostName 127.0.0.1\n  Port 2201\n\nHost kube-worker-03\n  HostName 127.0.0.1\n  Port 2202\n';
    expect(sshConfigWithout(text, 'kube-worker-03')).toBe('Host kube-worker-02\n  HostName 127.0.0.1\n  Port 2201\n');
  });
  it('the machine is destroyed as `vagrant destroy -f NAME` (a vagrant stand-in records the arguments)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-rm-'));
    const bin = path.join(dir, 'vagrant');
    await writeFile(bin, `#!/bin/sh\necho "$@" >> ${dir}/args\n`);
    await chmod(bin, 0o755);
    await vagrant.destroy(dir, { only: ['kube-worker-03'], env: { ...process.env, KCORE_VAGRANT: bin } });
    expect(await readFile(path.join(dir, 'args'), 'utf8')).toBe('destroy -f --no-color kube-worker-03\n');
  });
});

describe('refusals on the command line (exit 2, nothing changed)', () => {
  it('remove-node: a lower-numbered vagrant machine, an etcd member, no name', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-rm-'));
    await saveSpec(ws, vbox());
    const before = await readFile(path.join(ws, 'kcore.yaml'), 'utf8');
    const low = await runCli(['remove-node', ws, 'kube-worker-02', '--yes']);
    expect(low.code).toBe(2);
    expect(low.stderr).toContain('only the highest-numbered one can go: remove kube-worker-03 instead');
    const etcd = await runCli(['remove-node', '--dir', ws, 'etcd-01', '--yes']);
    expect(etcd.code).toBe(2);
    expect(etcd.stderr).toContain('lower groups.etcd.count in kcore.yaml and run `kcore-wizard converge`');
    const none = await runCli(['remove-node', '--dir', ws]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('remove-node needs the name of the node');
    const noYes = await runCli(['remove-node', ws, 'kube-worker-03']);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('pass --yes to confirm');
    expect(await readFile(path.join(ws, 'kcore.yaml'), 'utf8')).toBe(before);
  });
  it('upgrade --kubernetes: a downgrade and a skipped minor, before kcore.yaml is touched', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-up-'));
    await saveSpec(ws, vbox());
    const before = await readFile(path.join(ws, 'kcore.yaml'), 'utf8');
    const down = await runCli(['upgrade', ws, '--kubernetes', '1.36.4', '--yes']);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('Kubernetes 1.37.1 cannot be downgraded');
    const none = await runCli(['upgrade', ws, '--yes']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('upgrade needs --etcd VERSION and/or --kubernetes VERSION');
    expect(await readFile(path.join(ws, 'kcore.yaml'), 'utf8')).toBe(before);
  });
});
