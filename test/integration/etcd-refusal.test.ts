// The smoke test "etcd: a client without a certificate is refused" on a real 3-member TLS etcd cluster
// (systemd-nspawn machines, Debian's etcd in the release layout): it sees the refused TLS handshake at once
// instead of waiting for etcdctl's command timeout, it FAILS when the member serves clients without a
// certificate, and a stopped member is reported as down at once (connection refused), not as "refused".
// etcd requires client certificates when it has a trusted CA file or client-cert-auth on
// (etcd-io/etcd client/pkg/transport/listener.go, TLSInfo.ServerConfig), so turning auth off takes both
// ETCD_CLIENT_CERT_AUTH=false and an empty ETCD_TRUSTED_CA_FILE (etcd-io/etcd server/embed/config.go reads
// both from the environment through its flags: --client-cert-auth, --trusted-ca-file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestHosts } from '../hosts/index.js';
import { ETCD_HOSTS, startEtcdTestCluster } from '../support/etcd-cluster.js';
import { runCli } from '../support/cli.js';
import { refusalProbe, refusalProblem } from '../../src/roles/etcd/index.js';
import { parseEtcdAnswers } from '../../src/roles/etcd/api.js';

const ETCD = ETCD_HOSTS;
const NAME = 'etcd: a client without a certificate is refused';
const OFF = '/etc/systemd/system/etcd.service.d/99-test-no-client-auth.conf';

let hosts: TestHosts;
let ws: string;

beforeAll(async () => {
  ({ hosts, ws } = await startEtcdTestCluster());
  const r = await runCli(['converge', '--limit', 'etcd', '--quiet', '--dir', ws]);
  if (r.code !== 0) console.log(r.stdout, r.stderr);
  expect(r.code).toBe(0);
});

afterAll(async () => {
  await hosts?.teardown();
});

interface TaskEnd {
  type: string;
  host: string;
  task: string;
  status: string;
  message?: string;
  durationMs: number;
}

/** `test --limit etcd --output json`: the refusal test's end event per host, and every task's (`of`). */
async function refusalResults(): Promise<{ code: number; byHost: Map<string, TaskEnd>; of: (task: string) => Map<string, TaskEnd> }> {
  const r = await runCli(['test', '--limit', 'etcd', '--output', 'json', '--dir', ws]);
  const ends = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as TaskEnd)
    .filter((e) => e.type === 'task-end');
  const of = (task: string) => new Map(ends.filter((e) => e.task === task).map((e) => [e.host, e]));
  return { code: r.code, byHost: of(NAME), of };
}

/** The no-certificate call's answer in what the probe printed on a host. */
function noCert(stdout: string) {
  const { tool, answers } = parseEtcdAnswers(stdout);
  return { tool, answer: answers.get('no-cert') };
}

/**
 * The check itself on a host, as the smoke test runs it (one exec, no sudo), with its wall time. A host whose
 * health test failed runs no later smoke test, so a stopped member is looked at through this directly.
 */
async function check(host: string, octet: number): Promise<{ problem: string | null; ms: number; tool: string }> {
  const t0 = performance.now();
  const r = await hosts.exec(host, refusalProbe(`${hosts.prefix}.${octet}`));
  const { tool, answer } = noCert(r.stdout);
  return { problem: refusalProblem(tool, answer, { name: host, ip: `${hosts.prefix}.${octet}` }), ms: performance.now() - t0, tool };
}

async function restart(host: string): Promise<void> {
  const r = await hosts.exec(host, 'systemctl daemon-reload && systemctl restart etcd && systemctl is-active etcd');
  expect(r.stdout.trim()).toBe('active');
}

