// The health probe's parser and script, on the inputs the first tests left out: separators and lines as a
// transport that trims trailing blanks delivers them, checks killed by `timeout -k`, exit codes that
// disagree with the text, and the one command probeHost sends. Found by `npm run test:mutation`.
import { describe, expect, it } from 'vitest';
import { CHECK_TIMEOUT_S, parseProbe, probeHost, probeScript, unreachableHealth, UNITS, type HostRef } from '../../src/health/probe.js';
import type { HostConnection } from '../../src/ssh/types.js';

const etcd: HostRef = { name: 'etcd-01', group: 'etcd', ip: '10.0.0.101' };
const master: HostRef = { name: 'kube-master-01', group: 'kube-master', ip: '10.0.0.111' };
const worker: HostRef = { name: 'kube-worker-01', group: 'kube-worker', ip: '10.0.0.121' };

type Block = [string, string, string, string];
const block = ([id, load, active, sub]: Block) => `U Id=${id}.service\nU LoadState=${load}\nU ActiveState=${active}\nU SubState=${sub}`;
const running = (names: readonly string[]) => names.map((n) => [n, 'loaded', 'active', 'running'] as Block);
const allUp = (host: HostRef, sep = 'U ') => running(UNITS[host.group]).map(block).join(`\n${sep}\n`) + '\n';

describe('probe script: the tags and timeouts the parser relies on', () => {
  it('prints one line per check, each tagged E, A or N with the exit code', () => {
    const m = probeScript(master).split('\n');
    expect(m).toHaveLength(3);
    expect(m[0]).toMatch(/^systemctl show /);
    expect(m[1]).toContain('echo "A $? ');
    expect(m[1]).toContain('echo "A - kube-apiserver is not running"');
    expect(m[2]).toContain('echo "N $? ');
    const e = probeScript(etcd).split('\n');
    expect(e).toHaveLength(2);
    expect(e[1]).toContain('echo "E $? ');
    expect(probeScript(worker).split('\n')).toHaveLength(2);
  });

  it("each check's own timeout ends before the outer `timeout` kills it, so the check says why it failed", () => {
    const seconds = (s: string, flag: string) => Number(new RegExp(`${flag}=(\\d+)s`).exec(s)?.[1]);
    const e = probeScript(etcd);
    expect(seconds(e, '--dial-timeout') + seconds(e, '--command-timeout')).toBeLessThan(CHECK_TIMEOUT_S);
    const [, readyz, node] = probeScript(master).split('\n');
    expect(seconds(readyz!, '--request-timeout')).toBeLessThan(CHECK_TIMEOUT_S);
    expect(seconds(node!, '--request-timeout')).toBeLessThan(CHECK_TIMEOUT_S);
  });

  it('asks /readyz of the API server it is given instead of its own address', () => {
    expect(probeScript(master, { apiServer: 'https://10.0.0.112:6443' })).toContain('--server=https://10.0.0.112:6443');
  });
});

describe('probe parser: unit blocks', () => {
  it('a separator delivered as a bare "U" (trailing blank trimmed) still separates units', () => {
    const h = parseProbe(worker, allUp(worker, 'U'), 1, 1);
    expect(h.units.map((u) => `${u.name}:${u.active}`)).toEqual(['containerd:active', 'kubelet:active', 'kube-proxy:active', 'flanneld:active']);
    expect(h.verdict).toBe('healthy');
  });

  it('a separator with trailing blanks separates units too', () => {
    const out = block(['etcd', 'not-found', 'inactive', 'dead']) + '\nU  \t\n' + 'U Id=other.service\nU LoadState=loaded\nU ActiveState=failed\n';
    expect(parseProbe(etcd, out, 1, 1).units).toEqual([{ name: 'etcd', load: 'not-found', active: 'inactive', sub: 'dead' }]);
  });

  it('only U lines are unit properties: what a check prints never changes a unit', () => {
    const out = 'U Id=etcd.service\nU LoadState=loaded\nW LoadState=not-found\nU ActiveState=active\nW ActiveState=failed\nU SubState=running\n';
    expect(parseProbe(etcd, out, 1, 1).units).toEqual([{ name: 'etcd', load: 'loaded', active: 'active', sub: 'running' }]);
  });

  it('a property line without "=" is ignored', () => {
    const out = 'U Id=etcd.service\nU LoadState=loaded\nU LoadStateX\nU ActiveState=active\nU SubState=running\n';
    expect(parseProbe(etcd, out, 1, 1).units[0]).toEqual({ name: 'etcd', load: 'loaded', active: 'active', sub: 'running' });
  });

  it('a unit is found by its bare name as well as by name.service', () => {
    const out = 'U Id=etcd\nU LoadState=loaded\nU ActiveState=failed\nU SubState=failed\n';
    expect(parseProbe(etcd, out, 1, 1).problems).toEqual(['etcd is failed']);
  });

  it('a unit systemctl did not answer for, or answered for without states, is unknown with no sub-state', () => {
    expect(parseProbe(master, block(['kube-apiserver', 'loaded', 'active', 'running']) + '\n', 1, 1).units[1]).toEqual({
      name: 'kube-controller-manager',
      load: 'unknown',
      active: 'unknown',
      sub: '',
    });
    expect(parseProbe(etcd, 'U Id=etcd.service\n', 1, 1).units).toEqual([{ name: 'etcd', load: 'unknown', active: 'unknown', sub: '' }]);
  });
});

