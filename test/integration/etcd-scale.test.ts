// Scaling etcd by editing kcore.yaml and running converge, on 5 real systemd machines (systemd-nspawn) with
// Debian's etcd under systemd, TLS on client and peer URLs: 3 → 5 → 3 members with a client writing through
// every endpoint every 200 ms the whole time, and the refusals (a removal that would lose quorum, a change while
// a member is down).
//
// Upstream, for every etcdctl/etcd setting used (etcd.io/docs/v3.5 and v3.4 say the same):
// - runtime reconfiguration, https://etcd.io/docs/v3.5/op-guide/runtime-configuration/: add = `etcdctl member add
//   NAME --peer-urls=URL`, then start the new member with ETCD_INITIAL_CLUSTER = the existing members plus itself
//   and ETCD_INITIAL_CLUSTER_STATE=existing; remove = `etcdctl member remove ID` ("the target member will stop itself");
//   "it is recommended to modify members one at a time"; "it is unsafe to remove a member from a two member cluster".
// - https://etcd.io/docs/v3.5/op-guide/runtime-reconf-design/: the new member checks that its initial cluster
//   matches the cluster's configuration (so each join uses the members of that moment).
// - https://etcd.io/docs/v3.5/op-guide/configuration/ (clustering flags): "--initial prefix flags are used in
//   bootstrapping (static bootstrap, discovery-service bootstrap or runtime reconfiguration) a new member, and
//   ignored when restarting an existing member": the existing members are not restarted (their MainPID stays).
// - `etcdctl member list -w json`, `endpoint health -w json`: etcdctl/README.md (member IDs are uint64, read as text).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestHosts } from '../hosts/index.js';
import { etcdHosts, startEtcdTestCluster, startEtcdWriter, expectWritesKept } from '../support/etcd-cluster.js';
import { runCli } from '../support/cli.js';
import { loadSpec, saveSpec } from '../../src/spec/index.js';
import { MEMBERS_FILE, type MembersRecord } from '../../src/roles/etcd/membership.js';

const ALL = etcdHosts(5);
const ips = (names: string[]) => names.map((n) => ALL.find((h) => h.name === n)!.octet);

let hosts: TestHosts;
let ws: string;

const cli = (...args: string[]) => runCli([...args, '--dir', ws]);

beforeAll(async () => {
  ({ hosts, ws } = await startEtcdTestCluster({ machines: 5 }));
  const r = await cli('converge', '--limit', 'etcd', '--quiet');
  if (r.code !== 0) throw new Error(`converge failed:\n${r.stdout}\n${r.stderr}`);
}, 600_000);

afterAll(async () => {
  await hosts?.teardown();
}, 120_000);

/** kcore.yaml's etcd members: groups.etcd.count and the machines list (provider `existing`). */
async function setMembers(names: string[]): Promise<void> {
  const { spec } = await loadSpec(ws);
  const others = spec.machines.filter((m) => m.group !== 'etcd');
  spec.machines = [...names.map((n) => ({ name: n, address: `${hosts.prefix}.${ips([n])[0]}`, group: 'etcd' as const, port: 22 })), ...others];
  spec.groups.etcd = { ...spec.groups.etcd, count: names.length };
  await saveSpec(ws, spec);
}

const endpointsOf = (names: string[]) => ips(names).map((o) => `https://${hosts.prefix}.${o}:2379`);

function etcdctl(endpoints: string[], ...args: string[]): string {
  const pki = path.join(ws, 'pki', 'etcd');
  return execFileSync(
    'etcdctl',
    [`--endpoints=${endpoints.join(',')}`, `--cacert=${pki}/ca.crt`, `--cert=${pki}/kcore-etcd-client.crt`, `--key=${pki}/kcore-etcd-client.key`, '--dial-timeout=3s', '--command-timeout=5s', ...args],
    { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } },
  );
}

/** The member list as name=peerURL, sorted (an unstarted member has no name: it shows as `=URL`). */
function memberList(names: string[]): string[] {
  const j = JSON.parse(etcdctl(endpointsOf(names), 'member', 'list', '-w', 'json').replace(/"ID":(\d+)/g, '"ID":"$1"')) as { members: Array<{ name?: string; peerURLs: string[] }> };
  return j.members.map((m) => `${m.name ?? ''}=${m.peerURLs.join('|')}`).sort();
}
const want = (names: string[]) => names.map((n) => `${n}=https://${hosts.prefix}.${ips([n])[0]}:2380`).sort();

const mainPid = async (name: string) => (await hosts.exec(name, 'systemctl show -p MainPID --value etcd')).stdout.trim();
const record = async () => JSON.parse(await readFile(path.join(ws, MEMBERS_FILE), 'utf8')) as MembersRecord;

