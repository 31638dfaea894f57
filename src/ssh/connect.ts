// Connecting to one host over ssh2, and the host-key policy: the key is checked against the workspace's
// known_hosts (recorded on first contact once the server proved it holds it, a changed key refused unless
// accepted, @revoked refused), retryable failures retried with backoff, abort honoured at every step.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import { SshError, abortedError, classifyError, describeTarget } from './errors.js';
import { KnownHosts, fingerprint, keyTypeOf, knownHostsName, type HostKeyCheck } from './known-hosts.js';
import type { CommandLogEntry, HostKeyEvent, HostTarget } from './types.js';

/**
 * ssh2's client class on its own: ssh2's index also loads its server, key generator and HTTP agents (node:http,
 * node:https), which kcore-wizard never uses (~15 ms of every command that connects); ssh2 has no "exports" map
 * and lib/client.js is `module.exports = Client`. Loaded with require(): imported from ESM, Node first scans
 * the 64 KB CommonJS file for export names (cjs-module-lexer: 4–13 ms of every command that connects, from
 * CPU profiles of `test` on 3 hosts, 2 cores), a scan that require() does not make.
 * Loaded at the first connection attempt, once every warmed host's TCP connection is on its way (connectOnce):
 * the ~40 ms of loading then overlaps the hosts accepting, forking sshd and sending their banners.
 */
let sshClientClass: typeof Client | undefined;
const sshClient = (): typeof Client => (sshClientClass ??= createRequire(import.meta.url)('ssh2/lib/client.js') as typeof Client);

export interface ConnectionSettings {
  knownHosts: KnownHosts;
  acceptChangedHostKeys: boolean | string[];
  maxChannels: number;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Unanswered keepalives tolerated; one more and the connection is declared dead. */
  keepaliveCountMax: number;
  retries: number;
  retryBaseDelayMs: number;
  /** When this run began (Date.now()): upload temps untouched since before it are stale and swept. */
  runStartedAt: number;
  onHostKey?: (e: HostKeyEvent) => void;
  onCommand?: (host: string, entry: CommandLogEntry) => void;
  /** Opens the tunnel for ProxyJump targets (the pool shares jump connections). */
  openJump?: (jump: HostTarget, host: string, port: number, signal?: AbortSignal) => Promise<Duplex>;
}

// Host key algorithms ssh2 offers by default; the ones already known for a host go first.
const HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const ALGOS_FOR_KEY_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const first = knownTypes.flatMap((t) => ALGOS_FOR_KEY_TYPE[t] ?? [t]).filter((a) => HOST_KEY_ALGOS.includes(a));
  return [...new Set([...first, ...HOST_KEY_ALGOS])];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Opens one host's SSH connection: `connectWithRetries` resolves with a ready, authenticated client. */
export class HostConnector {
  constructor(
    private readonly target: HostTarget,
    private readonly name: string,
    private readonly settings: ConnectionSettings,
    /** Called with the client once it is ready, before anyone else sees it (the connection adopts it). */
    private readonly onReady: (client: Client) => void,
  ) {}

