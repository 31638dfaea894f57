// The ssh2 transport against an in-process SSH server (ssh2's Server on 127.0.0.1) that runs commands with
// the local /bin/sh: exit codes, signals, streaming, stdin, host keys, auth errors, channel cap, reconnects,
// timeouts that kill the whole process tree, and a channel that closes without an exit status.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, utils, type Connection, type ServerChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POOL_DEFAULTS, SMALL_UPLOAD_BYTES, SshPool, fingerprint, type HostKeyEvent, type HostTarget, type PoolOptions } from '../../src/ssh/index.js';
import { sshKeyPair } from '../support/ssh-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'kcore-ssh-unit-'));

interface TestServer {
  port: number;
  hostKeyBlob: Buffer;
  maxSessions: number;
  connections: number;
  commands: string[];
  /** Every authentication request, by method ("none", "publickey" …), in order. */
  authMethods: string[];
  /** The environment the server runs commands with (this process's by default). */
  env?: NodeJS.ProcessEnv;
  drop(): void;
  close(): Promise<void>;
}

function keyPair(): { privateKey: string; publicKey: string; blob: Buffer } {
  const kp = sshKeyPair();
  return { privateKey: kp.private, publicKey: kp.public, blob: Buffer.from(kp.public.split(' ')[1]!, 'base64') };
}

const clientKey = keyPair();
const clientKeyFile = join(dir, 'id_ed25519');
writeFileSync(clientKeyFile, clientKey.privateKey, { mode: 0o600 });
const otherKey = keyPair();
const otherKeyFile = join(dir, 'other_key');
writeFileSync(otherKeyFile, otherKey.privateKey, { mode: 0o600 });

function runSession(ch: ServerChannel, command: string, srv: TestServer, onEnd: () => void): void {
  if (command.includes('__NO_EXIT_STATUS__')) {
    ch.write('partial output\n');
    ch.end();
    ch.close();
    onEnd();
    return;
  }
  const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], env: srv.env ?? process.env });
  child.stdout.pipe(ch, { end: false });
  child.stderr.pipe(ch.stderr, { end: false });
  ch.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let outs = 0;
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  const done = (): void => {
    if (outs < 2 || !exit) return;
    const [code, sig] = exit;
    if (sig) ch.exit(sig.replace(/^SIG/, ''), false, '');
    else ch.exit(code ?? 0);
    ch.end();
    onEnd();
  };
  child.stdout.on('end', () => {
    outs++;
    done();
  });
  child.stderr.on('end', () => {
    outs++;
    done();
  });
  child.on('exit', (code, sig) => {
    exit = [code, sig];
    done();
  });
  ch.on('close', () => {
    if (!exit) child.kill('SIGKILL');
  });
  void srv;
}

