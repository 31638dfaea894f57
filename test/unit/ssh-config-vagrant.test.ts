// One ssh_config parser: what `destroy` reads from the workspace's ssh.config (to forget the machines'
// host keys) is what the engine connects to, because both go through src/ssh/ssh-config.ts (the
// `ssh-config` package's parser, OpenSSH's evaluation: wildcard blocks as defaults, first value wins,
// `Keyword=value`, quotes). Each case below was read differently by the line-regex copy it replaced.
import { describe, expect, it } from 'vitest';
import { parseSshConfig } from '../../src/ssh/ssh-config.js';
import { sshConfigHosts } from '../../src/vagrant/known-hosts.js';

const engineView = (text: string) => parseSshConfig(text, { defaultUser: 'vagrant' }).targets.map((t) => ({ name: t.name, host: t.host, port: t.port }));
const destroyView = (text: string) => sshConfigHosts(text).map((h) => ({ name: h.name, host: h.hostName ?? h.name, port: h.port }));

describe('destroy and the engine read ssh.config alike', () => {
  const cases: Array<[string, string, Array<{ name: string; host: string; port: number }>]> = [
    [
      'vagrant ssh-config output',
      'Host etcd-01\n  HostName 10.0.0.101\n  User vagrant\n  Port 22\n  IdentityFile /w/.vagrant/key\n\nHost kube-master-01\n  HostName 127.0.0.1\n  Port 2200\n',
      [
        { name: 'etcd-01', host: '10.0.0.101', port: 22 },
        { name: 'kube-master-01', host: '127.0.0.1', port: 2200 },
      ],
    ],
    ['a wildcard block is a default, not a host', 'Host *\n  Port 2222\nHost w1\n  HostName 10.0.0.121\n', [{ name: 'w1', host: '10.0.0.121', port: 2222 }]],
    ['Keyword=value and quoted values', 'Host w2\n  HostName="10.0.0.122"\n  Port=2201\n', [{ name: 'w2', host: '10.0.0.122', port: 2201 }]],
    ['the first value wins, as in OpenSSH', 'Host w3\n  HostName 10.0.0.123\n  Port 2203\n  Port 2299\n', [{ name: 'w3', host: '10.0.0.123', port: 2203 }]],
    ['several aliases on one Host line', 'Host m1 master\n  HostName 10.0.0.111\n', [
      { name: 'm1', host: '10.0.0.111', port: 22 },
      { name: 'master', host: '10.0.0.111', port: 22 },
    ]],
  ];
  for (const [what, text, want] of cases) {
    it(what, () => {
      expect(engineView(text)).toEqual(want);
      expect(destroyView(text)).toEqual(want);
    });
  }

  it('a Host without HostName has none (the alias is the address)', () => {
    expect(sshConfigHosts('Host 10.0.0.7\n  Port 2022\n')).toEqual([{ name: '10.0.0.7', port: 2022 }]);
  });
});
