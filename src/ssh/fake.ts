// Scripted transports for pure unit tests of code built on the SSH engine (no network, no sshd).

import { createHash } from 'node:crypto';
import { SshError, abortedError } from './errors.js';
import { LineSplitter, createRedactor, secretsFromContent } from './redact.js';
import type { ExecOptions, ExecResult, HostConnection, HostTarget, Transport, UploadResult, UploadSpec } from './types.js';

export type FakeMatcher = string | RegExp | ((command: string, opts: ExecOptions) => boolean);

export interface FakeResponse {
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
  signal?: string;
  /** Simulated run time (honours timeoutMs and AbortSignal). */
  delayMs?: number;
}

export type FakeReply = FakeResponse | SshError | ((command: string, opts: ExecOptions) => FakeResponse | SshError | Promise<FakeResponse | SshError>);

export interface FakeCall {
  command: string;
  opts: ExecOptions;
  stdin?: string;
  sudo: boolean;
}

interface Rule {
  match: FakeMatcher;
  reply: FakeReply;
  times: number;
}

export interface FakeTransportOptions {
  /** What an unscripted command gets: an error naming it (default), or success with empty output. */
  unmatched?: 'error' | 'ok';
  /** Host name used in errors. */
  host?: string;
}

function matches(m: FakeMatcher, command: string, opts: ExecOptions): boolean {
  if (typeof m === 'string') return m === command;
  if (m instanceof RegExp) return m.test(command);
  return m(command, opts);
}

/**
 * Scripted responses: `on(match, reply)` where match is the exact command, a RegExp or a predicate.
 * Rules are tried in the order they were added; `once()` rules are used up. Every call is recorded in
 * `calls`. Output goes through the same redaction and line streaming as the real transport.
 */
export class FakeTransport implements Transport {
  readonly calls: FakeCall[] = [];
  private readonly rules: Rule[] = [];
  closed = false;
  protected readonly host: string;

  constructor(private readonly options: FakeTransportOptions = {}) {
    this.host = options.host ?? 'fake';
  }

  on(match: FakeMatcher, reply: FakeReply): this {
    this.rules.push({ match, reply, times: Infinity });
    return this;
  }

  once(match: FakeMatcher, reply: FakeReply): this {
    this.rules.push({ match, reply, times: 1 });
    return this;
  }

  /** Commands run so far (optionally those matching). */
  commands(match?: FakeMatcher): string[] {
    return this.calls.filter((c) => !match || matches(match, c.command, c.opts)).map((c) => c.command);
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new SshError({ kind: 'aborted', host: this.host, message: `The connection to ${this.host} was closed.` });
    const started = Date.now();
    const call: FakeCall = { command, opts, sudo: opts.sudo === true };
    if (opts.stdin !== undefined) call.stdin = typeof opts.stdin === 'string' ? opts.stdin : opts.stdin.toString('utf8');
    this.calls.push(call);
    if (opts.signal?.aborted) throw abortedError(this.host, `\`${command}\``, opts.signal.reason);

    const rule = this.rules.find((r) => r.times > 0 && matches(r.match, command, opts));
    let reply: FakeResponse | SshError;
    if (!rule) {
      if (this.options.unmatched === 'ok') reply = {};
      else throw new Error(`FakeTransport(${this.host}): no response scripted for command: ${command}`);
    } else {
      rule.times--;
      reply = typeof rule.reply === 'function' ? await rule.reply(command, opts) : rule.reply;
    }
    if (reply instanceof SshError) throw reply;
    if (reply.delayMs) await this.wait(reply.delayMs, command, opts);

    const secrets = opts.secrets ?? [];
    const stream = (text: string, cb?: (l: string) => void): string => {
      const r = createRedactor(secrets);
      const out = r.push(text) + r.flush();
      const ls = new LineSplitter((l) => cb?.(l));
      ls.push(out);
      ls.flush();
      return out;
    };
    const result: ExecResult = {
      stdout: stream(reply.stdout ?? '', opts.onStdout),
      stderr: stream(reply.stderr ?? '', opts.onStderr),
      exitCode: reply.exitCode === undefined ? 0 : reply.exitCode,
      durationMs: Date.now() - started,
    };
    if (reply.signal) {
      result.signal = reply.signal;
      result.exitCode = null;
    }
    return result;
  }

