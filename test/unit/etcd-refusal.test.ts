// How the refusal smoke test reads its probe's result. The outcomes seen on real members (a bad_certificate
// alert, an HTTP answer, a closed port, etcdctl's fallback) are proven in test/integration/etcd-refusal.test.ts;
// here the ones a test host cannot easily produce: a silent port, a listener that does not speak TLS.
// curl's exit codes: curl(1) EXIT CODES (7 couldn't connect, 28 timeout, 35 TLS handshake error).
import { describe, expect, it } from 'vitest';
import { refusalProbe, refusalProblem } from '../../src/roles/etcd/index.js';

const host = { name: 'etcd-01', ip: '10.0.0.101' };

describe('etcd refusal probe', () => {
  it('asks with TLS 1.2 at most, no client certificate, bounded by short timeouts, etcdctl only without curl', () => {
    const p = refusalProbe('10.0.0.101');
    expect(p).toMatch(/^if command -v curl >\/dev\/null 2>&1; then echo curl; curl --tls-max 1\.2 .*--connect-timeout 2 --max-time 4 https:\/\/10\.0\.0\.101:2379\/version; else echo etcdctl; /);
    expect(p.slice(0, p.indexOf('; else'))).not.toMatch(/--cert|--key/);
    expect(p).toContain("timeout 2 bash -c ': </dev/tcp/10.0.0.101/2379'");
  });

  it('a TLS alert is the refusal; an answer is "answered"; anything else says what it was', () => {
    expect(refusalProblem({ exitCode: 35, stdout: 'curl\n000', stderr: 'curl: (35) OpenSSL/3.0.20: error:0A000412:SSL routines::sslv3 alert bad certificate' }, host)).toBeNull();
    expect(refusalProblem({ exitCode: 0, stdout: 'curl\n200', stderr: '' }, host)).toBe('answered');
    expect(refusalProblem({ exitCode: 0, stdout: 'curl\n404', stderr: '' }, host)).toBe('answered');
    expect(refusalProblem({ exitCode: 28, stdout: 'curl\n000', stderr: 'curl: (28) Connection timed out after 2001 milliseconds' }, host)).toBe(
      'etcd on etcd-01 did not answer on 10.0.0.101:2379 within 4 s (curl: (28) Connection timed out after 2001 milliseconds)',
    );
    expect(refusalProblem({ exitCode: 35, stdout: 'curl\n000', stderr: 'curl: (35) error:0A00010B:SSL routines::wrong version number' }, host)).toBe(
      'etcd on etcd-01 did not refuse the handshake with a TLS alert on 10.0.0.101:2379 (curl exit 35): curl: (35) error:0A00010B:SSL routines::wrong version number',
    );
    expect(refusalProblem({ exitCode: 7, stdout: 'curl\n000', stderr: "curl: (7) Failed to connect to 10.0.0.101 port 2379 after 0 ms: Couldn't connect to server" }, host)).toMatch(/^etcd on etcd-01 is down: nothing accepts connections on 10\.0\.0\.101:2379 /);
    expect(refusalProblem({ exitCode: 127, stdout: '', stderr: 'sh: 1: syntax error' }, host)).toBe('the refusal check on etcd-01 did not run: sh: 1: syntax error');
  });
});
