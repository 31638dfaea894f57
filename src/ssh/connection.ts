// One SSH connection to one host over ssh2: connect (host key checked, retries), channels capped, commands
// streamed, killed on timeout/abort, uploads over exec, sudo probed once. Reconnects between commands.

import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import { SshError, abortedError, classifyError, describeTarget } from './errors.js';
import { KnownHosts, fingerprint, keyTypeOf, knownHostsName, type HostKeyCheck } from './known-hosts.js';
import { LineSplitter, createRedactor, redact, secretsFromContent } from './redact.js';
import {
  CORRUPT_EXIT,
  MISSING_EXIT,
  catScript,
  fixAttrsScript,
  killScript,
  sha256Script,
  statScript,
  uploadScript,
  wrapCommand,
} from './scripts.js';
import { Semaphore } from './semaphore.js';
import type {
  CommandLogEntry,
  ExecOptions,
  ExecResult,
  HostConnection,
  HostKeyEvent,
  HostTarget,
  UploadResult,
  UploadSpec,
} from './types.js';

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

/** Commands as errors and logs show them: secrets already redacted, long ones cut. */
function brief(command: string): string {
  return command.length > 8000 ? `${command.slice(0, 8000)}… (${command.length} characters)` : command;
}

/** Longest command accepted (the remote kernel caps one argument at 128 KiB, and quoting adds some). */
export const MAX_COMMAND_BYTES = 100 * 1024;

/** Uploads up to this size check and write in one session; larger ones are checked first, then sent. */
export const SMALL_UPLOAD_BYTES = 256 * 1024;

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

interface ChannelRun {
  command: string;
  /** What logs and errors show (the caller's command, redacted). */
  shown: string;
  sudo: boolean;
  opts: ExecOptions;
  raw?: boolean;
  /** Internal commands (the kill script) do not take a channel slot and are not killed themselves. */
  internal?: boolean;
}

interface RawResult extends ExecResult {
  rawStdout?: Buffer;
}

/** Raised before a channel was opened: nothing ran, so the command can be retried on a new connection. */
class NotStarted extends Error {
  constructor(readonly original: unknown) {
    super('channel not opened');
  }
}

export class SshHostConnection implements HostConnection {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private readonly slots: Semaphore;
  private readonly spare = new Semaphore(1);
  private sudoProbe: Promise<{ ok: boolean; why: string }> | undefined;
  private closedByUser = false;
  private readonly name: string;
  /** Directories already swept of stale upload temps during this run. */
  private readonly swept = new Set<string>();
  /** Number of times a connection was established (for tests and the dashboard). */
  connects = 0;

  constructor(
    readonly target: HostTarget,
    private readonly settings: ConnectionSettings,
  ) {
    this.slots = new Semaphore(settings.maxChannels);
    this.name = target.name || target.host;
  }

  get isClosed(): boolean {
    return this.closedByUser;
  }

  get isConnected(): boolean {
    return this.client !== undefined;
  }

  /** Connect now (with retries for retryable errors); no-op when already connected. */
  async connect(signal?: AbortSignal): Promise<void> {
    await this.ensureClient(signal);
  }

  private async ensureClient(signal?: AbortSignal): Promise<Client> {
    if (this.closedByUser) {
      throw new SshError({ kind: 'aborted', host: this.name, message: `The connection to ${this.name} was closed.`, retryable: false });
    }
    if (this.client) return this.client;
    if (!this.connecting) {
      // The shared attempt is cancelled only when every waiter has given up.
      const ctl = new AbortController();
      let waiters = 0;
      const p = this.connectWithRetries(ctl.signal).finally(() => {
        if (this.connecting === p) this.connecting = undefined;
      });
      const shared = p as Promise<Client> & { join?: (s?: AbortSignal) => Promise<Client> };
      shared.join = (s?: AbortSignal): Promise<Client> => {
        waiters++;
        if (!s) return p.finally(() => waiters--);
        return new Promise<Client>((resolve, reject) => {
          const onAbort = (): void => {
            waiters--;
            if (waiters === 0) ctl.abort(s.reason);
            reject(abortedError(this.name, 'Connecting', s.reason));
          };
          if (s.aborted) return onAbort();
          s.addEventListener('abort', onAbort, { once: true });
          p.then(
            (c) => {
              s.removeEventListener('abort', onAbort);
              waiters--;
              resolve(c);
            },
            (e: unknown) => {
              s.removeEventListener('abort', onAbort);
              waiters--;
              reject(e);
            },
          );
        });
      };
      p.catch(() => undefined);
      this.connecting = shared;
    }
    return (this.connecting as Promise<Client> & { join: (s?: AbortSignal) => Promise<Client> }).join(signal);
  }

