// The cluster spec's helpers and messages on the edges the first tests left out: address arithmetic at its
// bounds, the IP plan of existing machines, the position of every kind of error in kcore.yaml, and the
// defaults each provider gets. Found by `npm run test:mutation` (src/spec/**).
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  apiServiceIp,
  checkSpec,
  cidrContains,
  cidrsOverlap,
  compareVersions,
  defaultBox,
  defaultSpec,
  defaultSshUser,
  describePodPlan,
  formatIpv4,
  formatProblem,
  hasHostBits,
  hostIp,
  hostName,
  hostsOf,
  inRange,
  loadSpec,
  minorOf,
  nodeMaskFor,
  nthAddress,
  parseCidr,
  parseIpv4,
  parseSpec,
  plannedHosts,
  podPlan,
  renderSpecYaml,
  saveSpec,
  smallestPodNetworkBits,
  SpecError,
  supportFor,
  totals,
  UsageError,
  validateSpec,
  type ClusterSpec,
} from '../../src/spec/index.js';

function parseError(text: string): SpecError {
  try {
    parseSpec(text, 'kcore.yaml');
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

function checkError(data: unknown): SpecError {
  try {
    checkSpec(data);
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('IPv4 arithmetic', () => {
  it('parses dotted quads and refuses anything else', () => {
    expect(parseIpv4('10.0.0.1')).toBe(167772161);
    expect(parseIpv4('255.255.255.255')).toBe(2 ** 32 - 1);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    for (const bad of ['10.0.0', '10.0.0.1.2', '10.0.0.256', '10.0.0.-1', '10.0.0.1a', '10.0.0.1000', '', '10..0.1']) expect(parseIpv4(bad), bad).toBeNull();
  });

  it('formats numbers back, octet by octet', () => {
    expect(formatIpv4(167772161)).toBe('10.0.0.1');
    expect(formatIpv4(0xc0a80aff)).toBe('192.168.10.255');
  });

  it('CIDRs: base rounded down to the prefix, size, text kept; prefix above 32 or bad address refused', () => {
    expect(parseCidr('10.2.3.4/16')).toEqual({ base: parseIpv4('10.2.0.0'), bits: 16, size: 65536, text: '10.2.3.4/16' });
    expect(parseCidr('10.0.0.7/32')).toEqual({ base: parseIpv4('10.0.0.7'), bits: 32, size: 1, text: '10.0.0.7/32' });
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0.0/123')).toBeNull();
    expect(parseCidr('10.0.0.300/24')).toBeNull();
    expect(parseCidr('x10.0.0.0/24')).toBeNull();
    expect(parseCidr('10.0.0.0/24 ')).toBeNull();
  });

  it('host bits: set only when the address is not the network address', () => {
    expect(hasHostBits('10.2.0.5/16')).toBe(true);
    expect(hasHostBits('10.2.0.0/16')).toBe(false);
    expect(hasHostBits('not a cidr')).toBe(false);
  });

  it('overlap and containment at the edges of a range', () => {
    const a = parseCidr('10.0.0.0/24')!;
    expect(cidrsOverlap(a, parseCidr('10.0.1.0/24')!)).toBe(false);
    expect(cidrsOverlap(parseCidr('10.0.1.0/24')!, a)).toBe(false);
    expect(cidrsOverlap(a, parseCidr('10.0.0.255/32')!)).toBe(true);
    expect(cidrsOverlap(parseCidr('10.0.0.0/32')!, a)).toBe(true);
    expect(cidrContains(a, '10.0.0.0')).toBe(true);
    expect(cidrContains(a, '10.0.0.255')).toBe(true);
    expect(cidrContains(a, '10.0.1.0')).toBe(false);
    expect(cidrContains(parseCidr('10.0.1.0/24')!, '10.0.0.255')).toBe(false);
    expect(cidrContains(a, 'nonsense')).toBe(false);
    expect(nthAddress(a, 0)).toBe('10.0.0.0');
    expect(nthAddress(a, 10)).toBe('10.0.0.10');
  });
});

describe('pod plan', () => {
  it('node ranges are /24 at most and /28 at least', () => {
    expect([8, 16, 19, 20, 23, 24, 30].map(nodeMaskFor)).toEqual([24, 24, 24, 25, 28, 28, 28]);
  });

  it('the smallest pod network is a /22, and a plan is described in one line', () => {
    expect(smallestPodNetworkBits()).toBe(22);
    expect(describePodPlan('10.2.0.0/16')).toBe('each node gets a /24 of it (110 pods)');
    expect(describePodPlan('10.2.0.0/21')).toBe('each node gets a /26 of it (30 pods)');
    expect(() => podPlan('10.2.0.0')).toThrow('invalid podCidr 10.2.0.0');
  });
});

describe('IP plan and machines', () => {
  it('names and addresses: group digit and two-digit index', () => {
    expect(hostName('kube-worker', 3)).toBe('kube-worker-03');
    expect(hostName('etcd', 12)).toBe('etcd-12');
    expect(['etcd', 'kube-master', 'kube-worker'].map((g) => hostIp('10.9.8', g as 'etcd', 4))).toEqual(['10.9.8.104', '10.9.8.114', '10.9.8.124']);
  });

  it('existing machines: in role order whatever the list order, private address when given, their own port, index per group', () => {
    const s = defaultSpec();
    s.provider = 'existing';
    s.groups['kube-worker'].count = 2;
    s.machines = [
      { name: 'w-a', address: '203.0.113.5', group: 'kube-worker', port: 2222, privateIp: '10.0.0.21' },
      { name: 'e-a', address: '10.0.0.5', group: 'etcd', port: 22 },
      { name: 'm-a', address: '10.0.0.11', group: 'kube-master', port: 22 },
      { name: 'w-b', address: '10.0.0.22', group: 'kube-worker', port: 22 },
    ];
    expect(plannedHosts(s).map((h) => [h.name, h.group, h.index, h.ip, h.sshAddress, h.sshPort, h.memory])).toEqual([
      ['e-a', 'etcd', 1, '10.0.0.5', '10.0.0.5', 22, 1024],
      ['m-a', 'kube-master', 1, '10.0.0.11', '10.0.0.11', 22, 2048],
      ['w-a', 'kube-worker', 1, '10.0.0.21', '203.0.113.5', 2222, 2048],
      ['w-b', 'kube-worker', 2, '10.0.0.22', '10.0.0.22', 22, 2048],
    ]);
    expect(hostsOf(s, 'kube-worker').map((h) => h.name)).toEqual(['w-a', 'w-b']);
  });

  it('vagrant machines connect to their private address on port 22 with the group size', () => {
    const s = defaultSpec();
    s.groups.etcd = { count: 2, memory: 768, cpus: 2 };
    expect(hostsOf(s, 'etcd')).toEqual([
      { name: 'etcd-01', group: 'etcd', index: 1, ip: '10.0.0.101', sshAddress: '10.0.0.101', sshPort: 22, memory: 768, cpus: 2 },
      { name: 'etcd-02', group: 'etcd', index: 2, ip: '10.0.0.102', sshAddress: '10.0.0.102', sshPort: 22, memory: 768, cpus: 2 },
    ]);
  });

  it('totals add up every machine', () => {
    const s = defaultSpec();
    s.groups['kube-worker'] = { count: 3, memory: 4096, cpus: 2 };
    expect(totals(s)).toEqual({ machines: 5, memory: 1024 + 2048 + 3 * 4096, cpus: 1 + 1 + 6 });
  });

  it('the API service address is the first of the service range; a bad range is an error', () => {
    const s = defaultSpec();
    s.network.serviceCidr = '10.96.0.0/12';
    expect(apiServiceIp(s)).toBe('10.96.0.1');
    s.network.serviceCidr = 'ten';
    expect(() => apiServiceIp(s)).toThrow('invalid serviceCidr ten');
  });
});

describe('versions', () => {
  it('compares x.y.z numerically, ignoring pre-release and build suffixes and missing parts', () => {
    expect(compareVersions('1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.9.9', '1.10.0')).toBeLessThan(0);
    expect(compareVersions('3.6.0-rc.1', '3.6.0')).toBe(0);
    expect(compareVersions('3.6.0+build.7', '3.6.0')).toBe(0);
    expect(compareVersions('2.1', '2.1.0')).toBe(0);
    expect(compareVersions('2.1.1', '2.1')).toBeGreaterThan(0);
    expect(compareVersions('1.2.3', '1.2.4')).toBeLessThan(0);
  });

  it('a range includes its minimum and excludes its upper bound', () => {
    const r = { min: '1.6.0', below: '2.0.0' };
    expect([inRange('1.6.0', r), inRange('1.9.99', r), inRange('2.0.0', r), inRange('1.5.9', r)]).toEqual([true, true, false, false]);
  });

  it('finds the minor of a release', () => {
    expect(minorOf('1.36.4')).toBe('1.36');
    expect(supportFor('1.36.4')?.minor).toBe('1.36');
    expect(supportFor('1.3.6')).toBeUndefined();
  });

  it('etcd outside the range and below the Debian window is an error, with the range and the pin', () => {
    const s = defaultSpec();
    s.versions.etcd = '3.3.0';
    expect(validateSpec(s).errors).toEqual([
      { field: 'versions.etcd', message: 'etcd 3.3.0 does not work with Kubernetes 1.37: use 3.5.24 or newer, below 3.8.0 (kubeadm pins 3.7.0)' },
    ]);
  });

  it('containerd: the hint says which rule applies to the minor', () => {
    const s = defaultSpec();
    s.versions.containerd = '1.7.20';
    expect(validateSpec(s).errors[0]!.message).toBe(
      'containerd 1.7.20 does not work with Kubernetes 1.37: use 2.0.0 or newer, below 3.0.0 (since Kubernetes 1.36 the kubelet needs containerd 2)',
    );
    s.versions.kubernetes = '1.35.3';
    s.versions.etcd = '3.6.6';
    s.versions.coredns = '1.13.1';
    s.versions.containerd = '3.0.0';
    expect(validateSpec(s).errors[0]!.message).toBe(
      'containerd 3.0.0 does not work with Kubernetes 1.35: use 1.7.0 or newer, below 3.0.0 (1.35 is the last Kubernetes minor that supports containerd 1.x)',
    );
  });

  it('flannel and CNI messages name the component and the range, with no hint', () => {
    const s = defaultSpec();
    s.versions.flannel = '0.29.0';
    s.versions.cni = '2.0.1';
    expect(validateSpec(s).errors).toEqual([
      { field: 'versions.flannel', message: 'flannel 0.29.0 does not work with Kubernetes 1.37: use 0.27.0 or newer, below 0.29.0' },
      { field: 'versions.cni', message: 'CNI plugins 2.0.1 does not work with Kubernetes 1.37: use 1.6.0 or newer, below 2.0.0' },
    ]);
  });
});

describe('validation edges', () => {
  const errorsOf = (mutate: (s: ClusterSpec) => void) => {
    const s = defaultSpec();
    mutate(s);
    return validateSpec(s);
  };

  it('memory exactly at the minimum is enough', () => {
    expect(
      errorsOf((s) => {
        s.groups.etcd.memory = 512;
        s.groups['kube-master'].memory = 1536;
        s.groups['kube-worker'].memory = 1024;
      }).errors,
    ).toEqual([]);
  });

  it('two etcd members: a warning with the quorum; one member: none', () => {
    expect(errorsOf((s) => (s.groups.etcd.count = 2)).warnings).toEqual([
      { field: 'groups.etcd.count', message: '2 etcd members tolerate as many failures as 1 (quorum is 2): an odd number is better' },
    ]);
    expect(errorsOf(() => {}).warnings).toEqual([]);
  });

  it('an octet of exactly 255 in the prefix is fine; 256 is not', () => {
    expect(errorsOf((s) => (s.network.prefix = '10.255.0')).errors).toEqual([]);
    expect(errorsOf((s) => (s.network.prefix = '10.256.0')).errors.map((e) => e.field)).toContain('network.prefix');
  });

  it('service ranges: /28 is the smallest allowed, with the hint', () => {
    expect(errorsOf((s) => {
      s.network.serviceCidr = '10.3.0.0/28';
      s.network.dnsIp = '10.3.0.10';
    }).errors).toEqual([]);
    expect(errorsOf((s) => {
      s.network.serviceCidr = '10.3.0.0/29';
      s.network.dnsIp = '10.3.0.5';
    }).errors).toEqual([{ field: 'network.serviceCidr', message: '10.3.0.0/29 is too small for services: use a /28 or larger (e.g. 10.3.0.0/24)' }]);
  });

  it('invalid CIDRs and DNS addresses are named', () => {
    expect(errorsOf((s) => (s.network.serviceCidr = '10.3.0.0/40')).errors).toEqual([
      { field: 'network.serviceCidr', message: '10.3.0.0/40 is not a valid CIDR' },
    ]);
    expect(errorsOf((s) => (s.network.podCidr = '10.2.0.0/40')).errors).toEqual([{ field: 'network.podCidr', message: '10.2.0.0/40 is not a valid CIDR' }]);
    expect(errorsOf((s) => (s.network.dnsIp = '10.3.0.300')).errors).toEqual([{ field: 'network.dnsIp', message: '10.3.0.300 is not a valid IPv4 address' }]);
  });

  it('the service range overlapping the pod range is said once, on the pod range; host bits on the service range are named', () => {
    expect(errorsOf((s) => (s.network.serviceCidr = '10.3.0.5/24')).errors).toContainEqual({
      field: 'network.serviceCidr',
      message: '10.3.0.5/24 has host bits set: did you mean 10.3.0.0/24?',
    });
  });

  it('pods overlapping the host network; the DNS address as the network address of the service range', () => {
    expect(errorsOf((s) => (s.network.podCidr = '10.0.0.0/16')).errors).toEqual([
      { field: 'network.podCidr', message: '10.0.0.0/16 overlaps the host network 10.0.0.0/24 (network.prefix): pick another range' },
    ]);
    expect(errorsOf((s) => (s.network.dnsIp = '10.3.0.0')).errors).toEqual([
      { field: 'network.dnsIp', message: '10.3.0.0 is the network address of 10.3.0.0/24: use another, e.g. 10.3.0.10' },
    ]);
    expect(errorsOf((s) => (s.network.dnsIp = '10.3.0.1')).errors).toEqual([
      { field: 'network.dnsIp', message: "10.3.0.1 is the kubernetes API service's address (the first of 10.3.0.0/24): use another, e.g. 10.3.0.10" },
    ]);
  });

  it('existing machines may share the host network with the service range; names must be unique; counts say "machines"', () => {
    const v = errorsOf((s) => {
      s.provider = 'existing';
      s.network.serviceCidr = '10.0.0.0/16';
      s.network.dnsIp = '10.0.1.10';
      s.network.podCidr = '10.2.0.0/16';
      s.groups['kube-worker'].count = 1;
      s.machines = [
        { name: 'a', address: '10.0.0.5', group: 'etcd', port: 22 },
        { name: 'a', address: '10.0.0.6', group: 'kube-master', port: 22 },
        { name: 'w', address: '10.0.0.7', group: 'kube-master', port: 22 },
      ];
    });
    expect(v.errors).toEqual([
      { field: 'machines.1.name', message: 'a is listed twice: machine names must be unique' },
      { field: 'groups.kube-master.count', message: 'is 1 but machines lists 2 kube-master machines: make them agree' },
      { field: 'groups.kube-worker.count', message: 'is 1 but machines lists 0 kube-worker machines: make them agree' },
    ]);
  });

  it('an unsupported Kubernetes release stops the version checks there', () => {
    const v = errorsOf((s) => {
      s.versions.kubernetes = '1.30.0';
      s.versions.etcd = '1.0.0';
    });
    expect(v.errors.map((e) => e.field)).toEqual(['versions.kubernetes']);
  });
});

describe('kcore.yaml: where each error points', () => {
  const good = renderSpecYaml(defaultSpec());

  it('the first YAML error only, without the parser\'s "at line" suffix', () => {
    const e = parseError(good.replace('name: kcore', 'name: [kcore\nother: {'));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]!.message).toMatch(/^invalid YAML: /);
    expect(e.problems[0]!.message).not.toMatch(/at line \d+/);
    expect(e.problems[0]!.column).toBeGreaterThan(0);
  });

  it('a second document is named as such, at its line', () => {
    const e = parseError(`${good}---\nname: other\n`);
    expect(e.problems).toEqual([
      { field: '', message: 'more than one YAML document (a `---` line starts a second one): keep one cluster spec per file', line: lineOf(`${good}---\n`, '---'), column: 1 },
    ]);
  });

  it('three missing sections: one line that says how to get a whole spec; two: a line each', () => {
    const drop = (text: string, ...sections: string[]) => sections.reduce((t, k) => t.replace(new RegExp(`^${k}:\\n(  .*\\n)+`, 'm'), ''), text);
    expect(parseError(drop(good, 'versions', 'artifacts', 'addons')).problems).toEqual([
      {
        field: '',
        message: '3 sections are missing (versions, artifacts, addons): run `kcore-wizard init --force` in this folder to write a complete spec (with every default), then edit it',
        line: 1,
      },
    ]);
    const two = parseError(drop(good, 'artifacts', 'addons'));
    expect(two.problems.map((p) => [p.field, p.message])).toEqual([
      ['artifacts', 'is missing: object'],
      ['addons', 'is missing: object'],
    ]);
  });

  it('several unknown fields: all named, the first pointed at', () => {
    const text = good.replace('  dnsIp: 10.3.0.10', '  dnsIp: 10.3.0.10\n  dnsIP: x\n  dns: y');
    expect(parseError(text).problems).toEqual([
      { field: 'network.dnsIP', message: 'unknown fields "dnsIP", "dns": check the spelling (the README lists every field)', line: lineOf(text, 'dnsIP'), column: 3 },
    ]);
  });

  it('an unknown top-level field points at its key', () => {
    const text = `${good}extra: 1\n`;
    expect(parseError(text).problems[0]).toMatchObject({ field: 'extra', line: lineOf(text, 'extra:'), column: 1 });
  });

  it('a wrong value inside a list points at the list item field', () => {
    const s = defaultSpec();
    s.provider = 'existing';
    const text = renderSpecYaml(s).replace('machines: []', 'machines:\n  - name: Bad_Name\n    address: 10.0.0.5\n    group: etcd');
    expect(parseError(text).problems[0]).toMatchObject({ field: 'machines.0.name', line: lineOf(text, 'Bad_Name'), column: 11 });
  });

  it('text where a number belongs, numbers where text belongs, lists, mappings, booleans and nulls are described', () => {
    const at = (from: string, to: string) => parseError(good.replace(from, to)).problems[0]!.message;
    expect(at('prefix: 10.0.0', 'prefix: 10')).toBe('expected text, got number 10: YAML reads it as a number; put the value in quotes');
    expect(at('  etcd:\n    count: 1', '  etcd:\n    count: [1]')).toBe('expected number, got a list');
    expect(at('  etcd:\n    count: 1', '  etcd:\n    count: {a: 1}')).toBe('expected number, got a mapping');
    expect(at('  etcd:\n    count: 1', '  etcd:\n    count: true')).toBe('expected number, got boolean true');
    expect(at('  etcd:\n    count: 1', '  etcd:\n    count: null')).toBe('expected number, got null');
    expect(at('  dns: true', '  dns: "yes"')).toBe('expected boolean, got "yes"');
  });

  it('a bad enum value names the choices and the value; a wrong literal too', () => {
    expect(parseError(good.replace('channel: stable', 'channel: lts')).problems[0]!.message).toBe('expected one of "stable"|"beta"|"alpha", got "lts"');
    expect(parseError(good.replace('apiVersion: kcore-wizard/v1', 'apiVersion: v2')).problems[0]!.message).toBe('expected "kcore-wizard/v1", got "v2"');
  });

  it('a 64-character name says how long it may be; other format errors keep their message', () => {
    expect(parseError(good.replace('name: kcore', `name: ${'a'.repeat(64)}`)).problems[0]!.message).toBe(
      'expected a lower-case DNS label (letters, digits, "-"): at most 63 characters, got 64',
    );
    expect(parseError(good.replace('name: kcore', 'name: Kcore')).problems[0]!.message).toBe('expected a lower-case DNS label (letters, digits, "-")');
  });

  it('a rule on a missing parent points at the nearest existing one; warnings carry lines too', () => {
    const text = good.replace(/( {2}etcd:\n {4}count:) 1/, '$1 2');
    const r = parseSpec(text, 'kcore.yaml');
    expect(r.warnings).toEqual([expect.objectContaining({ field: 'groups.etcd.count', line: lineOf(text, 'count: 2'), column: 12 })]);
  });

  it('checkSpec (flags, the wizard): dotted field names without lines; rule errors too; a valid spec passes with its warnings', () => {
    const bad = { ...defaultSpec(), groups: { ...defaultSpec().groups, etcd: { count: 'x', memory: 1024, cpus: 1 } } };
    expect(checkError(bad).problems).toEqual([{ field: 'groups.etcd.count', message: 'expected number, got "x"' }]);
    expect(checkError({ ...defaultSpec(), addons: undefined }).problems).toEqual([{ field: 'addons', message: 'is missing: object' }]);
    const s = defaultSpec();
    s.groups.etcd.count = 0;
    expect(checkError(s).problems).toEqual([{ field: 'groups.etcd.count', message: 'a cluster needs at least 1 etcd machine (got 0)' }]);
    s.groups.etcd.count = 2;
    expect(checkSpec(s, 'flags')).toMatchObject({ file: 'flags', warnings: [{ field: 'groups.etcd.count' }] });
  });

  it('the saved YAML has a header, no empty machines list for vagrant providers, and keeps machines for existing', () => {
    const y = renderSpecYaml(defaultSpec());
    expect(y.split('\n').slice(0, 3)).toEqual([
      '# kcore-wizard cluster spec. Every field is described in the README ("The cluster spec").',
      '# Edit it, then run `kcore-wizard render` (files only) or `kcore-wizard up` (machines and cluster).',
      'apiVersion: kcore-wizard/v1',
    ]);
    expect(y).not.toMatch(/^machines:/m);
    const e = defaultSpec();
    e.provider = 'existing';
    expect(renderSpecYaml(e)).toMatch(/^machines: \[\]$/m);
    const long = defaultSpec();
    long.artifacts.source = `https://mirror.example/${'x'.repeat(120)}`;
    expect(renderSpecYaml(long)).toContain(`  source: https://mirror.example/${'x'.repeat(120)}\n`);
  });
});

describe('error text', () => {
  it('file, line and column when known; the field when there is one', () => {
    expect(formatProblem('k.yaml', { field: 'a.b', message: 'm', line: 3, column: 4 })).toBe('k.yaml:3:4: a.b: m');
    expect(formatProblem('k.yaml', { field: 'a.b', message: 'm', line: 3 })).toBe('k.yaml:3: a.b: m');
    expect(formatProblem('k.yaml', { field: '', message: 'm' })).toBe('k.yaml: m');
    const e = new SpecError('k.yaml', [
      { field: 'a', message: 'one' },
      { field: 'b', message: 'two' },
    ]);
    expect(e.message).toBe('k.yaml: a: one\nk.yaml: b: two');
    expect(e).toBeInstanceOf(UsageError);
    expect([e.name, e.exitCode, new UsageError('x').name]).toEqual(['SpecError', 2, 'UsageError']);
  });
});

describe('defaults per provider', () => {
  it('boxes: Flatcar from its release server for virtualbox, local builds for libvirt and lxc', () => {
    expect(defaultBox('virtualbox')).toEqual({
      name: 'flatcar-stable',
      url: 'https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.box',
      channel: 'stable',
    });
    expect(defaultBox('virtualbox', 'beta').url).toBe('https://beta.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.box');
    expect(defaultBox('libvirt', 'alpha')).toEqual({ name: 'kcore/flatcar-alpha', url: '', channel: 'alpha' });
    expect(defaultBox('lxc')).toEqual({ name: 'kcore/debian-12', url: '', channel: 'stable' });
  });

  it('the login user: vagrant on the Debian lxc box, core on Flatcar', () => {
    expect(['lxc', 'libvirt', 'virtualbox', 'existing'].map((p) => defaultSshUser(p as 'lxc'))).toEqual(['vagrant', 'core', 'core', 'core']);
    expect(defaultSpec({ provider: 'lxc', name: 'x' })).toMatchObject({ name: 'x', provider: 'lxc', ssh: { user: 'vagrant' }, box: { name: 'kcore/debian-12' } });
  });

  it('the default spec is valid and complete', () => {
    const s = defaultSpec();
    expect(validateSpec(s)).toEqual({ errors: [], warnings: [] });
    expect(s).toMatchObject({ apiVersion: 'kcore-wizard/v1', name: 'kcore', provider: 'virtualbox', artifacts: { source: 'official' }, addons: { dns: true, dashboard: false }, kubelet: { allowCgroupV1: false }, machines: [] });
    expect(s.network).toEqual({ prefix: '10.0.0', serviceCidr: '10.3.0.0/24', podCidr: '10.2.0.0/16', dnsIp: '10.3.0.10', domain: 'cluster.local' });
  });
});

describe('kcore.yaml on disk and the less common mistakes', () => {
  const good = renderSpecYaml(defaultSpec());
  const drop = (text: string, ...sections: string[]) =>
    sections.reduce((t, k) => t.replace(new RegExp(`^${k}:( .*)?\\n(  .*\\n)*`, 'm'), ''), text);

  it('saveSpec then loadSpec: the same spec, the file named, changed only the first time', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-spec-m-'));
    const s = defaultSpec({ name: 'disk' });
    expect(await saveSpec(ws, s)).toEqual({ file: path.join(ws, 'kcore.yaml'), changed: true });
    expect(await saveSpec(ws, s)).toEqual({ file: path.join(ws, 'kcore.yaml'), changed: false });
    expect(await loadSpec(ws)).toEqual({ spec: s, file: path.join(ws, 'kcore.yaml'), warnings: [] });
  });

  it('no kcore.yaml: say to run init (with the folder unless it is the current one); a folder in its place is named as such', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-spec-m-'));
    await expect(loadSpec(ws)).rejects.toMatchObject({
      name: 'SpecError',
      problems: [{ field: '', message: `no cluster spec here: run \`kcore-wizard init ${ws}\` first, or pass --dir` }],
    });
    await expect(loadSpec('.')).rejects.toMatchObject({ problems: [{ field: '', message: 'no cluster spec here: run `kcore-wizard init ` first, or pass --dir' }] });
    await mkdir(path.join(ws, 'kcore.yaml'));
    await expect(loadSpec(ws)).rejects.toMatchObject({
      name: 'InputFileError',
      code: 'EISDIR',
      message: `${path.join(ws, 'kcore.yaml')}: is a folder, not a file: the cluster spec (kcore.yaml) must be a regular file`,
    });
  });

  it('a key given twice is a YAML error with its own words', () => {
    expect(parseError(good.replace('name: kcore', 'name: kcore\nname: other')).problems[0]!.message).toBe('invalid YAML: Map keys must be unique');
  });

  it('only whole top-level sections left out count as missing sections', () => {
    // A missing provider (an enum) counts; a wrong value or a missing nested field does not.
    expect(parseError(drop(good, 'provider', 'artifacts', 'addons')).problems).toHaveLength(1);
    expect(parseError(drop(good, 'provider', 'artifacts', 'addons')).problems[0]!.message).toMatch(/^3 sections are missing \(provider, artifacts, addons\)/);
    const wrong = parseError(drop(good, 'artifacts', 'addons').replace('provider: virtualbox', 'provider: 5'));
    expect(wrong.problems.map((p) => p.field)).toEqual(['provider', 'artifacts', 'addons']);
    const nested = parseError(drop(good, 'artifacts', 'addons').replace(/^ {2}dnsIp: .*\n/m, ''));
    expect(nested.problems.map((p) => p.field)).toEqual(['network.dnsIp', 'artifacts', 'addons']);
  });

  it('the quoting hint is only for a number where text belongs', () => {
    const at = (from: string, to: string) => parseError(good.replace(from, to)).problems[0]!.message;
    expect(at('prefix: 10.0.0', 'prefix: true')).toBe('expected text, got boolean true');
    expect(at('  dns: true', '  dns: 1')).toBe('expected boolean, got number 1');
  });

  it('machines given to a vagrant provider are kept in the file, so the refusal can point at them; long values stay on one line', () => {
    const s = defaultSpec();
    s.machines = [{ name: 'a', address: '192.0.2.1', group: 'etcd', port: 22 }];
    expect(renderSpecYaml(s)).toMatch(/^machines:\n {2}- name: a$/m);
    const long = defaultSpec();
    long.artifacts.source = `/srv/a mirror with a long name/${'sub folder/'.repeat(12)}`;
    expect(renderSpecYaml(long)).toContain(`  source: ${long.artifacts.source}\n`);
  });
});
