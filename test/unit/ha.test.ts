// What `plan` says about high availability for the chosen sizes (src/spec/ha.ts): masters and etcd
// quorum answered separately, then together. Quorum is a majority, floor(n/2) + 1 of n
// (https://etcd.io/docs/v3.6/faq/#what-is-failure-tolerance: 1 → 0, 2 → 0, 3 → 1, 4 → 1, 5 → 2).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { haFacts, haSummary } from '../../src/spec/ha.js';
import { defaultSpec, plannedHosts, saveSpec } from '../../src/spec/index.js';
import { runCli } from '../support/cli.js';

function sized(etcd: number, masters: number) {
  const s = defaultSpec({ name: 'demo' });
  s.groups.etcd.count = etcd;
  s.groups['kube-master'].count = masters;
  return s;
}

describe('haFacts', () => {
  it('etcd tolerates n - (floor(n/2) + 1) failures, masters n - 1', () => {
    const etcd = [1, 2, 3, 4, 5, 6, 7, 9].map((n) => [n, haFacts(sized(n, 1)).etcdQuorum, haFacts(sized(n, 1)).etcdTolerated]);
    expect(etcd).toEqual([
      [1, 1, 0],
      [2, 2, 0],
      [3, 2, 1],
      [4, 3, 1],
      [5, 3, 2],
      [6, 4, 2],
      [7, 4, 3],
      [9, 5, 4],
    ]);
    expect([1, 2, 3, 9].map((n) => haFacts(sized(1, n)).mastersTolerated)).toEqual([0, 1, 2, 8]);
  });
});

describe('haSummary', () => {
  it('one master, one etcd member: no failover at all, said for both', () => {
    const l = haSummary(sized(1, 1));
    expect(l).toHaveLength(3);
    expect(l[0]).toMatch(/^API: 1 master, no failover/);
    expect(l[1]).toMatch(/^etcd: 1 member, no failover/);
    expect(l[2]).toBe('Together: no single machine of the control plane may stop.');
  });

  it('two masters, one etcd member: the API survives a master, but etcd is its own matter', () => {
    const l = haSummary(sized(1, 2));
    expect(l[0]).toMatch(/^API: 2 masters, survives losing 1 master: every worker reaches all of them through its local load balancer \(haproxy on 127\.0\.0\.1:6444\)/);
    expect(l[1]).toBe("kubectl: the workspace kubeconfig's context kcore-demo uses kube-master-01; kcore-demo-kube-master-02 uses kube-master-02 (kubectl --context …); the add-ons run from the first master that answers.");
    expect(l[2]).toMatch(/^etcd: 1 member, no failover/);
    expect(l[3]).toMatch(/^Together: etcd is the limit: losing one etcd member stops the API/);
  });

  it('two etcd members: quorum 2, survives none, and three would survive one', () => {
    const l = haSummary(sized(2, 2));
    expect(l).toContain('etcd: 2 members, quorum 2: survives losing none (an even count adds a member that can fail without adding tolerance; 3 would survive one).');
  });

  it('one master, three etcd members: the master is the limit', () => {
    const l = haSummary(sized(3, 1));
    expect(l[1]).toBe('etcd: 3 members, quorum 2: survives losing 1 member.');
    expect(l[2]).toBe('Together: the single master is the limit: losing it stops the API even though etcd survives losing 1 member.');
  });

  it('three masters, five etcd members: both at once', () => {
    const l = haSummary(sized(5, 3));
    expect(l[0]).toMatch(/^API: 3 masters, survives losing 2 masters:/);
    expect(l[1]).toMatch(/kcore-demo-kube-master-02 … one context per other master/);
    expect(l[2]).toBe('etcd: 5 members, quorum 3: survives losing 2 members.');
    expect(l[3]).toBe('Together: the control plane survives losing 2 masters and 2 etcd members at the same time.');
  });
});

describe('kcore-wizard plan', () => {
  it('ends with the high availability section for the workspace sizes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-ha-plan-'));
    try {
      const spec = sized(3, 2);
      await saveSpec(dir, spec);
      // --tags pki: the local PKI role plans; every machine is "up" on a closed local port, so the
      // facts step finds them unreachable at once (exit 1): the section depends on the sizes only.
      await writeFile(path.join(dir, 'ssh.config'), plannedHosts(spec).map((h) => `Host ${h.name}\n  HostName 127.0.0.1\n  Port 1\n  User core\n`).join(''));
      const r = await runCli(['plan', dir, '--tags', 'pki']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/kube-master-02 +unreachable/);
      const section = r.stdout.slice(r.stdout.indexOf('\n== high availability\n'));
      expect(section).toBe(['', '== high availability', ...haSummary(spec).map((l) => `   ${l}`), ''].join('\n'));
      expect(section).toContain('   API: 2 masters, survives losing 1 master');
      expect(section).toContain('   etcd: 3 members, quorum 2: survives losing 1 member.');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
