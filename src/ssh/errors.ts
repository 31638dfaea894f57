// Errors of the SSH engine: one class, a kind to branch on, and a hint that says what to check.

import type { HostTarget } from './types.js';

export type SshErrorKind = 'unreachable' | 'auth' | 'host-key' | 'sudo' | 'command-failed' | 'timeout' | 'aborted' | 'protocol';

export interface SshErrorInit {
  kind: SshErrorKind;
  host: string;
  message: string;
  hint?: string;
  retryable?: boolean;
  cause?: unknown;
  /** For 'command-failed': the exit status. */
  exitCode?: number | null;
}

export class SshError extends Error {
  override name = 'SshError';
  readonly kind: SshErrorKind;
  readonly host: string;
  readonly hint: string;
  readonly retryable: boolean;
  readonly exitCode?: number | null;

  constructor(init: SshErrorInit) {
    super(init.message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.kind = init.kind;
    this.host = init.host;
    this.hint = init.hint ?? '';
    this.retryable = init.retryable ?? false;
    if (init.exitCode !== undefined) this.exitCode = init.exitCode;
  }

  /** Message and hint together, for people. */
  describe(): string {
    return this.hint ? `${this.message}\n${this.hint}` : this.message;
  }
}

export function isSshError(e: unknown): e is SshError {
  return e instanceof SshError;
}

/** `user@host:port` (with the target name when it differs from the host). */
export function describeTarget(t: Pick<HostTarget, 'name' | 'host' | 'port' | 'user'>): string {
  const addr = `${t.user}@${t.host}:${t.port}`;
  return t.name && t.name !== t.host ? `${t.name} (${addr})` : addr;
}

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);

interface NodeishError {
  message?: string;
  code?: string;
  level?: string;
}

export interface ClassifyContext {
  target: HostTarget;
  /** The error happened while connecting (TCP, handshake, authentication). */
  phase: 'connect' | 'exec';
  /** What authentication was offered, for auth failures. */
  authTried?: string[];
}

/** Turn whatever ssh2 / net threw into an SshError with a hint. Already-classified errors pass through. */
export function classifyError(err: unknown, ctx: ClassifyContext): SshError {
  if (err instanceof SshError) return err;
  const t = ctx.target;
  const who = describeTarget(t);
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as NodeishError;
  const msg = e.message ?? String(err);
  const code = e.code ?? '';
  const reachHint =
    `Is the machine running? (\`vagrant status\`) Is ${t.host}:${t.port} reachable from here, and is sshd listening on it?` +
    (t.proxyJump ? ` The connection goes through ${describeTarget(t.proxyJump)}.` : '');

  if (e.level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
    const tried = ctx.authTried && ctx.authTried.length > 0 ? ctx.authTried.join(', ') : 'no key (no identity file and no ssh-agent)';
    return new SshError({
      kind: 'auth',
      host: t.name,
      message: `Authentication failed for ${who}: the server refused every key offered (tried ${tried}).`,
      hint:
        `Check that the public half of the key is in ~${t.user}/.ssh/authorized_keys on ${t.name}, that the user name "${t.user}" is right,` +
        ` and that the identity file is the one Vagrant generated (\`vagrant ssh-config ${t.name}\`).`,
      retryable: false,
      cause: err,
    });
  }
  if (e.level === 'client-timeout' || code === 'ETIMEDOUT' || /timed out/i.test(msg)) {
    const keepalive = /keepalive/i.test(msg);
    return new SshError({
      kind: 'timeout',
      host: t.name,
      message: keepalive
        ? `Connection to ${who} stopped answering (keepalive timeout).`
        : `Timed out connecting to ${who} (${msg}).`,
      hint: reachHint,
      retryable: ctx.phase === 'connect' || keepalive,
      cause: err,
    });
  }
  if (code === 'ECONNREFUSED') {
    return new SshError({
      kind: 'unreachable',
      host: t.name,
      message: `Connection refused by ${t.host}:${t.port} (${t.name}).`,
      hint: `The machine answers but nothing listens on port ${t.port}. Is sshd running? Is the port right? (\`vagrant ssh-config ${t.name}\`) ${reachHint}`,
      retryable: true,
      cause: err,
    });
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || e.level === 'client-dns') {
    return new SshError({
      kind: 'unreachable',
      host: t.name,
      message: `Cannot reach ${t.host}:${t.port} (${t.name}): ${code || msg}.`,
      hint: reachHint,
      retryable: code !== 'ENOTFOUND',
      cause: err,
    });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /connection lost before handshake/i.test(msg)) {
    return new SshError({
      kind: 'unreachable',
      host: t.name,
      message: `Connection to ${who} was reset (${code || msg}).`,
      hint: `sshd closed the connection. It may still be starting, or MaxStartups may be throttling new connections. ${reachHint}`,
      retryable: ctx.phase === 'connect',
      cause: err,
    });
  }
  if (/cannot parse privatekey|private key|passphrase|encrypted/i.test(msg)) {
    return new SshError({
      kind: 'auth',
      host: t.name,
      message: `Cannot use identity file ${t.identityFile ?? '(none)'} for ${who}: ${msg}`,
      hint: 'Use an unencrypted private key (Vagrant generates one), or load an encrypted key into ssh-agent (`ssh-add`).',
      retryable: false,
      cause: err,
    });
  }
  return new SshError({
    kind: 'protocol',
    host: t.name,
    message: `SSH ${ctx.phase === 'connect' ? 'connection to' : 'session with'} ${who} failed: ${msg}`,
    hint: ctx.phase === 'connect' ? reachHint : 'The SSH session broke; running the step again reconnects.',
    retryable: ctx.phase === 'connect' && RETRYABLE_CODES.has(code),
    cause: err,
  });
}

export function abortedError(host: string, what: string, reason?: unknown): SshError {
  const why = reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';
  return new SshError({ kind: 'aborted', host, message: `${what} on ${host} was cancelled${why}.`, hint: '', retryable: false });
}
