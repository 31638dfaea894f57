// How the refusal smoke test reads its answer (api.ts frames it). The outcomes seen on real members (a
// bad_certificate alert, an HTTP answer, a closed port, etcdctl's fallback) are proven in
// test/integration/etcd-refusal.test.ts; here the ones a test host cannot easily produce: a silent port, a
// listener that does not speak TLS. curl's exit codes: curl(1) EXIT CODES (7 couldn't connect, 28 timeout,
// 35 TLS handshake error).
import { describe, expect, it } from 'vitest';
import { refusalProbe, refusalProblem } from '../../src/roles/etcd/index.js';

const host = { name: 'etcd-01', ip: '10.0.0.101' };
const curl = (exit: number, http: number, text: string) => refusalProblem('curl', { exit, http, text }, host);

describe('etcd refusal probe', () => {
  it('asks with TLS 1.2 at most, no client certificate, bounded by short timeouts, etcdctl only without curl', () => {
    const p = refusalProbe('10.0.0.101');
    expect(p).toMatch(/^if command -v curl >\/dev\/null 2>&1; then echo curl; curl .* --tls-max 1\.2 --connect-timeout 2 --max-time 4 https:\/\/10\.0\.0\.101:2379\/version; else echo etcdctl; /);
    expect(p.slice(0, p.indexOf('; else'))).not.toMatch(/--cert|--key/);
    expect(p).toContain("timeout 2 bash -c ': </dev/tcp/10.0.0.101/2379'");
  });

  it('a TLS alert is the refusal; an answer is "answered"; anything else says what it was', () => {
    expect(curl(35, 0, 'curl: (35) OpenSSL/3.0.20: error:0A000412:SSL routines::sslv3 alert bad certificate')).toBeNull();
    expect(curl(0, 200, '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}')).toBe('answered');
    expect(curl(0, 404, '404 page not found')).toBe('answered');
    expect(curl(28, 0, 'curl: (28) Connection timed out after 2001 milliseconds')).toBe(
      'etcd on etcd-01 did not answer on 10.0.0.101:2379 within 4 s (curl: (28) Connection timed out after 2001 milliseconds)',
    );
    expect(curl(35, 0, 'curl: (35) error:0A00010B:SSL routines::wrong version number')).toBe(
      'etcd on etcd-01 did not refuse the handshake with a TLS alert on 10.0.0.101:2379 (curl exit 35): curl: (35) error:0A00010B:SSL routines::wrong version number',
    );
    expect(curl(7, 0, "curl: (7) Failed to connect to 10.0.0.101 port 2379 after 0 ms: Couldn't connect to server")).toMatch(/^etcd on etcd-01 is down: nothing accepts connections on 10\.0\.0\.101:2379 /);
    expect(refusalProblem('sh: 1: syntax error', undefined, host)).toBe('the refusal check on etcd-01 did not run: no answer: the check stopped before this request');
  });

  it('through etcdctl (no curl): a refused connection is "down", any other failure is the refusal, success is "answered"', () => {
    expect(refusalProblem('etcdctl', { exit: 7, http: null, text: 'connection refused' }, host)).toMatch(/^etcd on etcd-01 is down: nothing accepts connections on 10\.0\.0\.101:2379 \(connection refused\)$/);
    expect(refusalProblem('etcdctl', { exit: 1, http: null, text: 'Error: context deadline exceeded' }, host)).toBeNull();
    expect(refusalProblem('etcdctl', { exit: 0, http: null, text: '' }, host)).toBe('answered');
  });
});