  private wait(ms: number, command: string, opts: ExecOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: SshError): void => {
        clearTimeout(t);
        if (tt) clearTimeout(tt);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const t = setTimeout(() => done(), ms);
      const tt =
        opts.timeoutMs && opts.timeoutMs < ms
          ? setTimeout(
              () => done(new SshError({ kind: 'timeout', host: this.host, message: `\`${command}\` on ${this.host} did not finish within ${opts.timeoutMs} ms; it was killed.` })),
              opts.timeoutMs,
            )
          : undefined;
      const onAbort = (): void => done(abortedError(this.host, `\`${command}\``, opts.signal?.reason));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export interface FakeFile {
  content: Buffer;
  mode: number;
  owner: string;
  group: string;
}

/**
 * A FakeTransport that is a whole HostConnection: uploads, reads and checksums work on an in-memory file
 * system (`files`), with the same changed/unchanged rules as the real engine.
 */
export class FakeHostConnection extends FakeTransport implements HostConnection {
  readonly files = new Map<string, FakeFile>();
  readonly uploads: Array<{ path: string; changed: boolean; secret: boolean }> = [];
  sudoAllowed: boolean;

  constructor(
    readonly target: HostTarget,
    options: FakeTransportOptions & { sudo?: boolean } = {},
  ) {
    super({ host: target.name, ...options });
    this.sudoAllowed = options.sudo ?? true;
  }

  private checkSudo(sudo?: boolean): void {
    if (sudo && this.target.user !== 'root' && !this.sudoAllowed) {
      throw new SshError({
        kind: 'sudo',
        host: this.host,
        message: `User ${this.target.user} on ${this.host} cannot use sudo without a password.`,
        hint: `Allow password-less sudo for ${this.target.user}.`,
      });
    }
  }

  override async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.checkSudo(opts.sudo);
    return super.exec(command, opts);
  }

  async run(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(command, opts);
    if (r.exitCode !== 0) {
      throw new SshError({ kind: 'command-failed', host: this.host, exitCode: r.exitCode, message: `\`${command}\` on ${this.host} exited with status ${r.exitCode}.` });
    }
    return r;
  }

  async sudoOk(): Promise<boolean> {
    return this.target.user === 'root' || this.sudoAllowed;
  }

  async upload(file: UploadSpec): Promise<UploadResult> {
    if (this.closed) throw new SshError({ kind: 'aborted', host: this.host, message: `The connection to ${this.host} was closed.` });
    this.checkSudo(file.sudo);
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const old = this.files.get(file.path);
    const writer = file.sudo || this.target.user === 'root' ? 'root' : this.target.user;
    const owner = file.owner ?? old?.owner ?? writer;
    const group = file.group ?? old?.group ?? writer;
    const changed = !old || !old.content.equals(content) || old.mode !== file.mode || old.owner !== owner || old.group !== group;
    if (changed) this.files.set(file.path, { content, mode: file.mode, owner, group });
    this.uploads.push({ path: file.path, changed, secret: file.secret === true });
    // Recorded like a command, never with the content.
    this.calls.push({ command: `upload ${file.path}`, opts: file.secret ? { secrets: secretsFromContent(content) } : {}, sudo: file.sudo === true });
    return { changed, sha256 };
  }

  async readFile(path: string, opts: { sudo?: boolean } = {}): Promise<Buffer | null> {
    this.checkSudo(opts.sudo);
    return this.files.get(path)?.content ?? null;
  }

  async sha256(path: string, opts: { sudo?: boolean } = {}): Promise<string | null> {
    this.checkSudo(opts.sudo);
    const f = this.files.get(path);
    return f ? createHash('sha256').update(f.content).digest('hex') : null;
  }
}
