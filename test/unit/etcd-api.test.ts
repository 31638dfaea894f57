// The etcd checks' one command (src/roles/etcd/api.ts): what it asks and how its answers are read. The outputs
// below were printed by the generated script on a member of a 3-member TLS cluster of Debian's etcd 3.4.23 (curl
// 7.88, then with curl moved away); the same script against real members, with and without curl, healthy and
// stopped, is in test/integration/etcd-refusal.test.ts and etcd.test.ts. The gateway's routes and bodies:
// https://etcd.io/docs/v3.5/dev-guide/api_grpc_gateway/ (POST /v3/kv/range|put|deleterange, keys and values
// base64); /v3/cluster/member/list: api/etcdserverpb/rpc.proto, service Cluster, MemberList.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { callProblem, etcdApiScript, parseEtcdAnswers, rangeValue, responseJson, type EtcdCall } from '../../src/roles/etcd/api.js';
import { parseMemberList } from '../../src/roles/etcd/membership.js';
import { healthProblem } from '../../src/roles/etcd/index.js';

const KEY = '/kcore-wizard/smoke/etcd-01';
const CALLS: EtcdCall[] = [
  { id: 'no-cert', op: 'no-cert' },
  { id: 'health', op: 'range', key: 'health' },
  { id: 'members', op: 'members' },
  { id: 'put', op: 'put', key: KEY, value: "v1 it's" },
  { id: 'get', op: 'range', key: KEY },
  { id: 'del', op: 'delete', key: KEY },
];

const CURL_OK = `curl
curl: (35) OpenSSL/3.0.20: error:0A000412:SSL routines::sslv3 alert bad certificate

@@kcore-etcd no-cert 35 000
{"header":{"cluster_id":"15856511496286111372","member_id":"4050741024000071082","revision":"89","raft_term":"2"}}
@@kcore-etcd health 0 200
{"header":{"cluster_id":"15856511496286111372","member_id":"4050741024000071082","raft_term":"2"},"members":[{"ID":"4050741024000071082","name":"etcd-01","peerURLs":["https://10.213.35.101:2380"],"clientURLs":["https://10.213.35.101:2379"]},{"ID":"16478146005488916629","name":"etcd-02","peerURLs":["https://10.213.35.102:2380"],"clientURLs":["https://10.213.35.102:2379"]}]}
@@kcore-etcd members 0 200
{"header":{"cluster_id":"15856511496286111372","member_id":"4050741024000071082","revision":"90","raft_term":"2"}}
@@kcore-etcd put 0 200
{"header":{"cluster_id":"15856511496286111372","member_id":"4050741024000071082","revision":"90","raft_term":"2"},"kvs":[{"key":"L2tjb3JlLXdpemFyZC9zbW9rZS9ldGNkLTAx","create_revision":"90","mod_revision":"90","version":"1","value":"djE="}],"count":"1"}
@@kcore-etcd get 0 200
{"header":{"cluster_id":"15856511496286111372","member_id":"4050741024000071082","revision":"91","raft_term":"2"},"deleted":"1"}
@@kcore-etcd del 0 200
`;

const ETCDCTL_OK = `etcdctl
{"level":"warn","ts":"2026-12-03T12:59:07.294Z","caller":"clientv3/retry_interceptor.go:62","msg":"retrying of unary invoker failed","attempt":0,"error":"rpc error: code = DeadlineExceeded desc = latest balancer error: all SubConns are in TransientFailure"}
Error: context deadline exceeded
@@kcore-etcd no-cert 1 -
{"header":{"cluster_id":15856511496286111372,"member_id":4050741024000071082,"revision":91,"raft_term":2}}
@@kcore-etcd health 0 -
{"header":{"cluster_id":15856511496286111372,"member_id":4050741024000071082,"raft_term":2},"members":[{"ID":4050741024000071082,"name":"etcd-01","peerURLs":["https://10.213.35.101:2380"],"clientURLs":["https://10.213.35.101:2379"]},{"ID":16478146005488916629,"name":"etcd-02","peerURLs":["https://10.213.35.102:2380"],"clientURLs":["https://10.213.35.102:2379"]}]}
@@kcore-etcd members 0 -
{"level":"warn","ts":"2026-12-03T12:59:09.000Z","msg":"a client log line before the response"}
{"header":{"cluster_id":15856511496286111372,"member_id":4050741024000071082,"revision":92,"raft_term":2},"kvs":[{"key":"L2tjb3JlLXdpemFyZC9zbW9rZS9ldGNkLTAx","create_revision":92,"mod_revision":92,"version":1,"value":"djE="}],"count":1}
@@kcore-etcd get 0 -
`;

