// One SSH connection to one host: the connection kept (connected once, reconnected between commands when it
// dropped), channels capped, commands logged, sudo probed once, files read and uploaded. How it connects
// (and checks the host key) is connect.ts; how one command runs and is killed, channel.ts; uploads, upload.ts.

import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { ChannelRunner, NotStarted, type ChannelRun, type RawResult } from './channel.js';
import { HostConnector, type ConnectionSettings } from './connect.js';
import { SshError, abortedError, classifyError } from './errors.js';
import { redact } from './redact.js';
import { MISSING_EXIT, catScript, sha256Script } from './scripts.js';
import { Semaphore } from './semaphore.js';
import type { ExecOptions, ExecResult, HostConnection, HostTarget, UploadResult, UploadSpec } from './types.js';
import { Uploader } from './upload.js';

export { hostKeyAlgorithms, type ConnectionSettings } from './connect.js';
export { SMALL_UPLOAD_BYTES } from './upload.js';

/**
 * Commands as errors and logs show them: secrets already redacted, long ones cut. A no-op converge's one batch
 * per host (the facts and every probe of the next role, smoke tests included) is ~11 000 characters for an etcd
 * member: shown whole; uploads (base64 content) are what gets cut.
 */
function brief(command: string): string {
  return command.length > 24000 ? `${command.slice(0, 24000)}… (${command.length} characters)` : command;
}

/** Longest command accepted (the remote kernel caps one argument at 128 KiB, and quoting adds some). */
export const MAX_COMMAND_BYTES = 100 * 1024;

export class SshHostConnection implements HostConnection {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private readonly slots: Semaphore;
  private readonly spare = new Semaphore(1);
  private sudoProbe: Promise<{ ok: boolean; why: string }> | undefined;
  /** What the sudo probe (or the check folded into the first sudo command) found; undefined until then. */
  private sudoKnown: { ok: boolean; why: string } | undefined;
  private closedByUser = false;
  private readonly name: string;
  private readonly connector: HostConnector;
  private readonly channels: ChannelRunner;
  private readonly uploader: Uploader;
  /** Number of times a connection was established (for tests and the dashboard). */
  connects = 0;

  constructor(
    readonly target: HostTarget,
    private readonly settings: ConnectionSettings,
  ) {
    this.slots = new Semaphore(settings.maxChannels);
    this.name = target.name || target.host;
    this.connector = new HostConnector(target, this.name, settings, (client) => this.adopt(client));
    this.channels = new ChannelRunner(this.name, (client) => this.client === client, this.spare);
    this.uploader = new Uploader(
      {
        name: this.name,
        exec: (command, opts, shownAs) => this.execInternal(command, opts, false, shownAs),
        failed: (shown, r, what) => this.commandFailed(shown, r, what),
      },
      settings.runStartedAt,
    );
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
    const c = await this.connector.connectWithRetries(signal);
    this.client = c;
    this.connects++;
    return c;
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
    let sudoCheck = false;
    if (opts.sudo && this.target.user !== 'root') {
      // Not known yet: the check rides in this command's own session (no round trip of its own).
      const known = this.sudoKnown ?? (this.sudoProbe ? await this.sudoProbe : undefined);
      if (known && !known.ok) throw this.sudoError(known.why);
      sudo = true;
      sudoCheck = !known;
    }
    const release = await this.slots.acquire(opts.signal, () => abortedError(this.name, `\`${shown}\``, opts.signal?.reason));
    try {
      const run: ChannelRun = { command, shown, sudo, opts, raw, sudoCheck };
      let result: RawResult;
      let refusals = 0;
      for (let attempt = 0; ; attempt++) {
        const client = await this.ensureClient(opts.signal);
        try {
          result = await this.channels.run(client, run);
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
            // sshd counts a session until it has processed the close of a finished or killed command:
            // a refusal right after one is transient. Nothing ran; wait a little and open again (bounded).
            if (/open failed|channel open failure/i.test(msg) && refusals < 3) {
              await new Promise((r) => setTimeout(r, 100 * 2 ** refusals++));
              if (opts.signal?.aborted) throw abortedError(this.name, `\`${shown}\``, opts.signal.reason);
              continue;
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
      if (sudoCheck) {
        if (result.sudoRefused !== undefined) {
          this.sudoKnown = { ok: false, why: result.sudoRefused };
          this.log('sudo -n true', 1, result.durationMs, false);
          throw this.sudoError(result.sudoRefused);
        }
        if (result.sudoRan) this.sudoKnown ??= { ok: true, why: '' };
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
    if (this.sudoKnown) return Promise.resolve(this.sudoKnown);
    if (!this.sudoProbe) {
      const p = this.exec('sudo -n true').then((r) => {
        this.sudoKnown ??= {
          ok: r.exitCode === 0,
          why: r.stderr.trim().split('\n').slice(-1)[0]?.replace(/^sudo:\s*/, '') ?? '',
        };
        return this.sudoKnown;
      });
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

  async upload(file: UploadSpec, opts: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    return this.uploader.upload(file, opts);
  }

  /**
   * Ends the connection (SSH disconnect, then TCP close). `linger: false` does not wait for the host's side of
   * the close: the socket no longer keeps the process alive, and the disconnect, already written, goes out
   * anyway; for the end of a run, where waiting cost ~20-30 ms of every command.
   */
  async close(opts: { linger?: boolean } = {}): Promise<void> {
    this.closedByUser = true;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    if (opts.linger === false) {
      c.end();
      (c as unknown as { _sock?: { unref?: () => void } })._sock?.unref?.();
      return;
    }
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