describe('etcd scaling on 5 systemd machines: 3 → 5 → 3 members', () => {
  const three = ['etcd-01', 'etcd-02', 'etcd-03'];
  const five = ALL.map((h) => h.name);

  it('the first converge records the 3 members', async () => {
    expect(memberList(three)).toEqual(want(three));
    const rec = await record();
    expect(rec.members.map((m) => `${m.name} ${m.state}`).sort()).toEqual(three.map((n) => `${n} new`));
    expect(rec.members[0]!.target).toMatchObject({ host: expect.stringContaining(hosts.prefix), port: 22 });
  });

  it('plan shows the member adds; converge adds etcd-04 then etcd-05, existing members not restarted, no failed write', async () => {
    await setMembers(five);
    const plan = await cli('plan', '--limit', 'etcd');
    expect(plan.code).toBe(0);
    for (const n of ['etcd-04', 'etcd-05']) expect(plan.stdout).toContain(`etcd member add ${n} (https://${hosts.prefix}.${ips([n])[0]}:2380), start it with initial-cluster-state existing, wait until healthy`);
    expect(memberList(three)).toEqual(want(three)); // plan changed nothing

    const pids = await Promise.all(three.map(mainPid));
    const writer = startEtcdWriter(ws, () => endpointsOf(five), { prefix: 'up' });
    let r;
    try {
      await new Promise((res) => setTimeout(res, 1000));
      r = await cli('converge', '--limit', 'etcd');
      await new Promise((res) => setTimeout(res, 1000));
    } finally {
      await writer.stop();
    }
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    console.log(`3 → 5: ${writer.written.length} writes, ${writer.failures.length} failed`);
    expectWritesKept(writer);
    expect(writer.written.length).toBeGreaterThan(10);
    expect(memberList(five)).toEqual(want(five));
    // No restart of the members that were there (their initial-* settings are ignored once they have data).
    expect(await Promise.all(three.map(mainPid))).toEqual(pids);
    // Each new member started with the members of its moment plus itself, as `existing`.
    const d4 = (await hosts.exec('etcd-04', 'cat /etc/systemd/system/etcd.service.d/10-kcore.conf')).stdout;
    const d5 = (await hosts.exec('etcd-05', 'cat /etc/systemd/system/etcd.service.d/10-kcore.conf')).stdout;
    const added = [d4, d5].map((d) => /ETCD_INITIAL_CLUSTER=(.*)/.exec(d)![1]!.split(',').sort());
    expect(added.map((a) => a.length).sort()).toEqual([4, 5]);
    for (const d of [d4, d5]) expect(d).toContain('ETCD_INITIAL_CLUSTER_STATE=existing');
    const first = (await hosts.exec('etcd-01', 'cat /etc/systemd/system/etcd.service.d/10-kcore.conf')).stdout;
    expect(first).toContain(`ETCD_INITIAL_CLUSTER=${want(three).join(',')}`); // untouched
    expect((await record()).members.map((m) => m.name).sort()).toEqual(five);
  }, 600_000);

  it('a second converge changes nothing (no drop-in rewritten, no restart)', async () => {
    const pids = await Promise.all(five.map(mainPid));
    const r = await cli('converge', '--limit', 'etcd', '--output', 'json');
    expect(r.code).toBe(0);
    const changed = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; status?: string; host?: string; task?: string; changes?: string[] })
      .filter((e) => e.type === 'task-end' && e.status === 'changed');
    expect(changed.map((e) => `${e.host}: ${e.task}: ${e.changes?.join('; ')}`)).toEqual([]);
    expect(await Promise.all(five.map(mainPid))).toEqual(pids);
  }, 300_000);

  it('refuses a removal that would lose quorum (5 → 2 at once), changing nothing', async () => {
    await setMembers(['etcd-01', 'etcd-02']);
    const r = await cli('converge', '--limit', 'etcd');
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(
      'removing etcd-03, etcd-04, etcd-05 from the 5 etcd members (etcd-01, etcd-02, etcd-03, etcd-04, etcd-05) at once would keep 2, less than a majority (3): etcd would lose quorum on the way',
    );
    expect(r.stdout + r.stderr).toContain('remove at most 2 members per converge');
    expect(memberList(five)).toEqual(want(five));
    for (const h of five) expect((await hosts.exec(h, 'systemctl is-active etcd')).stdout.trim()).toBe('active');
  }, 300_000);

  it('refuses a change while a member is down, changing nothing', async () => {
    await setMembers(['etcd-01', 'etcd-02', 'etcd-03', 'etcd-04']);
    await hosts.exec('etcd-02', 'systemctl stop etcd');
    try {
      // etcd-02 outside --limit: converge does not start it again, so the cluster stays unhealthy.
      const r = await cli('converge', '--limit', 'etcd-01,etcd-03,etcd-04');
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/etcd is not healthy \(etcd-02 \(.*\) not healthy\): removing etcd-05 now could lose quorum/);
      expect(r.stdout + r.stderr).toContain('nothing was changed; bring every member back');
      expect(memberList(['etcd-01', 'etcd-03'])).toEqual(want(five));
      expect((await hosts.exec('etcd-05', 'systemctl is-active etcd')).stdout.trim()).toBe('active');
    } finally {
      await hosts.exec('etcd-02', 'systemctl start etcd');
    }
  }, 300_000);

  it('converge removes etcd-04 and etcd-05 (member remove first, then stop), no failed write, data dirs kept aside', async () => {
    await setMembers(three);
    const plan = await cli('plan', '--limit', 'etcd');
    expect(plan.code).toBe(0);
    for (const n of ['etcd-04', 'etcd-05']) expect(plan.stdout).toContain(`etcd member remove ${n}, then stop etcd on ${n}: disable it, move /var/lib/etcd aside (kept)`);
    const pids = await Promise.all(three.map(mainPid));
    const writer = startEtcdWriter(ws, () => endpointsOf(five), { prefix: 'down' });
    let r;
    try {
      await new Promise((res) => setTimeout(res, 1000));
      r = await cli('converge', '--limit', 'etcd');
      await new Promise((res) => setTimeout(res, 1000));
    } finally {
      await writer.stop();
    }
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    console.log(`5 → 3: ${writer.written.length} writes, ${writer.failures.length} failed`);
    expectWritesKept(writer);
    expect(writer.written.length).toBeGreaterThan(5);
    expect(memberList(three)).toEqual(want(three));
    expect(await Promise.all(three.map(mainPid))).toEqual(pids);
    for (const n of ['etcd-04', 'etcd-05']) {
      const s = await hosts.exec(n, 'systemctl is-active etcd; systemctl is-enabled etcd; test -e /var/lib/etcd && echo data-dir-left; ls -d /var/lib/etcd.removed-*/member');
      expect(s.stdout).toMatch(/^(inactive|failed)\ndisabled\n\/var\/lib\/etcd\.removed-\d{8}T\d{6}Z\/member\n$/);
    }
    expect((await record()).members.map((m) => m.name).sort()).toEqual(three);
    // member remove first (on etcd-01, through etcdctl), then the stop on the removed machine: the command logs say when.
    const log = (h: string) => readFile(path.join(ws, '.kcore', 'logs', `${h}.log`), 'utf8');
    const first = await log('etcd-01');
    for (const n of ['etcd-04', 'etcd-05']) {
      const own = await log(n);
      const removedAt = [...first.matchAll(/^(\S+) .*member remove [0-9a-f]+$/gm)].map((m) => m[1]!);
      const stoppedAt = /^(\S+) .*systemctl disable --now etcd/m.exec(own)?.[1];
      expect(stoppedAt, n).toBeDefined();
      expect(removedAt.filter((t) => t < stoppedAt!).length, `${n}: a member remove logged before its stop`).toBeGreaterThan(0);
    }
    const t = await cli('test', '--limit', 'etcd');
    expect(t.code).toBe(0);
  }, 600_000);
  it('a removed member that cannot be reached: the removal stands, converge says so at once, the next converge stops it', async () => {
    // etcd-04 back in (its earlier data dir stays aside), then out again with its sshd stopped.
    await setMembers([...three, 'etcd-04']);
    const back = await cli('converge', '--limit', 'etcd');
    if (back.code !== 0) console.log(back.stdout, back.stderr);
    expect(back.code).toBe(0);
    expect(memberList(three)).toEqual(want([...three, 'etcd-04']));
    await setMembers(three);
    await hosts.exec('etcd-04', 'systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh; true');
    try {
      const t0 = Date.now();
      const r = await cli('converge', '--limit', 'etcd');
      const ms = Date.now() - t0;
      console.log(`converge with etcd-04 unreachable: ${ms} ms`);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toContain('etcd-04 was removed from the etcd cluster (the cluster no longer counts it), but etcd on it could not be stopped');
      expect(r.stdout).toContain(`the next converge tries again (it is kept in ${MEMBERS_FILE} until then)`);
      expect(ms).toBeLessThan(60_000);
      expect(memberList(three)).toEqual(want(three));
      expect((await record()).members.find((m) => m.name === 'etcd-04')?.removedAt).toBeDefined();
      const plan = await cli('plan', '--limit', 'etcd');
      expect(plan.stdout).toContain('stop etcd on etcd-04 (removed from the cluster earlier, not stopped then): disable it, move /var/lib/etcd aside');
    } finally {
      await hosts.exec('etcd-04', 'systemctl start ssh.socket 2>/dev/null; systemctl start ssh; true');
    }
    const again = await cli('converge', '--limit', 'etcd');
    if (again.code !== 0) console.log(again.stdout, again.stderr);
    expect(again.code).toBe(0);
    const s = await hosts.exec('etcd-04', 'systemctl is-enabled etcd; ls -d /var/lib/etcd.removed-*/member | wc -l');
    expect(s.stdout).toBe('disabled\n2\n');
    expect((await record()).members.map((m) => m.name).sort()).toEqual(three);
  }, 600_000);
});