const CURL_DOWN = `curl
${['no-cert', 'health', 'members', 'put', 'get', 'del'].map((id) => `curl: (7) Failed to connect to 10.213.35.101 port 2379 after 0 ms: Couldn't connect to server\n\n@@kcore-etcd ${id} 7 000`).join('\n')}
kcore-etcd-service-state=inactive
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs the script with a stand-in curl on PATH that prints each argument it got on a line of its own. */
function argvOfCurl(script: string): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'kcore-fake-curl-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'curl'), '#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done\n');
  chmodSync(path.join(dir, 'curl'), 0o755);
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').slice(1, -1);
}

describe('etcd API script', () => {
  it('asks every call in one curl process, in order, each request framed by its id, the no-certificate one without a certificate', () => {
    const argv = argvOfCurl(etcdApiScript('10.0.0.101', CALLS));
    const requests: string[][] = [[]];
    for (const a of argv) {
      if (a === '--next') requests.push([]);
      else requests.at(-1)!.push(a);
    }
    expect(requests).toHaveLength(CALLS.length);
    expect(requests.map((r) => r.at(-1))).toEqual([
      'https://10.0.0.101:2379/version',
      'https://10.0.0.101:2379/v3/kv/range',
      'https://10.0.0.101:2379/v3/cluster/member/list',
      'https://10.0.0.101:2379/v3/kv/put',
      'https://10.0.0.101:2379/v3/kv/range',
      'https://10.0.0.101:2379/v3/kv/deleterange',
    ]);
    for (const [i, r] of requests.entries()) {
      expect(r).toContain(`\\n@@kcore-etcd ${CALLS[i]!.id} %{exitcode} %{http_code}\\n`);
      expect(r.slice(r.indexOf('--stderr'), r.indexOf('--stderr') + 2)).toEqual(['--stderr', '-']);
      expect(r.slice(r.indexOf('--cacert'), r.indexOf('--cacert') + 2)).toEqual(['--cacert', '/etc/etcd/pki/ca.crt']);
      if (i === 0) {
        expect(r).not.toContain('--cert');
        expect(r).not.toContain('--key');
        expect(r.slice(r.indexOf('--tls-max'), r.indexOf('--tls-max') + 2)).toEqual(['--tls-max', '1.2']);
      } else {
        expect(r.slice(r.indexOf('--cert'), r.indexOf('--cert') + 4)).toEqual(['--cert', '/etc/etcd/pki/kcore-client.crt', '--key', '/etc/etcd/pki/kcore-client.key']);
      }
    }
    // The bodies arrive as JSON (shell quoting intact), keys and values base64.
    const body = (i: number) => JSON.parse(requests[i]![requests[i]!.indexOf('-d') + 1]!) as Record<string, string>;
    const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
    expect(unb64(body(1).key)).toBe('health');
    expect(body(2)).toEqual({});
    expect([unb64(body(3).key), unb64(body(3).value)]).toEqual([KEY, "v1 it's"]);
    expect(unb64(body(4).key)).toBe(KEY);
    expect(unb64(body(5).key)).toBe(KEY);
  });

  it('without curl, each call is one etcdctl run with -w json, framed the same way', () => {
    const s = etcdApiScript('10.0.0.101', CALLS);
    const ctl = s.slice(s.indexOf('else echo etcdctl;'));
    expect(ctl.match(/\/opt\/bin\/etcdctl /g)).toHaveLength(CALLS.length);
    for (const c of CALLS) expect(ctl).toContain(`@@kcore-etcd ${c.id} %s -`);
    expect(ctl).toContain(`put ${KEY} 'v1 it'\\''s' -w json`);
    expect(ctl).toContain('member list -w json');
    expect(ctl).toContain(`del ${KEY} -w json`);
  });

  it('asks systemd for the service state only when the named call failed', () => {
    const s = etcdApiScript('10.0.0.101', CALLS, { stateUnlessOk: 'health' });
    const at = s.indexOf(`; printf '%s\\n' "$kc_a"`);
    expect(at).toBeGreaterThan(0);
    const rest = s.slice(at);
    const run = (answer: string) => spawnSync('sh', ['-c', `kc_a='${answer}'${rest}`], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }).stdout;
    expect(run('curl\n@@kcore-etcd health 0 200')).not.toContain('kcore-etcd-service-state=');
    expect(run('etcdctl\n@@kcore-etcd health 0 -')).not.toContain('kcore-etcd-service-state=');
    expect(run('curl\n@@kcore-etcd health 7 000')).toContain('kcore-etcd-service-state=');
    expect(run('curl\n@@kcore-etcd health 0 503')).toContain('kcore-etcd-service-state=');
  });
});