describe('probe parser: checks', () => {
  const up = allUp(etcd);

  it('a check killed after the timeout (exit 137, -k) is "no answer", like one stopped by it (124)', () => {
    expect(parseProbe(etcd, up + 'E 137 \n', 1, 1).etcd).toEqual({ ok: false, detail: `no answer within ${CHECK_TIMEOUT_S} s` });
    // Trailing blank trimmed by the transport: the same line without its space.
    expect(parseProbe(etcd, up + 'E 124\n', 1, 1).etcd).toEqual({ ok: false, detail: `no answer within ${CHECK_TIMEOUT_S} s` });
  });

  it('the text is trimmed; an empty answer shows the exit code', () => {
    expect(parseProbe(etcd, up + 'E 1   context deadline exceeded  \n', 1, 1).etcd).toEqual({ ok: false, detail: 'context deadline exceeded' });
    const m = parseProbe(master, allUp(master) + 'A 0 \nN 0 True\n', 1, 1);
    expect(m.apiserver).toEqual({ ok: false, detail: 'exit 0' });
    expect(m.problems).toEqual(['API server /readyz: exit 0']);
  });

  it('a check not run says why, and is no pass even without a reason', () => {
    expect(parseProbe(etcd, up + 'E -\n', 1, 1).etcd).toEqual({ ok: false, detail: '' });
  });

  it('a garbled check line is a failed check shown as it came', () => {
    const line = 'A garbled output: N 0 True';
    expect(parseProbe(master, allUp(master) + `${line}\nN 0 True\n`, 1, 1).apiserver).toEqual({ ok: false, detail: line });
  });

  it('etcd is healthy only when etcdctl exits 0 and says "is healthy"', () => {
    expect(parseProbe(etcd, up + 'E 1 https://10.0.0.101:2379 is healthy: successfully committed proposal\n', 1, 1).etcd!.ok).toBe(false);
    expect(parseProbe(etcd, up + 'E 0 https://10.0.0.101:2379 is unhealthy: failed to commit proposal\n', 1, 1).etcd!.ok).toBe(false);
    expect(parseProbe(etcd, up + 'E 0 https://10.0.0.101:2379 is healthy: successfully committed proposal\n', 1, 1).etcd!.ok).toBe(true);
  });

  it('the API server is ready only on exit 0 with "ok"; the node only on exit 0 with "True"', () => {
    const m = allUp(master);
    expect(parseProbe(master, m + 'A 1 ok\nN 0 True\n', 1, 1).apiserver!.ok).toBe(false);
    expect(parseProbe(master, m + 'A 0 ok\nN 1 True\n', 1, 1).node).toEqual({ ok: false, detail: 'True' });
  });

  it('"Ready=" is said only of a node that answered; a missing condition is Ready=unknown', () => {
    const failed = parseProbe(worker, allUp(worker) + 'N 1 Error from server (Forbidden): nodes "kube-worker-01" is forbidden\n', 1, 1);
    expect(failed.problems).toEqual(['node kube-worker-01 not Ready: Error from server (Forbidden): nodes "kube-worker-01" is forbidden']);
    expect(parseProbe(worker, allUp(worker) + 'N 0 \n', 1, 1).node).toEqual({ ok: false, detail: 'Ready=unknown' });
  });

  it('an API server that is down is said once, by its unit, not again by /readyz', () => {
    const units = running(UNITS['kube-master']).map((b) => (b[0] === 'kube-apiserver' ? (['kube-apiserver', 'loaded', 'failed', 'failed'] as Block) : b));
    const h = parseProbe(master, units.map(block).join('\nU \n') + '\nA - kube-apiserver is not running\nN 0 True\n', 1, 1);
    expect(h.problems).toEqual(['kube-apiserver is failed']);
  });
});

describe('unreachable hosts and probeHost', () => {
  it('an unreachable host lists every unit of its group as unknown', () => {
    expect(unreachableHealth(worker, 'connect ECONNREFUSED', 1, 2).units).toEqual(
      UNITS['kube-worker'].map((name) => ({ name, load: 'unknown', active: 'unknown', sub: '' })),
    );
  });

  it('sends the probe script once, with sudo, the signal, the timeout and the API server asked for; times the round trip', async () => {
    const calls: Array<{ cmd: string; opts: unknown }> = [];
    const conn = {
      exec: async (cmd: string, opts: unknown) => {
        calls.push({ cmd, opts });
        return { stdout: allUp(master) + 'A 0 ok\nN 0 True\n', stderr: '', code: 0 };
      },
    } as unknown as HostConnection;
    const signal = new AbortController().signal;
    let t = 1000;
    const h = await probeHost(conn, master, { signal, timeoutMs: 7000, apiServer: 'https://10.0.0.112:6443', now: () => (t += 25) });
    expect(calls).toEqual([{ cmd: probeScript(master, { apiServer: 'https://10.0.0.112:6443' }), opts: { sudo: true, signal, timeoutMs: 7000 } }]);
    expect(h).toMatchObject({ verdict: 'healthy', checkedAt: 1050, durationMs: 50 });
  });
});
