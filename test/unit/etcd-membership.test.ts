// The pure part of etcd scaling (src/roles/etcd/membership.ts): what a converge changes in the membership, what
// it refuses, and how `etcdctl member list -w json` is read. The real add/remove is proven on 5 systemd
// machines in test/integration/etcd-scale.test.ts.
// Upstream: https://etcd.io/docs/v3.5/op-guide/runtime-configuration/ ("modify members one at a time"; "it is
// unsafe to remove a member from a two member cluster"); member IDs are uint64 (etcdserverpb.Member.ID).
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initialSettings, MEMBERS_FILE, membershipChange, parseMemberList, stopRemovedScript, type MembersRecord, type RecordedMember } from '../../src/roles/etcd/membership.js';
import { defaultSpec } from '../../src/spec/index.js';

const member = (name: string, extra: Partial<RecordedMember> = {}): RecordedMember => ({
  name,
  ip: `10.0.0.${100 + Number(name.slice(-2))}`,
  target: { name, host: `10.0.0.${100 + Number(name.slice(-2))}`, port: 22, user: 'kcore' },
  initialCluster: 'x',
  state: 'new',
  ...extra,
});
const rec = (...names: string[]): MembersRecord => ({ members: names.map((n) => member(n)) });
const started = (...names: string[]) => names.map((name) => ({ name, started: true }));

describe('membershipChange', () => {
  it('a new cluster (no record, nothing answers) changes nothing: the service task bootstraps it', () => {
    expect(membershipChange(['etcd-01', 'etcd-02', 'etcd-03'], rec(), null)).toMatchObject({ joins: [], removes: [] });
  });

  it('adds the spec members that are not started members, removes the members the spec no longer lists', () => {
    const up = membershipChange(['etcd-01', 'etcd-02', 'etcd-03', 'etcd-04', 'etcd-05'], rec('etcd-01', 'etcd-02', 'etcd-03'), started('etcd-01', 'etcd-02', 'etcd-03'));
    expect(up).toMatchObject({ joins: ['etcd-04', 'etcd-05'], removes: [], coordinator: 'etcd-01' });
    expect(up.refusal).toBeUndefined();
    const down = membershipChange(['etcd-01', 'etcd-02', 'etcd-03'], rec('etcd-01', 'etcd-02', 'etcd-03', 'etcd-04', 'etcd-05'), started('etcd-01', 'etcd-02', 'etcd-03', 'etcd-04', 'etcd-05'));
    expect(down).toMatchObject({ joins: [], removes: ['etcd-04', 'etcd-05'], coordinator: 'etcd-01' });
  });

  it('a host that cannot ask yet (no etcdctl) decides from the record', () => {
    expect(membershipChange(['etcd-01', 'etcd-02', 'etcd-03', 'etcd-04'], rec('etcd-01', 'etcd-02', 'etcd-03'), null)).toMatchObject({ joins: ['etcd-04'], removes: [] });
  });

  it('an added member that never started is joined again (no second member add)', () => {
    const c = membershipChange(['etcd-01', 'etcd-02', 'etcd-03', 'etcd-04'], rec('etcd-01', 'etcd-02', 'etcd-03', 'etcd-04'), [...started('etcd-01', 'etcd-02', 'etcd-03'), { name: 'etcd-04', started: false }]);
    expect(c.joins).toEqual(['etcd-04']);
  });

  it('refuses removing more than a minority at once (2 of 3, 3 of 5), and a member of a 2-member cluster', () => {
    const two = membershipChange(['etcd-01'], rec('etcd-01', 'etcd-02', 'etcd-03'), started('etcd-01', 'etcd-02', 'etcd-03'));
    expect(two.refusal?.reason).toBe('removing etcd-02, etcd-03 from the 3 etcd members (etcd-01, etcd-02, etcd-03) at once would keep 1, less than a majority (2): etcd would lose quorum on the way');
    expect(two.refusal?.hint).toBe('remove at most 1 member per converge: keep the others in kcore.yaml, converge, then remove the next');
    const five = membershipChange(['etcd-01', 'etcd-02'], rec('etcd-01', 'etcd-02', 'etcd-03', 'etcd-04', 'etcd-05'), started('etcd-01', 'etcd-02', 'etcd-03', 'etcd-04', 'etcd-05'));
    expect(five.refusal?.hint).toContain('remove at most 2 members per converge');
    const pair = membershipChange(['etcd-01'], rec('etcd-01', 'etcd-02'), started('etcd-01', 'etcd-02'));
    expect(pair.refusal?.hint).toBe('a cluster of 2 cannot lose a member safely: add members first (converge), then remove');
    // One of 3: fine (2 of 3 kept is a majority).
    expect(membershipChange(['etcd-01', 'etcd-02'], rec('etcd-01', 'etcd-02', 'etcd-03'), started('etcd-01', 'etcd-02', 'etcd-03')).refusal).toBeUndefined();
  });

  it('refuses replacing every member at once', () => {
    const c = membershipChange(['etcd-04', 'etcd-05', 'etcd-06'], rec('etcd-01', 'etcd-02', 'etcd-03'), started('etcd-01', 'etcd-02', 'etcd-03'));
    expect(c.refusal?.reason).toContain('would keep 0, less than a majority (2)');
  });

  it('without a record, a cluster that differs from the spec is refused (nothing to keep its drop-ins as they started)', () => {
    const c = membershipChange(['etcd-01', 'etcd-02', 'etcd-03', 'etcd-04'], rec(), started('etcd-01', 'etcd-02', 'etcd-03'));
    expect(c.refusal?.reason).toBe(`the etcd members are etcd-01, etcd-02, etcd-03 but kcore.yaml lists etcd-01, etcd-02, etcd-03, etcd-04, and this workspace has no record of its members (${MEMBERS_FILE})`);
    expect(membershipChange(['etcd-01', 'etcd-02', 'etcd-03'], rec(), started('etcd-01', 'etcd-02', 'etcd-03')).refusal).toBeUndefined();
  });

  it('a member removed but not stopped earlier is stopped on the next converge', () => {
    const r: MembersRecord = { members: [member('etcd-01'), member('etcd-02'), member('etcd-03'), member('etcd-04', { removedAt: '2026-01-01T00:00:00Z' })] };
    expect(membershipChange(['etcd-01', 'etcd-02', 'etcd-03'], r, started('etcd-01', 'etcd-02', 'etcd-03'))).toMatchObject({ pendingStops: ['etcd-04'], removes: [], coordinator: 'etcd-01' });
  });
});

