import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'ssh-config';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSshConfig, targetsFromSshConfig } from '../../src/ssh/index.js';

// What `vagrant ssh-config` prints for a three-machine project (VirtualBox provider, a path with a space).
const VAGRANT = `Host cp1
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/dev/my cluster/.vagrant/machines/cp1/virtualbox/private_key"
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

Host worker1
  HostName 127.0.0.1
  User vagrant
  Port 2200
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/dev/my cluster/.vagrant/machines/worker1/virtualbox/private_key"
  IdentitiesOnly yes
  LogLevel FATAL

Host worker2
  HostName 192.168.56.12
  User core
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /home/dev/.vagrant.d/insecure_private_keys/vagrant.key.ed25519
  IdentityFile /home/dev/.vagrant.d/insecure_private_keys/vagrant.key.rsa
  IdentitiesOnly yes
  LogLevel FATAL
`;

const work = mkdtempSync(join(tmpdir(), 'kcore-sshcfg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('targetsFromSshConfig', () => {
  it('reads a real vagrant ssh-config with several hosts', () => {
    const t = targetsFromSshConfig(VAGRANT);
    expect(t).toEqual([
      { name: 'cp1', host: '127.0.0.1', port: 2222, user: 'vagrant', identityFile: '/home/dev/my cluster/.vagrant/machines/cp1/virtualbox/private_key' },
      { name: 'worker1', host: '127.0.0.1', port: 2200, user: 'vagrant', identityFile: '/home/dev/my cluster/.vagrant/machines/worker1/virtualbox/private_key' },
      { name: 'worker2', host: '192.168.56.12', port: 22, user: 'core', identityFile: '/home/dev/.vagrant.d/insecure_private_keys/vagrant.key.ed25519' },
    ]);
  });

  it('selects names, in the order asked', () => {
    expect(targetsFromSshConfig(VAGRANT, { names: ['worker2', 'cp1'] }).map((t) => t.name)).toEqual(['worker2', 'cp1']);
  });

  it('applies wildcard Host blocks as defaults (first value wins, like OpenSSH)', () => {
    const cfg = `Host special
  User admin

Host node*
  IdentityFile keys/cluster_key
  Port 2201

Host node1 node2
  HostName 10.0.0.%h

Host node3
  HostName 10.0.0.3
  Port 22

Host *
  User core
  Port 2022
  IdentityFile ~/.ssh/id_ed25519
`;
    const t = targetsFromSshConfig(cfg.replace('10.0.0.%h', '10.0.0.1'), { configDir: '/work/cfg' });
    const byName = Object.fromEntries(t.map((x) => [x.name, x]));
    expect(Object.keys(byName)).toEqual(['special', 'node1', 'node2', 'node3']);
    expect(byName.special).toMatchObject({ user: 'admin', port: 2022, host: 'special', identityFile: join(homedir(), '.ssh/id_ed25519') });
    expect(byName.node1).toMatchObject({ host: '10.0.0.1', port: 2201, user: 'core', identityFile: '/work/cfg/keys/cluster_key' });
    expect(byName.node3).toMatchObject({ host: '10.0.0.3', port: 2201, user: 'core' }); // node* came first
  });

  it('expands %h, %d, %r and ~ in paths, resolves relative paths against configDir', () => {
    const t = targetsFromSshConfig('Host box\n  User kube\n  IdentityFile %d/.keys/%r-%h\n', { homeDir: '/home/x' });
    expect(t[0]!.identityFile).toBe('/home/x/.keys/kube-box');
    const r = targetsFromSshConfig('Host box\n  IdentityFile ./k\n', { configDir: '/srv/p' });
    expect(r[0]!.identityFile).toBe('/srv/p/k');
  });

  it('resolves ProxyJump through a Host of the same config, and user@host:port hops, and chains', () => {
    const cfg = `Host bastion
  HostName 203.0.113.10
  User jump
  Port 2222
  IdentityFile /keys/bastion

Host inner
  HostName 10.10.0.5
  User core
  ProxyJump bastion

Host deep
  HostName 10.20.0.5
  ProxyJump ops@gw1.example:2200,bastion

Host direct
  HostName 10.30.0.5
  ProxyJump none

Host *
  User vagrant
`;
    const [bastion, inner, deep, direct] = targetsFromSshConfig(cfg);
    expect(bastion!.proxyJump).toBeUndefined();
    expect(inner).toMatchObject({ host: '10.10.0.5', user: 'core', proxyJump: { name: 'bastion', host: '203.0.113.10', port: 2222, user: 'jump', identityFile: '/keys/bastion' } });
    // deep: connect to gw1 first, from there to bastion, from there to deep
    expect(deep!.proxyJump).toMatchObject({ name: 'bastion', host: '203.0.113.10', proxyJump: { host: 'gw1.example', port: 2200, user: 'ops' } });
    expect(direct!.proxyJump).toBeUndefined();
  });

  it('refuses a ProxyJump loop', () => {
    expect(() => targetsFromSshConfig('Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n')).toThrow(/loop/);
  });

  it('never runs Match exec — proven with a command that would create a file', () => {
    const marker = join(work, 'match-exec-ran');
    const cfg = `Match exec "touch ${marker}"
  User pwned

Host node1
  HostName 10.0.0.1
  ProxyCommand touch ${marker}-proxy
  Include ${marker}-include
`;
    // Control: the parser library, left to its defaults, would run it.
    parse(cfg).compute('node1');
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);

    const warnings: string[] = [];
    const { targets, warnings: returned } = parseSshConfig(cfg, { onWarning: (w) => warnings.push(w) });
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`${marker}-proxy`)).toBe(false);
    expect(targets[0]).toMatchObject({ name: 'node1', host: '10.0.0.1' });
    expect(targets[0]!.user).not.toBe('pwned');
    expect(warnings).toEqual(returned);
    expect(warnings.join('\n')).toMatch(/line 1: "Match exec" is never executed/);
    expect(warnings.join('\n')).toMatch(/ProxyCommand/);
    expect(warnings.join('\n')).toMatch(/Include/);
  });

  it('applies safe Match criteria (all, host, originalhost, user)', () => {
    const cfg = `Host a b
  HostName 10.0.0.9
Match host 10.0.0.9 user vagrant
  Port 2299
Match originalhost b
  IdentityFile /k/b
Match all
  User vagrant
`;
    const [a, b] = targetsFromSshConfig(cfg);
    // User is not set yet when the first Match is evaluated -> local user, so no Port from it
    expect(a).toMatchObject({ host: '10.0.0.9', user: 'vagrant' });
    expect(a!.identityFile).toBeUndefined();
    expect(b!.identityFile).toBe('/k/b');
  });

  it('rejects an invalid port', () => {
    expect(() => targetsFromSshConfig('Host x\n  Port 99999\n')).toThrow(/invalid Port/);
  });
});