describe('etcd: a client without a certificate is refused', () => {
  it('passes on every member, each in well under a second (no command timeout waited for)', async () => {
    const { code, byHost } = await refusalResults();
    expect(code).toBe(0);
    for (const h of ETCD) {
      const e = byHost.get(h.name);
      expect(e, h.name).toMatchObject({ status: 'ok' });
      console.log(`${h.name}: refusal check ${e!.durationMs} ms`);
      expect(e!.durationMs).toBeLessThan(1000);
    }
    // What the probe really saw on the host: curl, and Go's TLS alert for the missing certificate.
    const p = noCert((await hosts.exec('etcd-01', refusalProbe(`${hosts.prefix}.101`))).stdout);
    expect(p.tool).toBe('curl');
    expect(p.answer?.exit).toBe(35);
    expect(p.answer?.text).toContain('alert bad certificate');
  });

  it('FAILS with the exact message and hint when the member serves clients without a certificate', async () => {
    await hosts.exec('etcd-02', `printf '[Service]\\nEnvironment=ETCD_CLIENT_CERT_AUTH=false\\nEnvironment=ETCD_TRUSTED_CA_FILE=\\n' > ${OFF}`);
    try {
      await restart('etcd-02');
      // The member really answers a client without a certificate now (HTTP from this machine's view of it).
      const p = noCert((await hosts.exec('etcd-01', refusalProbe(`${hosts.prefix}.102`))).stdout);
      expect(p.answer).toMatchObject({ exit: 0, http: 200 });
      const { code, byHost } = await refusalResults();
      expect(code).toBe(1);
      expect(byHost.get('etcd-02')).toMatchObject({
        status: 'failed',
        message: 'etcd on etcd-02 answered a client without a certificate: client-certificate auth is off\n  → check ETCD_CLIENT_CERT_AUTH=true in the drop-in and restart etcd',
      });
      expect(byHost.get('etcd-01')).toMatchObject({ status: 'ok' });
      expect(byHost.get('etcd-02')!.durationMs).toBeLessThan(1000);
    } finally {
      await hosts.exec('etcd-02', `rm -f ${OFF}`);
      await restart('etcd-02');
    }
  });

  it('a stopped member is reported as down at once (connection refused), not as a refusal and not after a timeout', async () => {
    await hosts.exec('etcd-03', 'systemctl stop etcd');
    try {
      const c = await check('etcd-03', 103);
      expect(c.problem).toMatch(new RegExp(`^etcd on etcd-03 is down: nothing accepts connections on ${hosts.prefix.replace(/\./g, '\\.')}\\.103:2379 \\(`));
      expect(c.ms).toBeLessThan(1000);
      // The whole `test` run fails for etcd-03 (its health test first), and says how to start it.
      const r = await runCli(['test', '--limit', 'etcd', '--dir', ws]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('sudo systemctl start etcd (on etcd-03)');
    } finally {
      await restart('etcd-03');
    }
    expect((await refusalResults()).code).toBe(0);
  });

  it('without curl on the host it falls back to etcdctl: still a pass with auth on, still "down" for a stopped member', async () => {
    await hosts.exec('etcd-01', 'mv /usr/bin/curl /usr/bin/curl.away');
    try {
      const p = await hosts.exec('etcd-01', refusalProbe(`${hosts.prefix}.101`));
      expect(p.stdout.split('\n')[0]).toBe('etcdctl');
      const all = await refusalResults();
      expect(all.byHost.get('etcd-01')).toMatchObject({ status: 'ok' });
      // Every other etcd smoke test asks through etcdctl too, and passes.
      for (const task of ['etcd: member healthy over TLS', 'etcd: member list equals the spec', 'etcd: put/get round trip']) expect(all.of(task).get('etcd-01'), task).toMatchObject({ status: 'ok' });
      await hosts.exec('etcd-01', 'systemctl stop etcd');
      try {
        const c = await check('etcd-01', 101);
        expect(c.tool).toBe('etcdctl');
        expect(c.problem).toMatch(/^etcd on etcd-01 is down: nothing accepts connections on /);
        // The health test says so through etcdctl as it does through curl.
        expect((await refusalResults()).of('etcd: member healthy over TLS').get('etcd-01')).toMatchObject({ status: 'failed', message: expect.stringMatching(/^etcd on etcd-01 is not healthy \(service inactive\): /) });
      } finally {
        await restart('etcd-01');
      }
    } finally {
      await hosts.exec('etcd-01', 'mv /usr/bin/curl.away /usr/bin/curl');
    }
  });
});
