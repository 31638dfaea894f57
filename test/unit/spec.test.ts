import { describe, expect, it } from 'vitest';
import { defaultSpec, parseSpec, renderSpecYaml, SpecError, validateSpec, plannedHosts, type ClusterSpec } from '../../src/spec/index.js';

const FILE = 'kcore.yaml';

function errorsOf(mutate: (s: ClusterSpec) => void) {
  const s = defaultSpec();
  mutate(s);
  return validateSpec(s);
}

function parseError(text: string): SpecError {
  try {
    parseSpec(text, FILE);
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

describe('defaults (the seed cluster)', () => {
  it('plans 1 etcd, 1 master, 2 workers on 10.0.0.1x1 with %02d names', () => {
    const hosts = plannedHosts(defaultSpec());
    expect(hosts.map((h) => [h.name, h.ip, h.memory, h.cpus])).toEqual([
      ['etcd-01', '10.0.0.101', 1024, 1],
      ['kube-master-01', '10.0.0.111', 2048, 1],
      ['kube-worker-01', '10.0.0.121', 2048, 1],
      ['kube-worker-02', '10.0.0.122', 2048, 1],
    ]);
    const s = defaultSpec();
    expect(s.network).toEqual({ prefix: '10.0.0', serviceCidr: '10.3.0.0/24', podCidr: '10.2.0.0/16', dnsIp: '10.3.0.10', domain: 'cluster.local' });
    expect(validateSpec(s)).toEqual({ errors: [], warnings: [] });
  });

  it('round-trips through YAML', () => {
    const s = defaultSpec();
    expect(parseSpec(renderSpecYaml(s), FILE).spec).toEqual(s);
  });
});

describe('validation rules and their messages', () => {
  it('needs at least one machine of each group', () => {
    expect(errorsOf((s) => (s.groups['kube-master'].count = 0)).errors).toEqual([
      { field: 'groups.kube-master.count', message: 'a cluster needs at least 1 Kubernetes master machine (got 0)' },
    ]);
    expect(errorsOf((s) => (s.groups.etcd.count = 0)).errors[0]!.message).toBe('a cluster needs at least 1 etcd machine (got 0)');
    expect(errorsOf((s) => (s.groups['kube-worker'].count = 0)).errors[0]!.field).toBe('groups.kube-worker.count');
  });

  it('allows at most 9 per group (the IP plan)', () => {
    expect(errorsOf((s) => (s.groups['kube-worker'].count = 10)).errors).toEqual([
      { field: 'groups.kube-worker.count', message: 'at most 9 Kubernetes worker machines fit the IP plan (10.0.0.1x1–1x9), got 10' },
    ]);
    expect(errorsOf((s) => (s.groups['kube-worker'].count = 9)).errors).toEqual([]);
  });

  it('warns about even etcd counts (quorum) but allows them', () => {
    const v = errorsOf((s) => (s.groups.etcd.count = 4));
    expect(v.errors).toEqual([]);
    expect(v.warnings).toEqual([
      { field: 'groups.etcd.count', message: '4 etcd members tolerate as many failures as 3 (quorum is 3): an odd number is better' },
    ]);
    expect(errorsOf((s) => (s.groups.etcd.count = 3)).warnings).toEqual([]);
  });

  it('refuses memory below what each role needs', () => {
    expect(errorsOf((s) => (s.groups.etcd.memory = 256)).errors).toEqual([
      { field: 'groups.etcd.memory', message: '256 MB is below the 512 MB a etcd machine needs' },
    ]);
    expect(errorsOf((s) => (s.groups['kube-master'].memory = 1024)).errors).toEqual([
      { field: 'groups.kube-master.memory', message: '1024 MB is below the 1536 MB a Kubernetes master machine needs' },
    ]);
    expect(errorsOf((s) => (s.groups['kube-worker'].memory = 512)).errors[0]!.message).toBe('512 MB is below the 1024 MB a Kubernetes worker machine needs');
  });

  it('refuses CIDRs that overlap each other or the host network', () => {
    expect(errorsOf((s) => (s.network.podCidr = '10.3.0.0/16')).errors).toEqual([
      { field: 'network.podCidr', message: '10.3.0.0/16 overlaps network.serviceCidr 10.3.0.0/24: pods and services need separate ranges' },
    ]);
    expect(errorsOf((s) => (s.network.serviceCidr = '10.0.0.0/16')).errors).toContainEqual({
      field: 'network.serviceCidr',
      message: '10.0.0.0/16 overlaps the host network 10.0.0.0/24 (network.prefix): pick another range',
    });
    expect(errorsOf((s) => (s.network.prefix = '10.2.5')).errors).toEqual([
      { field: 'network.podCidr', message: '10.2.0.0/16 overlaps the host network 10.2.5.0/24 (network.prefix): pick another range' },
    ]);
  });

  it('checks the DNS address against the service range', () => {
    expect(errorsOf((s) => (s.network.dnsIp = '10.4.0.10')).errors).toEqual([
      { field: 'network.dnsIp', message: '10.4.0.10 is outside network.serviceCidr 10.3.0.0/24: the cluster DNS address must be a service address' },
    ]);
    expect(errorsOf((s) => (s.network.dnsIp = '10.3.0.1')).errors[0]!.message).toMatch(/kubernetes API service's address/);
  });

  it('refuses CIDRs with host bits and out-of-range octets', () => {
    expect(errorsOf((s) => (s.network.podCidr = '10.2.3.0/16')).errors).toEqual([
      { field: 'network.podCidr', message: '10.2.3.0/16 has host bits set: did you mean 10.2.0.0/16?' },
    ]);
    expect(errorsOf((s) => (s.network.prefix = '10.0.300')).errors[0]).toEqual({
      field: 'network.prefix',
      message: '10.0.300 is not a valid address prefix (octets go up to 255)',
    });
  });

  it('existing machines: listed, unique, and matching the counts', () => {
    expect(errorsOf((s) => (s.provider = 'existing')).errors[0]).toEqual({
      field: 'machines',
      message: 'provider "existing" needs the machines listed by address (name, address, group for each)',
    });
    expect(
      errorsOf((s) => {
        s.machines = [{ name: 'a', address: '192.0.2.1', group: 'etcd', port: 22 }];
      }).errors,
    ).toEqual([{ field: 'machines', message: 'machines are only used with provider "existing" (provider is "virtualbox"): remove them or change the provider' }]);
    const v = errorsOf((s) => {
      s.provider = 'existing';
      s.machines = [
        { name: 'e1', address: '192.0.2.1', group: 'etcd', port: 22 },
        { name: 'm1', address: '192.0.2.2', group: 'kube-master', port: 22 },
        { name: 'w1', address: '192.0.2.3', group: 'kube-worker', port: 22 },
      ];
    });
    expect(v.errors).toEqual([{ field: 'groups.kube-worker.count', message: 'is 2 but machines lists 1 kube-worker machine: make them agree' }]);
  });
});

describe('kcore.yaml errors name file, line and field', () => {
  const good = renderSpecYaml(defaultSpec());

  it('bad YAML', () => {
    const e = parseError(good.replace('  etcd:\n    count: 1', '  etcd:\n    count: [1'));
    expect(e.exitCode).toBe(2);
    expect(e.problems[0]!.line).toBeGreaterThan(1);
    expect(e.message).toMatch(/^kcore\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('wrong type', () => {
    const text = good.replace(/( {2}etcd:\n {4}count:) 1/, '$1 three');
    const line = text.split('\n').findIndex((l) => l.includes('count: three')) + 1;
    const e = parseError(text);
    expect(e.message).toBe(`kcore.yaml:${line}:12: groups.etcd.count: expected number, got "three"`);
  });

  it('unknown field points at the key', () => {
    const text = good.replace('  dnsIp: 10.3.0.10', '  dnsIp: 10.3.0.10\n  dnsIP: 10.3.0.11');
    const line = text.split('\n').findIndex((l) => l.includes('dnsIP')) + 1;
    expect(parseError(text).message).toBe(
      `kcore.yaml:${line}:3: network.dnsIP: unknown field "dnsIP": check the spelling (the README lists every field)`,
    );
  });

  it('missing field and bad enum', () => {
    expect(parseError(good.replace(/^provider: virtualbox\n/m, '')).message).toMatch(/^kcore\.yaml:\d+:1: provider: is missing: expected/);
    expect(parseError(good.replace('provider: virtualbox', 'provider: vmware')).message).toMatch(
      /^kcore\.yaml:\d+:11: provider: expected one of "virtualbox"\|"libvirt"\|"lxc"\|"existing", got "vmware"$/,
    );
  });

  it('rule violations carry the line of the field', () => {
    const text = good.replace(/( {2}kube-worker:\n {4}count:) 2/, '$1 12');
    const line = text.split('\n').findIndex((l) => l.includes('count: 12')) + 1;
    expect(parseError(text).message).toBe(
      `kcore.yaml:${line}:12: groups.kube-worker.count: at most 9 Kubernetes worker machines fit the IP plan (10.0.0.1x1–1x9), got 12`,
    );
  });

  it('an empty file says what to do', () => {
    expect(parseError('').message).toBe('kcore.yaml: the file is empty: run `kcore-wizard init` to write a default spec');
  });
});
