// One connection per host, shared; hosts worked on in parallel up to a cap.

import type { Duplex } from 'node:stream';
import pLimit from 'p-limit';
import { SshHostConnection, type ConnectionSettings } from './connection.js';
import { SshError, abortedError } from './errors.js';
import { KnownHosts } from './known-hosts.js';
import type { HostConnection, HostTarget, PoolOptions } from './types.js';

export const POOL_DEFAULTS = {
  maxHosts: 30,
  maxChannelsPerHost: 8,
  connectTimeoutMs: 20_000,
  // A connection that answers nothing is dead after interval × (countMax + 1) at most: 15 s, within the
  // 20 s a cut-off host may hold a run. Commands that print nothing for longer are unaffected: sshd answers
  // keepalives while they run. (ssh2 1.17 lib/client.js: sendKA counts unanswered pings, resetKA on replies.)
  keepaliveIntervalMs: 5_000,
  keepaliveCountMax: 2,
  retries: 2,
  retryBaseDelayMs: 500,
} as const;

function targetKey(t: HostTarget): string {
  // The name too: hosts that share an address and port (one sshd, a NAT) each get their own
  // connection, so that every error and event names the host it is about.
  const own = `${t.name}=${t.user}@${t.host.toLowerCase()}:${t.port}`;
  return t.proxyJump ? `${own} via ${targetKey(t.proxyJump)}` : own;
}

export interface HostOutcome<T> {
  target: HostTarget;
  result?: T;
  error?: SshError;
}

export class SshPool {
  readonly knownHosts: KnownHosts;
  private readonly settings: ConnectionSettings;
  private readonly conns = new Map<string, SshHostConnection>();
  private readonly maxHosts: number;
  /** Connections started by warm() that no caller has asked for yet, and the errors of those that failed. */
  private readonly warming = new Map<string, Promise<void>>();
  private readonly warmFailures = new Map<string, unknown>();
  private closing = new AbortController();

  constructor(readonly opts: PoolOptions) {
    this.knownHosts = new KnownHosts(opts.knownHostsPath);
    this.maxHosts = opts.maxHosts ?? POOL_DEFAULTS.maxHosts;
    const maxChannels = opts.maxChannelsPerHost ?? POOL_DEFAULTS.maxChannelsPerHost;
    if (maxChannels > 9) {
      // One session is kept spare for killing timed-out commands; OpenSSH allows 10 per connection.
      throw new Error(`maxChannelsPerHost must be at most 9 (OpenSSH's MaxSessions is 10), got ${maxChannels}`);
    }
    const s: ConnectionSettings = {
      knownHosts: this.knownHosts,
      acceptChangedHostKeys: opts.acceptChangedHostKeys ?? false,
      maxChannels,
      connectTimeoutMs: opts.connectTimeoutMs ?? POOL_DEFAULTS.connectTimeoutMs,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? POOL_DEFAULTS.keepaliveIntervalMs,
      keepaliveCountMax: opts.keepaliveCountMax ?? POOL_DEFAULTS.keepaliveCountMax,
      retries: opts.retries ?? POOL_DEFAULTS.retries,
      retryBaseDelayMs: opts.retryBaseDelayMs ?? POOL_DEFAULTS.retryBaseDelayMs,
      runStartedAt: opts.runStartedAt ?? Date.now(),
      openJump: (jump, host, port, signal) => this.openJump(jump, host, port, signal),
    };
    if (opts.onHostKey) s.onHostKey = opts.onHostKey;
    if (opts.onCommand) s.onCommand = opts.onCommand;
    this.settings = s;
  }

  private get(target: HostTarget): SshHostConnection {
    const key = targetKey(target);
    let c = this.conns.get(key);
    if (!c || c.isClosed) {
      c = new SshHostConnection(target, this.settings);
      this.conns.set(key, c);
    }
    return c;
  }

  private async openJump(jump: HostTarget, host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    return this.get(jump).forwardOut(host, port, signal);
  }

  /**
   * Start connecting to every target now, all at once (TCP, handshake, host key, authentication), so no
   * host waits for its handshake when the first task that needs it comes. Never rejects: a failure is kept
   * and thrown by the first connection() call for that target, so it is reported by whoever needs the host,
   * without a second attempt. Attempts end with the signal or closeAll().
   */
  warm(targets: HostTarget[], signal?: AbortSignal): void {
    const ctl = new AbortController();
    const stop = (): void => ctl.abort(signal?.aborted ? signal.reason : this.closing.signal.reason);
    if (signal?.aborted || this.closing.signal.aborted) return;
    signal?.addEventListener('abort', stop, { once: true });
    this.closing.signal.addEventListener('abort', stop, { once: true });
    let pending = 0;
    const done = (): void => {
      if (--pending > 0) return;
      signal?.removeEventListener('abort', stop);
      this.closing.signal.removeEventListener('abort', stop);
    };
    for (const t of targets) {
      const key = targetKey(t);
      const c = this.get(t);
      if (this.warming.has(key) || c.isConnected) continue;
      pending++;
      const p: Promise<void> = c.connect(ctl.signal).then(
        () => {
          if (this.warming.get(key) === p) this.warming.delete(key);
          done();
        },
        (e: unknown) => {
          if (this.warming.get(key) === p) {
            this.warming.delete(key);
            this.warmFailures.set(key, e);
          }
          done();
        },
      );
      this.warming.set(key, p);
    }
    if (pending === 0) done();
  }

  /** The host's shared connection, connected (host key checked, authenticated) before it is returned. */
  async connection(target: HostTarget, signal?: AbortSignal): Promise<HostConnection & SshHostConnection> {
    const key = targetKey(target);
    const failed = this.warmFailures.get(key);
    if (failed !== undefined) {
      this.warmFailures.delete(key);
      throw failed;
    }
    // A warm() attempt still under way is joined (not repeated); its outcome is this caller's from now on.
    this.warming.delete(key);
    const c = this.get(target);
    await c.connect(signal);
    return c;
  }

  /**
   * Run `fn` once per host, at most `maxHosts` at a time. Never rejects: each host gets a result or an
   * SshError (results are in the order of `targets`).
   */
  async forEachHost<T>(targets: HostTarget[], fn: (c: HostConnection) => Promise<T>, signal?: AbortSignal): Promise<Array<HostOutcome<T>>> {
    const limit = pLimit(Math.max(1, this.maxHosts));
    return Promise.all(
      targets.map((target) =>
        limit(async (): Promise<HostOutcome<T>> => {
          const name = target.name || target.host;
          if (signal?.aborted) return { target, error: abortedError(name, 'Work', signal.reason) };
          try {
            const c = await this.connection(target, signal);
            return { target, result: await fn(c) };
          } catch (e) {
            return { target, error: asSshError(e, name) };
          }
        }),
      ),
    );
  }

  /** Connections currently held (connected or not). */
  get size(): number {
    return this.conns.size;
  }

  /** Closes every connection; `linger: false` does not wait for the hosts' side of each close (HostConnection.close). */
  async closeAll(opts: { linger?: boolean } = {}): Promise<void> {
    this.closing.abort(new Error('the pool was closed'));
    this.closing = new AbortController();
    this.warming.clear();
    this.warmFailures.clear();
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.close(opts)));
    await this.opts.onClosed?.();
  }
}

/** Errors thrown by a forEachHost callback that are not SshErrors are reported as 'command-failed'. */
function asSshError(e: unknown, host: string): SshError {
  if (e instanceof SshError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new SshError({ kind: 'command-failed', host, message: `${host}: ${msg}`, retryable: false, cause: e });
}
