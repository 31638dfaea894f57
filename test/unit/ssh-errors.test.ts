import { describe, expect, it } from 'vitest';
import { SshError, classifyError, type HostTarget } from '../../src/ssh/index.js';

const target: HostTarget = { name: 'cp1', host: '10.0.0.2', port: 22, user: 'core', identityFile: '/w/.vagrant/machines/cp1/key' };
const sysErr = (code: string, message = code): Error => Object.assign(new Error(message), { code });
const sshErr = (level: string, message: string): Error => Object.assign(new Error(message), { level });

describe('classifyError', () => {
  it('connection refused: unreachable, retryable, says what to check', () => {
    const e = classifyError(sysErr('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.2:22'), { target, phase: 'connect' });
    expect(e).toBeInstanceOf(SshError);
    expect(e).toMatchObject({ kind: 'unreachable', host: 'cp1', retryable: true });
    expect(e.hint).toContain('vagrant status');
    expect(e.hint).toContain('10.0.0.2:22');
  });

  it('no route to host / network unreachable: unreachable, retryable', () => {
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH']) {
      const e = classifyError(sysErr(code), { target, phase: 'connect' });
      expect(e).toMatchObject({ kind: 'unreachable', retryable: true });
      expect(e.message).toContain('10.0.0.2:22');
    }
  });

  it('unknown host name is unreachable but not retried', () => {
    expect(classifyError(sysErr('ENOTFOUND'), { target, phase: 'connect' })).toMatchObject({ kind: 'unreachable', retryable: false });
  });

  it('handshake timeout and ETIMEDOUT: timeout, retryable while connecting', () => {
    expect(classifyError(sshErr('client-timeout', 'Timed out while waiting for handshake'), { target, phase: 'connect' })).toMatchObject({
      kind: 'timeout',
      retryable: true,
    });
    expect(classifyError(sysErr('ETIMEDOUT'), { target, phase: 'connect' })).toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('connection reset: retryable while connecting only', () => {
    expect(classifyError(sysErr('ECONNRESET'), { target, phase: 'connect' })).toMatchObject({ kind: 'unreachable', retryable: true });
    expect(classifyError(sysErr('ECONNRESET'), { target, phase: 'exec' }).retryable).toBe(false);
  });

  it('authentication failure: never retryable, names user, host and the identity file tried', () => {
    const e = classifyError(sshErr('client-authentication', 'All configured authentication methods failed'), {
      target,
      phase: 'connect',
      authTried: ['identity file /w/.vagrant/machines/cp1/key'],
    });
    expect(e).toMatchObject({ kind: 'auth', retryable: false });
    expect(e.message).toContain('core@10.0.0.2:22');
    expect(e.message).toContain('/w/.vagrant/machines/cp1/key');
    expect(e.hint).toContain('authorized_keys');
  });

  it('an encrypted key is an auth problem with an ssh-agent hint', () => {
    const e = classifyError(new Error('Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given'), { target, phase: 'connect' });
    expect(e).toMatchObject({ kind: 'auth', retryable: false });
    expect(e.hint).toContain('ssh-agent');
  });

  it('anything else is a protocol error; SshErrors pass through unchanged', () => {
    const e = classifyError(new Error('bad packet length'), { target, phase: 'exec' });
    expect(e).toMatchObject({ kind: 'protocol', retryable: false });
    const orig = new SshError({ kind: 'host-key', host: 'x', message: 'm' });
    expect(classifyError(orig, { target, phase: 'connect' })).toBe(orig);
  });

  it('describe() joins message and hint', () => {
    const e = new SshError({ kind: 'sudo', host: 'h', message: 'no sudo', hint: 'add NOPASSWD' });
    expect(e.describe()).toBe('no sudo\nadd NOPASSWD');
    expect(e.name).toBe('SshError');
  });
});