async function startServer(hostKey = keyPair(), env?: NodeJS.ProcessEnv): Promise<TestServer> {
  const allowed = utils.parseKey(clientKey.publicKey);
  if (allowed instanceof Error) throw allowed;
  const clients = new Set<Connection>();
  let active = 0;
  const srv: TestServer = {
    port: 0,
    hostKeyBlob: hostKey.blob,
    maxSessions: 0,
    connections: 0,
    commands: [],
    authMethods: [],
    env,
    drop: () => {
      for (const c of clients) c.end();
    },
    close: () =>
      new Promise((resolve) => {
        srv.drop();
        server.close(() => resolve());
      }),
  };
  const server = new Server({ hostKeys: [hostKey.privateKey] }, (client) => {
    clients.add(client);
    srv.connections++;
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      srv.authMethods.push(ctx.method);
      if (ctx.method === 'publickey' && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())) {
        if (!ctx.signature) return ctx.accept();
        const ok = allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo);
        return ok === true ? ctx.accept() : ctx.reject();
      }
      ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          const ch = acc();
          srv.commands.push(info.command);
          active++;
          srv.maxSessions = Math.max(srv.maxSessions, active);
          runSession(ch, info.command, srv, () => active--);
        });
      });
      client.on('tcpip', (accept, _reject, info) => {
        const ch = accept();
        const sock = net.connect(info.destPort, info.destIP);
        sock.on('error', () => ch.close());
        ch.pipe(sock).pipe(ch);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  srv.port = (server.address() as net.AddressInfo).port;
  return srv;
}

function markerProcesses(text: string): number[] {
  // Local processes whose command line contains `text` (the server runs commands right here).
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

let srv: TestServer;
let target: HostTarget;
const events: HostKeyEvent[] = [];
const logs: Array<{ host: string; command: string; exitCode: number | null }> = [];
let khPath: string;
let pool: SshPool;

function newPool(extra: Partial<PoolOptions> = {}): SshPool {
  return new SshPool({
    knownHostsPath: khPath,
    retries: 0,
    connectTimeoutMs: 5000,
    onHostKey: (e) => events.push(e),
    onCommand: (host, e) => logs.push({ host, command: e.command, exitCode: e.exitCode }),
    ...extra,
  });
}

beforeAll(async () => {
  srv = await startServer();
  target = { name: 'node1', host: '127.0.0.1', port: srv.port, user: 'kcore', identityFile: clientKeyFile };
  khPath = join(dir, 'known_hosts');
  pool = newPool();
});

afterAll(async () => {
  await pool?.closeAll();
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('host keys', () => {
  it('records the key on first contact, then verifies it', async () => {
    const c = await pool.connection(target);
    expect(events).toEqual([{ host: 'node1', kind: 'recorded', fingerprint: fingerprint(srv.hostKeyBlob), keyType: 'ssh-ed25519' }]);
    expect(readFileSync(khPath, 'utf8')).toBe(`[127.0.0.1]:${srv.port} ssh-ed25519 ${srv.hostKeyBlob.toString('base64')}\n`);
    expect((await c.exec('echo ok')).stdout).toBe('ok\n');
    const p2 = newPool();
    await p2.connection(target);
    await p2.closeAll();
    expect(events.at(-1)!.kind).toBe('verified');
  });

  it('refuses a changed key with both fingerprints, the file and line, and what to do; accepts only when told', async () => {
    const impostor = await startServer();
    try {
      // the impostor listens on another port: pretend it is the same host by copying the recorded line
      writeFileSync(khPath, `# workspace known hosts\n[127.0.0.1]:${impostor.port} ssh-ed25519 ${srv.hostKeyBlob.toString('base64')}\n`, { flag: 'a' });
      const t2 = { ...target, name: 'node2', port: impostor.port };
      const p = newPool();
      const err = await p.connection(t2).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'host-key', host: 'node2', retryable: false });
      const e = err as Error & { hint: string };
      expect(e.message).toContain(fingerprint(srv.hostKeyBlob));
      expect(e.message).toContain(fingerprint(impostor.hostKeyBlob));
      expect(e.message).toContain(`${khPath}:3`);
      expect(e.hint).toContain('--accept-changed-host-keys node2');
      expect(e.hint).toContain(`remove line 3 from ${khPath}`);
      expect(impostor.commands).toEqual([]);
      await p.closeAll();

      // acceptance for another host does not count
      const pOther = newPool({ acceptChangedHostKeys: ['node9'] });
      await expect(pOther.connection(t2)).rejects.toMatchObject({ kind: 'host-key' });

      const pAccept = newPool({ acceptChangedHostKeys: ['node2'] });
      const c = await pAccept.connection(t2);
      expect(events.at(-1)).toMatchObject({ host: 'node2', kind: 'changed-accepted', fingerprint: fingerprint(impostor.hostKeyBlob) });
      expect((await c.exec('echo accepted')).stdout).toBe('accepted\n');
      await pAccept.closeAll();
      const body = readFileSync(khPath, 'utf8');
      expect(body).toContain(`[127.0.0.1]:${impostor.port} ssh-ed25519 ${impostor.hostKeyBlob.toString('base64')}`);
      expect(body).not.toContain(`[127.0.0.1]:${impostor.port} ssh-ed25519 ${srv.hostKeyBlob.toString('base64')}`);
    } finally {
      await impostor.close();
    }
  });
});

describe('authentication and reachability', () => {
  it('a key the server does not accept: auth error naming user, host and identity file, not retried', async () => {
    const before = srv.connections;
    const methodsBefore = srv.authMethods.length;
    const p = newPool({ retries: 3, retryBaseDelayMs: 10 });
    const err = await p.connection({ ...target, identityFile: otherKeyFile, agent: '' }).catch((e: unknown) => e);
    // The key, then "none" last (a server that asks nothing would let us in), never "none" first.
    expect(srv.authMethods.slice(methodsBefore)).toEqual(['publickey', 'none']);
    expect(err).toMatchObject({ kind: 'auth', retryable: false });
    expect((err as Error).message).toContain(`kcore@127.0.0.1:${srv.port}`);
    expect((err as Error).message).toContain(otherKeyFile);
    // With the message: a run that saw no connection shows which error it got instead.
    expect({ connections: srv.connections - before, message: (err as Error).message }).toMatchObject({ connections: 1, message: expect.stringContaining('Authentication failed') });
  });

  it('authenticates with the identity file at once: no "none" request first (sshd delays its failure ~5–9 ms)', async () => {
    const p = newPool();
    const before = srv.authMethods.length;
    try {
      await p.connection({ ...target, agent: '' });
    } finally {
      await p.closeAll();
    }
    // ssh2 on its own asks "none" first; the public key is asked twice (the check, then the signature).
    expect(srv.authMethods.slice(before)).toEqual(['publickey', 'publickey']);
  });

  it("an identity file the server refuses, then the agent's key: both tried, in OpenSSH's order, and the agent's works", async () => {
    const sock = join(dir, `agent-${randomBytes(4).toString('hex')}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    let spawnError: Error | undefined;
    agent.on('error', (e) => (spawnError = e));
    try {
      for (let i = 0; i < 100 && !existsSync(sock) && !spawnError; i++) await new Promise((r) => setTimeout(r, 20));
      // openssh-client (test/hosts/install.sh) brings ssh-agent and ssh-add.
      expect(spawnError?.message).toBeUndefined();
      execFileSync('ssh-add', ['-q', clientKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const p = newPool();
      const before = srv.authMethods.length;
      try {
        const c = await p.connection({ ...target, identityFile: otherKeyFile, agent: sock });
        expect((await c.exec('echo via-agent')).stdout).toBe('via-agent\n');
      } finally {
        await p.closeAll();
      }
      // The refused identity file is asked once (no PK_OK, no signature), then the agent's key: check, signature.
      expect(srv.authMethods.slice(before)).toEqual(['publickey', 'publickey', 'publickey']);
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('a missing identity file is reported as such', async () => {
    const err = await newPool().connection({ ...target, identityFile: join(dir, 'nope') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'auth' });
    expect((err as Error).message).toContain(join(dir, 'nope'));
  });

  it('a closed port: unreachable, retried with backoff, then a hint', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const t0 = Date.now();
    const err = await newPool({ retries: 2, retryBaseDelayMs: 100 })
      .connection({ ...target, port })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unreachable', retryable: true });
    expect((err as Error).message).toMatch(/after 3 attempts/);
    expect((err as { hint: string }).hint).toContain('vagrant status');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('the TCP connection is made while the identity file is still being read, and it is the one used', async () => {
    // The key is a FIFO: reading it waits until the test writes it. A counting TCP relay in front of the server
    // shows whether the connection began before the key was read, and that no second one followed.
    const fifo = join(dir, 'key-fifo');
    execFileSync('mkfifo', [fifo]);
    let tcp = 0;
    const relay = net.createServer((down) => {
      tcp++;
      const up = net.connect(srv.port, '127.0.0.1');
      up.on('error', () => down.destroy());
      down.on('error', () => up.destroy());
      down.pipe(up).pipe(down);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as net.AddressInfo).port;
    const p = newPool();
    try {
      const conn = p.connection({ ...target, port, identityFile: fifo, agent: '' });
      for (let i = 0; i < 200 && tcp === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const beforeKeyRead = tcp;
      await writeFile(fifo, clientKey.privateKey);
      expect((await (await conn).exec('echo ok')).stdout).toBe('ok\n');
      expect({ beforeKeyRead, total: tcp }).toEqual({ beforeKeyRead: 1, total: 1 });
    } finally {
      await p.closeAll();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });

  it('abort cancels a connect in progress', async () => {
    // a listener that never speaks SSH: the handshake would hang until the connect timeout
    const s = net.createServer(() => undefined);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 100);
    const t0 = Date.now();
    await expect(newPool({ connectTimeoutMs: 10_000 }).connection({ ...target, port }, ctl.signal)).rejects.toMatchObject({ kind: 'aborted' });
    expect(Date.now() - t0).toBeLessThan(2000);
    s.close();
  });
});

describe('exec', () => {
  it('resolves with exit codes and stderr; rejects only on transport trouble', async () => {
    const c = await pool.connection(target);
    expect(await c.exec('echo out; echo err >&2; exit 7')).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 7 });
    await expect(c.run('exit 3')).rejects.toMatchObject({ kind: 'command-failed', exitCode: 3 });
  });

  it('reports the signal that killed the command', async () => {
    const c = await pool.connection(target);
    const r = await c.exec('kill -TERM $$');
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it('streams lines in order per stream, and passes stdin', async () => {
    const c = await pool.connection(target);
    const out: string[] = [];
    const err: string[] = [];
    const script = 'for i in $(seq 1 200); do echo "o$i"; echo "e$i" >&2; done; printf tail';
    const r = await c.exec(script, { onStdout: (l) => out.push(l), onStderr: (l) => err.push(l) });
    expect(out).toEqual([...Array.from({ length: 200 }, (_, i) => `o${i + 1}`), 'tail']);
    expect(err).toEqual(Array.from({ length: 200 }, (_, i) => `e${i + 1}`));
    expect(r.stdout.endsWith('o200\ntail')).toBe(true);
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    expect((await c.exec('wc -c', { stdin: big })).stdout.trim()).toBe(String(big.length));
    expect((await c.exec('cat', { stdin: 'héllo\n' })).stdout).toBe('héllo\n');
  });

  it('refuses a command too long for the remote kernel, with a hint', async () => {
    const c = await pool.connection(target);
    const err = (await c.exec(`echo ${'x'.repeat(200 * 1024)}`).catch((e: unknown) => e)) as Error & { hint: string };
    expect(err).toMatchObject({ kind: 'command-failed' });
    expect(err.hint).toContain('upload()');
    // (this in-process server takes packets up to 35 000 bytes; OpenSSH takes 256 KiB)
    expect((await c.exec(`printf %s ${'y'.repeat(20 * 1024)} | wc -c`)).stdout.trim()).toBe(String(20 * 1024));
  });

  it('a channel that closes without an exit status is a protocol error', async () => {
    const c = await pool.connection(target);
    await expect(c.exec('echo __NO_EXIT_STATUS__')).rejects.toMatchObject({ kind: 'protocol' });
    expect((await c.exec('echo still fine')).exitCode).toBe(0);
  });

  it('redacts secrets from output, lines, errors and the command log', async () => {
    const c = await pool.connection(target);
    const secret = 'Sup3r-S3cret-T0ken';
    const lines: string[] = [];
    const r = await c.exec(`printf 'a=%s\\n' '${secret}'; printf 'x%s' '${secret.slice(0, 5)}'; sleep 0.1; printf '%sy\\n' '${secret.slice(5)}'; echo ${secret} >&2; exit 4`, {
      secrets: [secret],
      onStdout: (l) => lines.push(l),
    });
    expect(r.stdout).toBe('a=***\nx***y\n');
    expect(r.stderr).toBe('***\n');
    expect(lines).toEqual(['a=***', 'x***y']);
    expect(JSON.stringify(logs)).not.toContain(secret);
    const err = (await c.run(`echo ${secret} >&2; false`, { secrets: [secret] }).catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain(secret);
    expect(err.message).toContain('***');
  });

  it('caps concurrent channels per connection and queues the rest (12 commands, cap 8)', async () => {
    const c = await pool.connection(target);
    srv.maxSessions = 0;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => c.exec(`sleep 0.3; echo ${i}`)));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(srv.maxSessions).toBe(8);
  });

  it('kills the command and its children on timeout', async () => {
    const c = await pool.connection(target);
    const tag = `kcore-timeout-${Date.now()}`;
    const t0 = Date.now();
    await expect(c.exec(`sh -c 'sleep 60; : ${tag}' & sleep 61; : ${tag}`, { timeoutMs: 300 })).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(markerProcesses(tag)).toEqual([]);
  });

  it('abort cancels a running command and kills it', async () => {
    const c = await pool.connection(target);
    const tag = `kcore-abort-${Date.now()}`;
    const ctl = new AbortController();
    const p = c.exec(`sleep 60; : ${tag}`, { signal: ctl.signal });
    await new Promise((r) => setTimeout(r, 300));
    expect(markerProcesses(tag).length).toBeGreaterThan(0);
    ctl.abort();
    await expect(p).rejects.toMatchObject({ kind: 'aborted' });
    expect(markerProcesses(tag)).toEqual([]);
    // an already-aborted signal never starts the command
    await expect(c.exec('echo never', { signal: AbortSignal.abort() })).rejects.toMatchObject({ kind: 'aborted' });
  });

  it('reconnects transparently when the connection dropped between commands', async () => {
    const c = await pool.connection(target);
    const before = srv.connections;
    srv.drop();
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.exec('echo again')).stdout).toBe('again\n');
    expect(srv.connections).toBe(before + 1);
    // and immediately after a drop, before the close was even noticed
    srv.drop();
    expect((await c.exec('echo again2')).stdout).toBe('again2\n');
  });

  it('a connection lost while a command runs is a protocol error saying so', async () => {
    const c = await pool.connection(target);
    const p = c.exec('sleep 5');
    await new Promise((r) => setTimeout(r, 200));
    srv.drop();
    const err = (await p.catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: 'protocol' });
    expect(err.message).toMatch(/lost|without an exit status/);
  });
});

describe('sudo', () => {
  it("what sudo prints before the command runs (a warning) reaches the command's stderr once it runs; the check's line does not", async () => {
    // A sudo that warns as sudo does on a host whose name does not resolve, then runs its command.
    const bin = join(dir, 'warning-sudo');
    mkdirSync(bin);
    writeFileSync(join(bin, 'sudo'), '#!/bin/sh\necho "sudo: unable to resolve host h1: Name or service not known" >&2\n[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n', { mode: 0o755 });
    const warnSrv = await startServer(undefined, { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    const p = newPool();
    try {
      const c = await p.connection({ ...target, port: warnSrv.port });
      const lines: string[] = [];
      const r = await c.exec('echo out; echo err >&2; exit 4', { sudo: true, onStderr: (l) => lines.push(l) });
      const warning = 'sudo: unable to resolve host h1: Name or service not known';
      expect({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr, lines }).toEqual({ code: 4, stdout: 'out\n', stderr: `${warning}\nerr\n`, lines: [warning, 'err'] });
      expect(await c.sudoOk()).toBe(true);
    } finally {
      await p.closeAll();
      await warnSrv.close();
    }
  });
});

describe('uploads, readFile, sha256 (the server runs the scripts on this machine)', () => {
  it('small files: changed, unchanged, mode-only, content; in one session each', async () => {
    const c = await pool.connection(target);
    const path = join(dir, 'up', 'deep', 'a.conf');
    const f = { path, content: 'x=1\n', mode: 0o640, sudo: true };
    const before = srv.commands.length;
    expect((await c.upload(f)).changed).toBe(true);
    expect(srv.commands.length - before).toBe(1); // one session: the sudo check rides in the upload's own
    expect(readFileSync(path, 'utf8')).toBe('x=1\n');
    expect(statSync(path).mode & 0o7777).toBe(0o640);
    expect((await c.upload(f)).changed).toBe(false);
    expect((await c.upload({ ...f, mode: 0o600 })).changed).toBe(true);
    expect(statSync(path).mode & 0o7777).toBe(0o600);
    expect((await c.upload({ ...f, mode: 0o600, owner: 'root', group: 'root' })).changed).toBe(false);
    expect((await c.upload({ ...f, mode: 0o600, content: 'x=2\n' })).changed).toBe(true);
    expect((await c.readFile(path))!.toString()).toBe('x=2\n');
    expect(await c.sha256(path)).toBe(createHash('sha256').update('x=2\n').digest('hex'));
    expect(await c.readFile(join(dir, 'missing'))).toBeNull();
    expect(await c.sha256(join(dir, 'missing'))).toBeNull();
    expect(readdirSync(join(dir, 'up', 'deep'))).toEqual(['a.conf']);
  });

  it('modes the shell cannot create directly (exec bits) and secret files get their final mode after the write', async () => {
    const c = await pool.connection(target);
    const bin = join(dir, 'up', 'tool');
    expect((await c.upload({ path: bin, content: '#!/bin/sh\necho tool\n', mode: 0o755 })).changed).toBe(true);
    expect(statSync(bin).mode & 0o7777).toBe(0o755);
    expect((await c.exec(bin)).stdout).toBe('tool\n');
    const key = join(dir, 'up', 'key.pem');
    expect((await c.upload({ path: key, content: 'SECRET-KEY-MATERIAL\n', mode: 0o640, secret: true })).changed).toBe(true);
    expect(statSync(key).mode & 0o7777).toBe(0o640);
    expect((await c.upload({ path: key, content: 'SECRET-KEY-MATERIAL\n', mode: 0o640, secret: true })).changed).toBe(false);
    expect(JSON.stringify(logs)).not.toContain('SECRET-KEY-MATERIAL');
  });

  it('large files: checked first, so an unchanged file is not sent again', async () => {
    const c = await pool.connection(target);
    const path = join(dir, 'up', 'big.bin');
    const content = randomBytes(SMALL_UPLOAD_BYTES + 1);
    expect((await c.upload({ path, content, mode: 0o644 })).changed).toBe(true);
    expect(readFileSync(path).equals(content)).toBe(true);
    const before = srv.commands.length;
    expect((await c.upload({ path, content, mode: 0o644 })).changed).toBe(false);
    expect(srv.commands.length - before).toBe(1); // only the look
    expect((await c.upload({ path, content, mode: 0o600 })).changed).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await c.readFile(path))!.equals(content)).toBe(true);
  });

  it('a failed write is a command-failed error that names the file, and leaves nothing behind', async () => {
    const c = await pool.connection(target);
    writeFileSync(join(dir, 'up', 'notadir'), 'x');
    const err = (await c.upload({ path: join(dir, 'up', 'notadir', 'f'), content: 'y', mode: 0o644 }).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: 'command-failed' });
    expect(err.message).toContain(join(dir, 'up', 'notadir', 'f'));
  });
});

describe('ProxyJump', () => {
  it('reaches a host through a jump host (sharing the jump connection)', async () => {
    const inner = await startServer();
    try {
      const p = newPool();
      const jump = { ...target, name: 'bastion' };
      const t1: HostTarget = { name: 'inner', host: '127.0.0.1', port: inner.port, user: 'kcore', identityFile: clientKeyFile, proxyJump: jump };
      const c = await p.connection(t1);
      expect((await c.exec('echo via-jump')).stdout).toBe('via-jump\n');
      expect(inner.commands.length).toBe(1);
      expect(events.some((e) => e.host === 'inner' && e.kind === 'recorded')).toBe(true);
      await p.closeAll();
    } finally {
      await inner.close();
    }
  });
});

describe('forEachHost', () => {
  it('runs per host, reports per-host errors, keeps order', async () => {
    const p = newPool({ maxHosts: 2 });
    const bad = { ...target, name: 'bad', port: 1 };
    const out = await p.forEachHost([target, bad, { ...target, name: 'again' }], async (c) => (await c.exec('echo hi')).stdout.trim());
    expect(out.map((o) => o.target.name)).toEqual(['node1', 'bad', 'again']);
    expect(out[0]!.result).toBe('hi');
    expect(out[1]!.error).toMatchObject({ kind: 'unreachable' });
    expect(out[2]!.result).toBe('hi');
    const thrown = await p.forEachHost([target], async () => {
      throw new Error('task bug');
    });
    expect(thrown[0]!.error).toMatchObject({ kind: 'command-failed' });
    await p.closeAll();
  });
});

describe('dead connections (a host cut off the network: nothing answers, nothing closes)', () => {
  /** A TCP relay to the test server that can stop relaying, both ways, without closing anything. */
  async function freezingRelay(port: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
    const socks = new Set<net.Socket>();
    let frozen = false;
    const relay = net.createServer((down) => {
      const up = net.connect(port, '127.0.0.1');
      for (const s of [down, up]) {
        socks.add(s);
        s.on('error', () => undefined);
        s.on('close', () => socks.delete(s));
      }
      down.on('data', (b: Buffer) => void (frozen || up.write(b)));
      up.on('data', (b: Buffer) => void (frozen || down.write(b)));
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    return {
      port: (relay.address() as net.AddressInfo).port,
      freeze: () => void (frozen = true),
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of socks) s.destroy();
          relay.close(() => resolve());
        }),
    };
  }

  it('a silent command outlives the detection window; once cut, the running command fails after interval × (countMax + 1)', async () => {
    const relay = await freezingRelay(srv.port);
    const p = newPool({ keepaliveIntervalMs: 300, keepaliveCountMax: 1 });
    try {
      const c = await p.connection({ ...target, name: 'cut', port: relay.port });
      // Silent for over 3 detection windows: the server answers keepalives while the command runs.
      expect((await c.exec('sleep 2; echo alive')).stdout).toBe('alive\n');
      const running = c.exec('sleep 30');
      await new Promise((r) => setTimeout(r, 150));
      relay.freeze();
      const t0 = Date.now();
      const err = (await running.catch((e: unknown) => e)) as Error;
      const ms = Date.now() - t0;
      expect(err).toMatchObject({ kind: 'protocol' });
      expect(err.message).toMatch(/^The connection to cut was lost while `sleep 30` was running; it may or may not have completed\.$/);
      // 2 unanswered pings at 300 ms: 300–600 ms after the cut (with countMax 3 it would be 900–1200 ms).
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(850);
    } finally {
      await p.closeAll();
      await relay.close();
    }
  });

  it('by default a dead connection is reported within 20 s', () => {
    expect(POOL_DEFAULTS.keepaliveIntervalMs * (POOL_DEFAULTS.keepaliveCountMax + 1)).toBeLessThanOrEqual(20_000);
  });
});

describe('warm(): handshakes started before anyone asks', () => {
  it('connects every target at once; connection() joins the attempt or throws its error, without a second attempt', async () => {
    // A port that accepts TCP and hangs up at once: each attempt is counted.
    let attempts = 0;
    const hangUp = net.createServer((s) => {
      attempts++;
      s.destroy();
    });
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const bad: HostTarget = { ...target, name: 'hangs-up', port: (hangUp.address() as net.AddressInfo).port };
    const good: HostTarget = { ...target, name: 'warm-good' };
    const p = newPool();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const before = srv.connections;
      p.warm([good, bad]);
      await new Promise((r) => setTimeout(r, 500));
      expect(srv.connections).toBe(before + 1); // connected before any connection() call
      expect(attempts).toBe(1);
      const c = await p.connection(good);
      expect(c.connects).toBe(1);
      expect(srv.connections).toBe(before + 1);
      const err = await p.connection(bad).catch((e: unknown) => e);
      expect(err).toMatchObject({ host: 'hangs-up' });
      expect(attempts).toBe(1); // the early attempt's error, not a new attempt
      // Asked again later (another role), the host gets a fresh attempt.
      await p.connection(bad).catch(() => undefined);
      expect(attempts).toBe(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await p.closeAll();
      await new Promise<void>((resolve) => hangUp.close(() => resolve()));
    }
  });
});
