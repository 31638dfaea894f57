import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeHostConnection, FakeTransport, SshError, type HostConnection, type Transport } from '../../src/ssh/index.js';

describe('FakeTransport', () => {
  it('answers by exact string, regex or predicate, in the order the rules were added, and records calls', async () => {
    const t: FakeTransport = new FakeTransport()
      .on('uname -r', { stdout: '6.6.0-flatcar\n' })
      .on(/^systemctl is-active (\S+)/, (cmd) => ({ stdout: cmd.endsWith('kubelet') ? 'active\n' : 'inactive\n', exitCode: cmd.endsWith('kubelet') ? 0 : 3 }))
      .on((_c, o) => o.sudo === true, { stdout: 'as root\n' });
    const transport: Transport = t;
    expect((await transport.exec('uname -r')).stdout).toBe('6.6.0-flatcar\n');
    expect(await transport.exec('systemctl is-active containerd')).toMatchObject({ exitCode: 3, stdout: 'inactive\n' });
    expect((await transport.exec('id -u', { sudo: true })).stdout).toBe('as root\n');
    expect(t.commands()).toEqual(['uname -r', 'systemctl is-active containerd', 'id -u']);
    expect(t.calls[2]!.sudo).toBe(true);
    expect(t.commands(/systemctl/)).toEqual(['systemctl is-active containerd']);
  });

  it('once() rules are used up, unscripted commands fail loudly (or succeed when asked)', async () => {
    const t = new FakeTransport().once('probe', { exitCode: 1 }).on('probe', { exitCode: 0 });
    expect((await t.exec('probe')).exitCode).toBe(1);
    expect((await t.exec('probe')).exitCode).toBe(0);
    await expect(t.exec('rm -rf /')).rejects.toThrow(/no response scripted for command: rm -rf \//);
    expect((await new FakeTransport({ unmatched: 'ok' }).exec('anything')).exitCode).toBe(0);
  });

  it('streams lines, reports signals, throws scripted SshErrors', async () => {
    const t = new FakeTransport()
      .on('stream', { stdout: 'a\nb\nc', stderr: 'warn\n' })
      .on('killed', { signal: 'SIGTERM' })
      .on('down', new SshError({ kind: 'unreachable', host: 'fake', message: 'down' }));
    const out: string[] = [];
    const err: string[] = [];
    await t.exec('stream', { onStdout: (l) => out.push(l), onStderr: (l) => err.push(l) });
    expect(out).toEqual(['a', 'b', 'c']);
    expect(err).toEqual(['warn']);
    expect(await t.exec('killed')).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    await expect(t.exec('down')).rejects.toMatchObject({ kind: 'unreachable' });
  });

  it('redacts secrets like the real transport', async () => {
    const t = new FakeTransport().on(/^echo/, { stdout: 'token is abc123xyz\n' });
    const lines: string[] = [];
    const r = await t.exec('echo abc123xyz', { secrets: ['abc123xyz'], onStdout: (l) => lines.push(l) });
    expect(r.stdout).toBe('token is ***\n');
    expect(lines).toEqual(['token is ***']);
  });

  it('honours timeouts and aborts on slow scripted commands, and refuses work after close', async () => {
    const t = new FakeTransport().on('slow', { delayMs: 5000 });
    await expect(t.exec('slow', { timeoutMs: 20 })).rejects.toMatchObject({ kind: 'timeout' });
    const ctl = new AbortController();
    const p = t.exec('slow', { signal: ctl.signal });
    ctl.abort();
    await expect(p).rejects.toMatchObject({ kind: 'aborted' });
    await t.close();
    await expect(t.exec('slow')).rejects.toMatchObject({ kind: 'aborted' });
  });
});

describe('FakeHostConnection', () => {
  const target = { name: 'n1', host: '10.0.0.1', port: 22, user: 'core' };

  it('uploads to an in-memory file system with the engine’s changed/unchanged rules', async () => {
    const c: HostConnection = new FakeHostConnection(target);
    const f = { path: '/etc/k/a.conf', content: 'x=1\n', mode: 0o644, sudo: true };
    expect((await c.upload(f)).changed).toBe(true);
    expect((await c.upload(f)).changed).toBe(false);
    expect((await c.upload({ ...f, mode: 0o600 })).changed).toBe(true);
    expect((await c.upload({ ...f, mode: 0o600, owner: 'core' })).changed).toBe(true);
    expect((await c.readFile('/etc/k/a.conf'))?.toString()).toBe('x=1\n');
    expect(await c.readFile('/nope')).toBeNull();
    expect(await c.sha256('/etc/k/a.conf')).toBe(createHash('sha256').update('x=1\n').digest('hex'));
  });

  it('refuses sudo when told to', async () => {
    const c = new FakeHostConnection(target, { sudo: false, unmatched: 'ok' });
    expect(await c.sudoOk()).toBe(false);
    await expect(c.exec('true', { sudo: true })).rejects.toMatchObject({ kind: 'sudo' });
    await expect(c.run('false', { sudo: true })).rejects.toMatchObject({ kind: 'sudo' });
  });

  it('run() rejects on non-zero exit', async () => {
    const c = new FakeHostConnection(target).on('false', { exitCode: 1 });
    await expect(c.run('false')).rejects.toMatchObject({ kind: 'command-failed', exitCode: 1 });
  });
});