describe('etcd API answers', () => {
  it('reads curl\'s answers call by call: bodies, exit codes, HTTP status', () => {
    const { tool, answers, state } = parseEtcdAnswers(CURL_OK);
    expect(tool).toBe('curl');
    expect(state).toBeUndefined();
    expect([...answers.keys()]).toEqual(['no-cert', 'health', 'members', 'put', 'get', 'del']);
    expect(answers.get('no-cert')).toEqual({ exit: 35, http: 0, text: 'curl: (35) OpenSSL/3.0.20: error:0A000412:SSL routines::sslv3 alert bad certificate' });
    for (const id of ['health', 'members', 'put', 'get', 'del']) expect(callProblem(answers.get(id)), id).toBeNull();
    expect(rangeValue(answers.get('get')!)).toBe('v1');
    expect(rangeValue(answers.get('health')!)).toBeNull();
    expect(parseMemberList(responseJson(answers.get('members')!)).map((m) => [m.id, m.name, m.peerURLs])).toEqual([
      [BigInt('4050741024000071082').toString(16), 'etcd-01', ['https://10.213.35.101:2380']],
      [BigInt('16478146005488916629').toString(16), 'etcd-02', ['https://10.213.35.102:2380']],
    ]);
  });

  it('reads etcdctl\'s the same way, its client\'s log lines kept out of the response; a call that never ended is missing', () => {
    const { tool, answers } = parseEtcdAnswers(ETCDCTL_OK);
    expect(tool).toBe('etcdctl');
    expect(answers.get('no-cert')).toMatchObject({ exit: 1, http: null });
    expect(callProblem(answers.get('no-cert'))).toBe('Error: context deadline exceeded');
    expect(callProblem(answers.get('health'))).toBeNull();
    expect(rangeValue(answers.get('get')!)).toBe('v1');
    expect(parseMemberList(responseJson(answers.get('members')!)).map((m) => m.id)).toEqual([BigInt('4050741024000071082').toString(16), BigInt('16478146005488916629').toString(16)]);
    expect(answers.has('put')).toBe(false);
    expect(callProblem(answers.get('put'))).toBe('no answer: the check stopped before this request');
  });

  it('a failed call says why in one line: curl\'s error, etcd\'s own message, or the status', () => {
    expect(callProblem({ exit: 7, http: 0, text: "curl: (7) Failed to connect to 10.0.0.101 port 2379 after 0 ms: Couldn't connect to server\n" })).toBe("curl: (7) Failed to connect to 10.0.0.101 port 2379 after 0 ms: Couldn't connect to server");
    expect(callProblem({ exit: 0, http: 503, text: '{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}' })).toBe('HTTP 503: etcdserver: no leader');
    expect(callProblem({ exit: 0, http: 404, text: '404 page not found' })).toBe('HTTP 404: 404 page not found');
    expect(callProblem({ exit: 0, http: 500, text: '' })).toBe('HTTP 500: (no body)');
    expect(callProblem({ exit: 2, http: null, text: '' })).toBe('exit 2');
  });

  it('health: the member is healthy when the read was answered; otherwise the service state and why', () => {
    expect(healthProblem('etcd-01', CURL_OK)).toBeNull();
    expect(healthProblem('etcd-01', ETCDCTL_OK)).toBeNull();
    expect(healthProblem('etcd-01', CURL_DOWN)).toBe("etcd on etcd-01 is not healthy (service inactive): curl: (7) Failed to connect to 10.213.35.101 port 2379 after 0 ms: Couldn't connect to server");
    expect(healthProblem('etcd-01', 'curl\n{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}\n@@kcore-etcd health 0 503\nkcore-etcd-service-state=active\n')).toBe(
      'etcd on etcd-01 is not healthy (service active): HTTP 503: etcdserver: request timed out',
    );
    expect(healthProblem('etcd-01', 'curl\n')).toBe('etcd on etcd-01 is not healthy (service unknown): no answer: the check stopped before this request');
  });
});