  private async connectWithRetries(signal: AbortSignal): Promise<Client> {
    const { retries, retryBaseDelayMs } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        const c = await this.connectOnce(signal);
        this.client = c;
        this.connects++;
        return c;
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
    }

    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
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
          this.adopt(client);
          // Commands are many small packets each way: Nagle + delayed ACKs would add ~40 ms to each.
          client.setNoDelay(true);
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
      if (sock) cfg.sock = sock;
      try {
        client.connect(cfg);
      } catch (e) {
        fail(e);
      }
    });
  }

  /** After 'ready': a connection that later drops is forgotten, and the next command reconnects. */
  private adopt(client: Client): void {
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    client.removeAllListeners('handshake');
    const forget = (): void => {
      if (this.client === client) this.client = undefined;
    };
    client.on('error', forget);
    client.on('close', forget);
    client.on('end', forget);
  }

  /** Drop the connection without closing the HostConnection (next command reconnects). For tests and recovery. */
  dropConnection(): void {
    const c = this.client;
    this.client = undefined;
    c?.destroy();
  }

  /** A tunnel from this host to host:port (for targets that jump through this one). */
  async forwardOut(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    const client = await this.ensureClient(signal);
    return new Promise<Duplex>((resolve, reject) => {
      try {
        client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          if (err) {
            reject(
              new SshError({
                kind: 'unreachable',
                host: this.name,
                retryable: true,
                message: `${this.name} could not open a tunnel to ${host}:${port}: ${err.message}`,
                hint: `Is ${host}:${port} reachable from ${this.name}? Does its sshd allow TCP forwarding (AllowTcpForwarding)?`,
                cause: err,
              }),
            );
          } else resolve(stream);
        });
      } catch (e) {
        reject(classifyError(e, { target: this.target, phase: 'connect' }));
      }
    });
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { rawStdout: _raw, ...r } = await this.execInternal(command, opts);
    return r;
  }

  async run(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(command, opts);
    if (r.exitCode !== 0) throw this.commandFailed(brief(redact(command, opts.secrets ?? [])), r);
    return r;
  }

  private commandFailed(shown: string, r: ExecResult, what?: string): SshError {
    const status = r.exitCode === null ? `was killed by ${r.signal ?? 'a signal'}` : `exited with status ${r.exitCode}`;
    const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
    return new SshError({
      kind: 'command-failed',
      host: this.name,
      retryable: false,
      exitCode: r.exitCode,
      message: `${what ?? `\`${shown}\``} on ${this.name} ${status}${tail ? `:\n${tail}` : '.'}`,
      hint: '',
    });
  }

  private async execInternal(command: string, opts: ExecOptions, raw = false, shownAs?: string): Promise<RawResult> {
    const secrets = opts.secrets ?? [];
    const shown = shownAs ?? brief(redact(command, secrets));
    if (opts.signal?.aborted) throw abortedError(this.name, `\`${shown}\``, opts.signal.reason);
    if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
      // The remote kernel refuses a single argument over 128 KiB (the command travels as `sh -c <command>`).
      throw new SshError({
        kind: 'command-failed',
        host: this.name,
        retryable: false,
        message: `A command of ${Buffer.byteLength(command)} bytes is too long to run on ${this.name} (limit ${MAX_COMMAND_BYTES} bytes).`,
        hint: 'Send large content with upload() or through stdin, not inside the command line.',
      });
    }
    let sudo = false;
    if (opts.sudo && this.target.user !== 'root') {
      const probe = await this.probeSudo();
      if (!probe.ok) throw this.sudoError(probe.why);
      sudo = true;
    }
    const release = await this.slots.acquire(opts.signal, () => abortedError(this.name, `\`${shown}\``, opts.signal?.reason));
    try {
      const run: ChannelRun = { command, shown, sudo, opts, raw };
      let result: RawResult;
      for (let attempt = 0; ; attempt++) {
        const client = await this.ensureClient(opts.signal);
        try {
          result = await this.runChannel(client, run);
          break;
        } catch (e) {
          if (e instanceof NotStarted) {
            const msg = e.original instanceof Error ? e.original.message : String(e.original);
            if (/not connected|no response from server/i.test(msg)) {
              // The connection went away between commands: nothing ran, so reconnect once and go again.
              if (this.client === client) this.dropConnection();
              if (attempt === 0) continue;
              throw classifyError(e.original, { target: this.target, phase: 'exec' });
            }
            throw new SshError({
              kind: 'protocol',
              host: this.name,
              retryable: false,
              message: `${this.name} refused to open an SSH session for \`${shown}\`: ${msg}`,
              hint: `sshd limits sessions per connection (MaxSessions, 10 by default); maxChannelsPerHost must stay below it.`,
              cause: e.original,
            });
          }
          this.log(shown, null, 0, sudo);
          throw e;
        }
      }
      this.log(shown, result.exitCode, result.durationMs, sudo);
      return result;
    } finally {
      release();
    }
  }

  private log(command: string, exitCode: number | null, durationMs: number, sudo: boolean): void {
    try {
      this.settings.onCommand?.(this.name, { command, exitCode, durationMs, sudo });
    } catch {
      /* a logger's failure is not the command's */
    }
  }

  private runChannel(client: Client, run: ChannelRun): Promise<RawResult> {
    const { opts } = run;
    const marker = randomBytes(9).toString('base64url');
    const wrapped = wrapCommand(run.command, { sudo: run.sudo, marker });
    const started = Date.now();
    const secrets = opts.secrets ?? [];

    return new Promise<RawResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let callbackError: unknown;
      const outRed = createRedactor(secrets);
      const errRed = createRedactor(secrets);
      const outDec = new StringDecoder('utf8');
      const errDec = new StringDecoder('utf8');
      const guard =
        (fn?: (l: string) => void) =>
        (l: string): void => {
          if (!fn || callbackError !== undefined) return;
          try {
            fn(l);
          } catch (e) {
            callbackError = e;
          }
        };
      const outLines = new LineSplitter(guard(opts.onStdout));
      const errLines = new LineSplitter(guard(opts.onStderr));
      let stdout = '';
      let stderr = '';
      const rawChunks: Buffer[] = [];
      let exit: { code: number | null; signal?: string } | undefined;

      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };

      const stop = (err: SshError): void => {
        if (settled) return;
        settled = true;
        cleanup();
        const ch = channel;
        const finish = (): void => {
          try {
            ch?.close();
          } catch {
            /* already closed */
          }
          reject(err);
        };
        if (!ch || run.internal) return finish();
        // Kill the remote processes (the whole tree, children included), then close the channel.
        this.killRemote(client, marker, run.sudo).then(finish, finish);
      };
      const onAbort = (): void =>
        stop(abortedError(this.name, `\`${run.shown}\``, opts.signal?.reason));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
        const ms = opts.timeoutMs;
        timer = setTimeout(
          () =>
            stop(
              new SshError({
                kind: 'timeout',
                host: this.name,
                retryable: false,
                message: `\`${run.shown}\` on ${this.name} did not finish within ${ms} ms; it was killed.`,
                hint: 'The command and its child processes were stopped (TERM, then KILL). Raise the timeout if the step is just slow.',
              }),
            ),
          ms,
        );
      }

      const finalize = (): void => {
        if (settled) return;
        settled = true;
        cleanup();
        const tailOut = outRed.push(outDec.end()) + outRed.flush();
        const tailErr = errRed.push(errDec.end()) + errRed.flush();
        stdout += tailOut;
        stderr += tailErr;
        outLines.push(tailOut);
        outLines.flush();
        errLines.push(tailErr);
        errLines.flush();
        if (callbackError !== undefined) return reject(callbackError);
        if (!exit) {
          const lost = this.client !== client;
          return reject(
            new SshError({
              kind: 'protocol',
              host: this.name,
              retryable: false,
              message: lost
                ? `The connection to ${this.name} was lost while \`${run.shown}\` was running; it may or may not have completed.`
                : `\`${run.shown}\` on ${this.name} ended without an exit status (the SSH channel closed early).`,
              hint: lost
                ? 'Check that the machine is still up (`vagrant status`); running the step again reconnects.'
                : 'sshd closed the session without reporting how the command ended; check the machine (`journalctl -u sshd`).',
            }),
          );
        }
        const r: RawResult = { stdout, stderr, exitCode: exit.code, durationMs: Date.now() - started };
        if (exit.signal) r.signal = exit.signal;
        if (run.raw) r.rawStdout = Buffer.concat(rawChunks);
        resolve(r);
      };

      const onOpen = (err: Error | undefined, ch: ClientChannel): void => {
        if (err) {
          if (settled) return;
          settled = true;
          cleanup();
          return reject(new NotStarted(err));
        }
        channel = ch;
        if (settled) {
          // Aborted while the channel was opening: nothing useful started yet; kill just in case.
          void this.killRemote(client, marker, run.sudo).finally(() => ch.close());
          return;
        }
        let outEnded = false;
        let errEnded = false;
        let closed = false;
        const maybeDone = (): void => {
          if (closed && outEnded && errEnded) finalize();
        };
        ch.on('data', (b: Buffer) => {
          if (settled) return;
          if (run.raw) {
            rawChunks.push(b);
            return;
          }
          const text = outRed.push(outDec.write(b));
          stdout += text;
          outLines.push(text);
        });
        ch.stderr.on('data', (b: Buffer) => {
          if (settled) return;
          const text = errRed.push(errDec.write(b));
          stderr += text;
          errLines.push(text);
        });
        ch.on('end', () => {
          outEnded = true;
          maybeDone();
        });
        ch.stderr.on('end', () => {
          errEnded = true;
          maybeDone();
        });
        ch.on('exit', (code: number | null, signal?: string) => {
          exit = { code: code ?? null };
          if (code === null || code === undefined) exit = { code: null, signal: signal ?? 'SIGKILL' };
        });
        ch.on('error', () => undefined);
        ch.on('close', () => {
          closed = true;
          // Streams were ended before 'close'; give their 'end' events a turn, then settle regardless.
          setImmediate(() => {
            outEnded = outEnded || ch.readableEnded || !ch.readable;
            errEnded = errEnded || ch.stderr.readableEnded || !ch.stderr.readable;
            if (!outEnded) ch.resume();
            if (!errEnded) ch.stderr.resume();
            maybeDone();
            setTimeout(finalize, 200).unref();
          });
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      };

      try {
        client.exec(wrapped, onOpen);
      } catch (e) {
        settled = true;
        cleanup();
        reject(new NotStarted(e));
      }
    });
  }

  /** Kill every process of one command (bounded: never waits more than ~10 s). */
  private async killRemote(client: Client, marker: string, sudo: boolean): Promise<void> {
    if (this.client !== client) return; // the connection is gone: sshd hangs up the session itself
    const release = await this.spare.acquire();
    try {
      const ctl = new AbortController();
      const t = setTimeout(() => ctl.abort(), 10_000);
      try {
        await this.runChannel(client, {
          command: killScript(marker),
          shown: 'kill timed-out command',
          sudo,
          opts: { signal: ctl.signal },
          internal: true,
        });
      } finally {
        clearTimeout(t);
      }
    } catch {
      /* best effort: the channel is closed anyway */
    } finally {
      release();
    }
  }

  private sudoError(why: string): SshError {
    const u = this.target.user;
    const missing = /not found|No such file/i.test(why);
    return new SshError({
      kind: 'sudo',
      host: this.name,
      retryable: false,
      message: missing
        ? `sudo is not installed on ${this.name}.`
        : `User ${u} on ${this.name} cannot use sudo without a password${why ? ` (sudo said: ${why})` : ''}.`,
      hint: missing
        ? 'Install sudo on the machine, or connect as root.'
        : `kcore-wizard runs sudo non-interactively (sudo -n). Allow password-less sudo for ${u}: ` +
          `echo '${u} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/${u} (Vagrant boxes set this up for the vagrant user).`,
    });
  }

  private probeSudo(): Promise<{ ok: boolean; why: string }> {
    if (this.target.user === 'root') return Promise.resolve({ ok: true, why: '' });
    if (!this.sudoProbe) {
      const p = this.exec('sudo -n true').then((r) => ({
        ok: r.exitCode === 0,
        why: r.stderr.trim().split('\n').slice(-1)[0]?.replace(/^sudo:\s*/, '') ?? '',
      }));
      p.catch(() => {
        if (this.sudoProbe === p) this.sudoProbe = undefined; // transport trouble: probe again next time
      });
      this.sudoProbe = p;
    }
    return this.sudoProbe;
  }

  async sudoOk(): Promise<boolean> {
    return (await this.probeSudo()).ok;
  }

  async readFile(path: string, opts: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<Buffer | null> {
    const r = await this.execInternal(catScript(path), { sudo: opts.sudo, signal: opts.signal }, true, `read ${path}`);
    if (r.exitCode === MISSING_EXIT) return null;
    if (r.exitCode !== 0) throw this.commandFailed(`read ${path}`, r, `Reading ${path}`);
    return r.rawStdout ?? Buffer.alloc(0);
  }

  async sha256(path: string, opts: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<string | null> {
    const r = await this.execInternal(sha256Script(path), { sudo: opts.sudo, signal: opts.signal }, false, `sha256sum ${path}`);
    if (r.exitCode === MISSING_EXIT) return null;
    if (r.exitCode !== 0) throw this.commandFailed(`sha256sum ${path}`, r, `Checksumming ${path}`);
    return r.stdout.trim().split(/\s+/)[0] ?? null;
  }

  /** The first upload into a directory during a run also deletes the temps earlier runs left there. */
  private sweepAge(path: string): number | undefined {
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.';
    if (this.swept.has(dir)) return undefined;
    this.swept.add(dir);
    return Math.ceil((Date.now() - this.settings.runStartedAt) / 1000) + 1;
  }

  async upload(file: UploadSpec, opts: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    const sha = createHash('sha256').update(content).digest('hex');
    const secrets = file.secret ? secretsFromContent(content) : [];
    const base = { sudo: file.sudo, signal: opts.signal, secrets };
    const what = `upload ${file.path}`;

    const failed = (r: ExecResult): SshError => {
      if (r.exitCode === CORRUPT_EXIT) {
        return new SshError({
          kind: 'protocol',
          host: this.name,
          retryable: true,
          message: `The upload of ${file.path} to ${this.name} arrived corrupted (checksum mismatch); the target was left untouched.`,
          hint: 'Run the step again.',
        });
      }
      return this.commandFailed(what, r, `Writing ${file.path}`);
    };

    if (content.length <= SMALL_UPLOAD_BYTES) {
      // One session: compare and (only if needed) write. The content travels even when unchanged.
      const script = uploadScript({ ...file, sha256: sha, checkFirst: true, tempId: randomBytes(8).toString('hex'), sweepOlderThanSec: this.sweepAge(file.path) });
      const r = await this.execInternal(script, { ...base, stdin: content }, false, what);
      if (r.exitCode !== 0) throw failed(r);
      return { changed: !r.stdout.trimEnd().endsWith('kcore-upload:unchanged'), sha256: sha };
    }

    // Large content: look first, so an unchanged file costs no transfer.
    const st = await this.execInternal(statScript(file.path, this.sweepAge(file.path)), base, false, `stat ${file.path}`);
    let sameContent = false;
    let sameAttrs = false;
    if (st.exitCode === 0 && st.stdout.trim() !== 'missing') {
      const [attrs, sum] = st.stdout.trim().split('\n');
      const [mode, owner, group] = (attrs ?? '').split(' ');
      sameContent = (sum ?? '').split(/\s+/)[0] === sha;
      sameAttrs =
        mode !== undefined &&
        parseInt(mode, 8) === file.mode &&
        (file.owner === undefined || owner === file.owner) &&
        (file.group === undefined || group === file.group);
    }
    if (sameContent && sameAttrs) return { changed: false, sha256: sha };
    if (sameContent) {
      const r = await this.execInternal(fixAttrsScript(file), base, false, `chmod/chown ${file.path}`);
      if (r.exitCode !== 0) throw this.commandFailed(what, r, `Setting mode/owner of ${file.path}`);
      return { changed: true, sha256: sha };
    }
    const r = await this.execInternal(uploadScript({ ...file, sha256: sha, tempId: randomBytes(8).toString('hex') }), { ...base, stdin: content }, false, what);
    if (r.exitCode !== 0) throw failed(r);
    return { changed: true, sha256: sha };
  }

  async close(): Promise<void> {
    this.closedByUser = true;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.destroy();
        resolve();
      }, 2000);
      t.unref();
      c.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      c.end();
    });
  }
}
