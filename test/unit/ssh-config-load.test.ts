// ssh.config as the engine loads it: the spec's ssh.user is the default login, and lines that are not
// `Keyword value` are named with their line number (OpenSSH's ssh_config(5): "keyword arguments").
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSshConfig, parseSshConfig } from '../../src/ssh/ssh-config.js';
import { resolveHosts } from '../../src/converge/inventory.js';
import { defaultSpec } from '../../src/spec/defaults.js';

describe('loadSshConfig', () => {
  it('a host without User logs in as the spec user, not as the local user', async () => {
    const r = parseSshConfig('Host a\n  HostName 10.0.0.5\nHost b\n  User vagrant\n', { defaultUser: 'core' });
    expect(r.targets.map((t) => t.user)).toEqual(['core', 'vagrant']);
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-sshcfg-'));
    const spec = defaultSpec({});
    spec.ssh.user = 'deploy';
    const names = ['etcd-01', 'kube-master-01', 'kube-worker-01', 'kube-worker-02'];
    await writeFile(path.join(dir, 'ssh.config'), names.map((n, i) => `Host ${n}\n  HostName 127.0.0.1\n  Port ${2200 + i}\n`).join(''));
    const hosts = await resolveHosts(dir, spec);
    expect(hosts.map((h) => `${h.target.user}@${h.target.host}:${h.target.port}`)).toEqual(['deploy@127.0.0.1:2200', 'deploy@127.0.0.1:2201', 'deploy@127.0.0.1:2202', 'deploy@127.0.0.1:2203']);
  });

  it('names the line of text that is not `Keyword value`, counting blank lines and comments', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-sshcfg-'));
    const file = path.join(dir, 'ssh.config');
    await writeFile(file, '# vagrant ssh-config\n\nHost a\n  HostName 10.0.0.5\n  {json}\n  Port 22\n');
    await expect(loadSshConfig(file, { names: ['a'] })).rejects.toThrow(`${file}:5: cannot read "{json}"`);
    await writeFile(file, 'Host a\n  HostName 10.0.0.5\n  Port abc\n');
    await expect(loadSshConfig(file, { names: ['a'] })).rejects.toThrow(`${file}: host "a" has an invalid Port "abc"`);
  });

  it('with --limit, a host outside it need not be in ssh.config; a selected one must be', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-sshcfg-'));
    const spec = defaultSpec({});
    await writeFile(path.join(dir, 'ssh.config'), 'Host etcd-01\n  HostName 127.0.0.1\n  Port 2200\n');
    const file = path.join(dir, 'ssh.config');
    await expect(resolveHosts(dir, spec)).rejects.toThrow(`${file} has no \`Host\` entry for kube-master-01, kube-worker-01, kube-worker-02: run \`kcore-wizard up\``);
    const hosts = await resolveHosts(dir, spec, { limit: ['etcd'] });
    expect(hosts.map((h) => `${h.name} ${h.target.host}:${h.target.port}`)).toEqual(['etcd-01 127.0.0.1:2200', 'kube-master-01 10.0.0.111:22', 'kube-worker-01 10.0.0.121:22', 'kube-worker-02 10.0.0.122:22']);
    await expect(resolveHosts(dir, spec, { limit: ['etcd-01', 'kube-worker-02'] })).rejects.toThrow(`${file} has no \`Host\` entry for kube-worker-02:`);
  });
});