describe('parseMemberList', () => {
  it('keeps uint64 member IDs exact (hex, as member remove takes them) and marks unstarted members', () => {
    const out = `{"header":{"cluster_id":17237436991929493444,"member_id":9372538179322589801,"raft_term":2},"members":[{"ID":9372538179322589801,"name":"etcd-01","peerURLs":["https://10.0.0.101:2380"],"clientURLs":["https://10.0.0.101:2379"]},{"ID":18446744073709551615,"peerURLs":["https://10.0.0.104:2380"]}]}`;
    expect(parseMemberList(out)).toEqual([
      { id: '8211f1d0f64f3269', name: 'etcd-01', peerURLs: ['https://10.0.0.101:2380'], clientURLs: ['https://10.0.0.101:2379'] },
      { id: 'ffffffffffffffff', name: '', peerURLs: ['https://10.0.0.104:2380'], clientURLs: [] },
    ]);
  });
});

describe('initialSettings (the drop-in of a member never changes with the membership)', () => {
  it('new cluster: the spec list, new; recorded member: what it was recorded with; joining: recorded members plus itself, existing', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-members-'));
    const spec = defaultSpec({ name: 't', provider: 'existing' });
    spec.network.prefix = '10.0.0';
    spec.machines = ['etcd-01', 'etcd-02', 'etcd-03'].map((n, i) => ({ name: n, address: `10.0.0.10${i + 1}`, group: 'etcd' as const, port: 22 }));
    spec.groups.etcd.count = 3;
    const fresh = await initialSettings({ spec, workspace: ws }, { name: 'etcd-01', ip: '10.0.0.101' });
    expect(fresh).toEqual({ cluster: 'etcd-01=https://10.0.0.101:2380,etcd-02=https://10.0.0.102:2380,etcd-03=https://10.0.0.103:2380', state: 'new' });
    await mkdir(path.join(ws, '.kcore'));
    await writeFile(path.join(ws, MEMBERS_FILE), JSON.stringify({ members: [member('etcd-01', { initialCluster: 'etcd-01=https://10.0.0.101:2380', state: 'new' })] }));
    expect(await initialSettings({ spec, workspace: ws }, { name: 'etcd-01', ip: '10.0.0.101' })).toEqual({ cluster: 'etcd-01=https://10.0.0.101:2380', state: 'new' });
    expect(await initialSettings({ spec, workspace: ws }, { name: 'etcd-02', ip: '10.0.0.102' })).toEqual({ cluster: 'etcd-01=https://10.0.0.101:2380,etcd-02=https://10.0.0.102:2380', state: 'existing' });
  });
});

describe('stopRemovedScript', () => {
  it('disables and stops etcd and moves the data dir aside, never deletes it', () => {
    const s = stopRemovedScript(new Date('2026-12-02T05:00:00.123Z'));
    expect(s).toContain('systemctl disable --now etcd');
    expect(s).toContain('mv /var/lib/etcd /var/lib/etcd.removed-20261202T050000Z');
    expect(s).not.toMatch(/rm -/);
  });
});
