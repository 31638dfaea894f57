/**
 * The shell text that hands etcd leadership away before a member restarts, run by /bin/sh with a stand-in
 * etcdctl printing what etcdctl prints (`endpoint status -w fields`: "MemberID"/"Leader" lines, from etcd's
 * etcdctl/ctlv3/command/printer_fields.go; `member list`: "<hex ID>, <status>, <name>, <peer URLs>, <client URLs>,
 * <is learner>", printer_simple.go). The restart itself is proven on real members by the certs renew and CA
 * rotation tests (a client writing every 200 ms sees no failed write).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leaderHandoffScript } from '../../src/roles/etcd/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kcore-handoff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(opts: { me: string; leader: string; members: string; statusFails?: boolean }): string[] {
  const log = path.join(dir, 'calls');
  writeFileSync(log, '');
  const fake = path.join(dir, 'etcdctl');
  writeFileSync(
    fake,
    `#!/bin/sh
for a; do last="$a"; done
case "$*" in
  *"endpoint status -w fields"*) ${opts.statusFails ? 'exit 1' : `printf '"ClusterID" : 1\\n"MemberID" : %s\\n"Revision" : 9\\n"RaftTerm" : 2\\n"Version" : "3.4.23"\\n"DBSize" : 20480\\n"Leader" : %s\\n"RaftIndex" : 12\\n' '${opts.me}' '${opts.leader}'`} ;;
  *"member list"*) printf '%s' '${opts.members}' ;;
  *move-leader*) echo "move-leader $last" >> ${log} ;;
esac
`,
  );
  chmodSync(fake, 0o755);
  const script = leaderHandoffScript({ name: 'etcd-01', ip: '10.0.0.101' }).replaceAll('/opt/bin/etcdctl', fake);
  execFileSync('/bin/sh', ['-c', `( ${script} ) || true`]);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const MEMBERS =
  '8e9e05c52164694d, started, etcd-01, https://10.0.0.101:2380, https://10.0.0.101:2379, false\n' +
  '91bc3c398fb3c146, unstarted, , https://10.0.0.104:2380, , false\n' +
  'fd422379fda50e48, started, etcd-02, https://10.0.0.102:2380, https://10.0.0.102:2379, false\n';

describe('etcd leader handoff before a restart', () => {
  it('the leader hands leadership to the first other started member (its hex ID)', () => {
    expect(run({ me: '10276657743932975437', leader: '10276657743932975437', members: MEMBERS })).toEqual(['move-leader fd422379fda50e48']);
  });
  it('a member that is not the leader restarts without moving anything', () => {
    expect(run({ me: '10276657743932975437', leader: '18249187646912138824', members: MEMBERS })).toEqual([]);
  });
  it('a member that does not answer (a first start) moves nothing and does not fail', () => {
    expect(run({ me: '1', leader: '1', members: MEMBERS, statusFails: true })).toEqual([]);
  });
  it('a single member has no one to hand to', () => {
    expect(run({ me: '1', leader: '1', members: '8e9e05c52164694d, started, etcd-01, https://10.0.0.101:2380, https://10.0.0.101:2379, false\n' })).toEqual([]);
  });
});