  async connectWithRetries(signal: AbortSignal): Promise<Client> {
    const { retries, retryBaseDelayMs } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.connectOnce(signal);
      } catch (e) {
        const err = e instanceof SshError ? e : classifyError(e, { target: this.target, phase: 'connect' });
        if (signal.aborted) throw abortedError(this.name, 'Connecting', signal.reason);
        if (!err.retryable || attempt >= retries) {
          if (attempt > 0) err.message += ` (after ${attempt + 1} attempts)`;
          throw err;
        }
        const delay = Math.min(8000, retryBaseDelayMs * 2 ** attempt);
        try {
          await sleep(delay / 2 + Math.random() * (delay / 2), signal);
        } catch {
          throw abortedError(this.name, 'Connecting', signal.reason);
        }
      }
    }
  }

  private acceptsChanged(): boolean {
    const a = this.settings.acceptChangedHostKeys;
    if (a === true) return true;
    if (!Array.isArray(a)) return false;
    const t = this.target;
    const names = [t.name, t.host, `${t.host}:${t.port}`, knownHostsName(t.host, t.port)].map((s) => s.toLowerCase());
    return a.some((x) => names.includes(x.toLowerCase()));
  }

  private hostKeyChangedError(check: Extract<HostKeyCheck, { status: 'changed' }>, key: Buffer): SshError {
    const t = this.target;
    const kh = this.settings.knownHosts;
    const known = check.known
      .map((e) => `  known:     ${fingerprint(Buffer.from(e.key, 'base64'))} (${e.keyType}) at ${kh.path}:${e.line}`)
      .join('\n');
    const lines = check.known.map((e) => e.line).join(', ');
    return new SshError({
      kind: 'host-key',
      host: this.name,
      retryable: false,
      message:
        `The host key of ${this.name} (${t.host}:${t.port}) has CHANGED — refusing to connect.\n` +
        `${known}\n  presented: ${fingerprint(key)} (${keyTypeOf(key)})`,
      hint:
        `If the machine was re-created (vagrant destroy/up), accept the new key with \`--accept-changed-host-keys ${this.name}\` ` +
        `or remove line ${lines} from ${kh.path}. If it was not re-created, someone may be intercepting the connection: do not accept it.`,
    });
  }

  private async connectOnce(signal: AbortSignal): Promise<Client> {
    const t = this.target;
    if (signal.aborted) throw abortedError(this.name, 'Connecting', signal.reason);
    // The TCP connection starts before anything is read (key, known_hosts) or loaded (ssh2): the host accepts
    // and sends its banner meanwhile. ssh2 takes it still connecting or connected; one that failed or was closed
    // in between fails this attempt with the error ssh2 would have reported (refused, reset, closed).
    const early = t.proxyJump ? undefined : earlySocket(t.host, t.port);
    try {
      return await this.handshake(signal, early);
    } catch (e) {
      early?.socket.destroy();
      throw e;
    }
  }

  private async handshake(signal: AbortSignal, early: EarlySocket | undefined): Promise<Client> {
    const t = this.target;
    const kh = this.settings.knownHosts;
    const authTried: string[] = [];
    let privateKey: Buffer | undefined;
    if (t.identityFile) {
      try {
        privateKey = await readFile(t.identityFile);
      } catch (e) {
        throw new SshError({
          kind: 'auth',
          host: this.name,
          retryable: false,
          message: `Cannot read identity file ${t.identityFile} for ${describeTarget(t)}: ${(e as Error).message}`,
          hint: 'Check the path (`vagrant ssh-config` prints the right one) and that this user may read it.',
          cause: e,
        });
      }
      authTried.push(`identity file ${t.identityFile}`);
    }
    const agent = t.agent ?? process.env.SSH_AUTH_SOCK;
    if (agent) authTried.push(`ssh-agent at ${agent}`);
    if (!privateKey && !agent) {
      throw new SshError({
        kind: 'auth',
        host: this.name,
        retryable: false,
        message: `No way to authenticate to ${describeTarget(t)}: no identity file and no ssh-agent (SSH_AUTH_SOCK is not set).`,
        hint: 'Give the host an IdentityFile (`vagrant ssh-config` prints it) or start ssh-agent and add the key.',
      });
    }
    const algos = hostKeyAlgorithms(await kh.knownKeyTypes(t.host, t.port));
    let sock: Duplex | undefined;
    if (t.proxyJump) {
      if (!this.settings.openJump) throw new Error('ProxyJump needs a pool');
      sock = await this.settings.openJump(t.proxyJump, t.host, t.port, signal);
    } else if (early) {
      // Refused, reset or hung up already: what ssh2 would have reported for it, and no second connection.
      const failure = early.failure();
      if (failure) throw classifyError(failure, { target: t, phase: 'connect', authTried });
      sock = early.socket;
    }
    if (signal.aborted) throw abortedError(this.name, 'Connecting', signal.reason);
    const SshClient = sshClient();

    return new Promise<Client>((resolve, reject) => {
      const client = new SshClient();
      let settled = false;
      let hostKeyError: SshError | undefined;
      let commitHostKey: (() => Promise<void>) | undefined;
      let committing: Promise<void> | undefined;
      const notes: string[] = [];

      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        client.removeAllListeners('ready');
        client.on('error', () => undefined);
        client.end();
        client.destroy();
        sock?.destroy();
        const e = hostKeyError ?? classifyError(err, { target: t, phase: 'connect', authTried });
        if (e.kind === 'auth' && notes.length > 0 && !e.message.includes(notes[0]!)) e.message += ` (${notes.join('; ')})`;
        reject(e);
      };
      const onAbort = (): void => fail(abortedError(this.name, 'Connecting', signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });

      const emit = (kind: HostKeyEvent['kind'], key: Buffer): void => {
        try {
          this.settings.onHostKey?.({ host: this.name, kind, fingerprint: fingerprint(key), keyType: keyTypeOf(key) });
        } catch {
          /* a listener's failure is not the connection's */
        }
      };

      const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
        kh.check(t.host, t.port, key).then(
          (check) => {
            switch (check.status) {
              case 'known':
                emit('verified', key);
                return verify(true);
              case 'unknown':
                // Recorded once the server has proved it holds the key (signature checked at handshake end).
                commitHostKey = async () => {
                  await kh.add(t.host, t.port, key);
                  emit('recorded', key);
                };
                return verify(true);
              case 'changed':
                if (this.acceptsChanged()) {
                  commitHostKey = async () => {
                    await kh.replace(t.host, t.port, key);
                    emit('changed-accepted', key);
                  };
                  return verify(true);
                }
                hostKeyError = this.hostKeyChangedError(check, key);
                return verify(false);
              case 'revoked':
                hostKeyError = new SshError({
                  kind: 'host-key',
                  host: this.name,
                  retryable: false,
                  message: `The host key ${fingerprint(key)} presented by ${this.name} (${t.host}:${t.port}) is marked @revoked in ${kh.path}:${check.entry.line}.`,
                  hint: 'Refusing to connect. Re-create the machine or fix its host keys.',
                });
                return verify(false);
            }
          },
          (e: unknown) => {
            hostKeyError = new SshError({
              kind: 'host-key',
              host: this.name,
              retryable: false,
              message: `Cannot check the host key of ${this.name} against ${kh.path}: ${(e as Error).message}`,
              hint: 'Check that the workspace known_hosts file is readable.',
              cause: e,
            });
            verify(false);
          },
        );
      };

      client.on('handshake', () => {
        if (commitHostKey && !committing) {
          committing = commitHostKey();
          committing.catch(() => undefined);
        }
      });
      client.on('ready', () => {
        void (async () => {
          try {
            if (commitHostKey && !committing) committing = commitHostKey();
            await committing;
          } catch (e) {
            hostKeyError = new SshError({
              kind: 'host-key',
              host: this.name,
              retryable: false,
              message: `Cannot record the host key of ${this.name} in ${kh.path}: ${(e as Error).message}`,
              hint: 'Check that the workspace directory is writable.',
              cause: e,
            });
            return fail(hostKeyError);
          }
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          this.onReady(client);
          resolve(client);
        })();
      });
      client.on('error', (err: Error & { level?: string }) => {
        // ssh2 reports agent trouble and per-key signing failures, then goes on with the next method.
        if (err.level === 'agent' || (err.level === 'client-authentication' && !/methods failed/i.test(err.message))) {
          notes.push(err.message);
          return;
        }
        fail(err);
      });
      client.on('close', () => fail(new Error('Connection closed before it was ready')));

      const cfg: ConnectConfig = {
        host: t.host,
        port: t.port,
        username: t.user,
        readyTimeout: this.settings.connectTimeoutMs,
        keepaliveInterval: this.settings.keepaliveIntervalMs,
        keepaliveCountMax: this.settings.keepaliveCountMax,
        algorithms: { serverHostKey: algos as ServerHostKeyAlgorithm[] },
        hostVerifier,
      };
      if (privateKey) cfg.privateKey = privateKey;
      if (agent) cfg.agent = agent;
      // The methods we hold, in OpenSSH's order (identity file, then agent), and "none" only last, not first as
      // ssh2's default does: sshd answers a failed "none" only after its anti-enumeration delay (auth2.c
      // ensure_minimum_time_since, ~5–9 ms per user), and only to list methods we do not need to know. Last, it
      // still lets in a server that asks no authentication at all.
      cfg.authHandler = [...(privateKey ? ['publickey' as const] : []), ...(agent ? ['agent' as const] : []), 'none'];
      if (sock) cfg.sock = sock;
      try {
        client.connect(cfg);
        // From the first packet, not from `ready`: the key exchange and the authentication are small packets
        // each way too, and Nagle + the host's delayed ACKs stalled them ~40 ms per exchange (a handshake
        // took 60–130 ms instead of ~45 ms here). ssh2 has made its socket by now; Node keeps the setting
        // for a socket that is still connecting.
        client.setNoDelay(true);
      } catch (e) {
        fail(e);
      }
    });
  }
}

interface EarlySocket {
  socket: Socket;
  /** Why it cannot be handed to ssh2 (it failed or was closed), or undefined: still connecting is fine. */
  failure(): Error | undefined;
}

function earlySocket(host: string, port: number): EarlySocket {
  const socket = tcpConnect({ host, port });
  let error: Error | undefined;
  // Kept until ssh2 takes the socket (it adds its own listeners): an early failure is not an unhandled error.
  socket.on('error', (e: Error) => {
    error ??= Object.assign(e, { level: 'client-socket' });
  });
  return {
    socket,
    failure: () => error ?? (socket.destroyed || socket.closed || socket.readableEnded ? new Error('Connection closed before it was ready') : undefined),
  };
}
