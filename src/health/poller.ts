/**
 * The dashboard's poller. Every host has its own loop: polled once at start, then every interval,
 * never two polls of a host at once (a poll slower than the interval delays that host's next one, it
 * does not stack), each poll under its own timeout. Hosts do not wait for each other, so one host that
 * hangs or refuses never delays the others' results nor their next polls. Paused while a dialog is
 * open: polls under way finish, no new ones start; resuming polls at once whatever is due.
 * No React, no SSH: the probe is injected.
 */

export interface PollerOptions<H, R> {
  hosts: readonly H[];
  /** A host's key (its name). */
  key(host: H): string;
  /** Probe one host; rejects (or never settles) for an unreachable one. Abort the work on `signal`. */
  probe(host: H, signal: AbortSignal): Promise<R>;
  /** The result for a host whose probe rejected or outlived the timeout. */
  onError(host: H, error: string, durationMs: number): R;
  onResult(host: H, result: R): void;
  /** A host's poll starts (the UI may show a spinner). */
  onStart?(host: H): void;
  intervalMs: number;
  /** Per-host probe timeout. Default: twice the interval, at least 5 s. */
  timeoutMs?: number;
  now?: () => number;
}

interface Slot<H> {
  key: string;
  host: H;
  timer?: ReturnType<typeof setTimeout>;
  inflight?: Promise<void>;
  lastStart?: number;
  polls: number;
}

export function defaultTimeoutMs(intervalMs: number): number {
  return Math.max(5000, 2 * intervalMs);
}

export class Poller<H, R> {
  private readonly slots: Slot<H>[];
  private readonly ac = new AbortController();
  private readonly now: () => number;
  private started = false;
  private closed = false;
  private pausedFlag = false;
  readonly timeoutMs: number;

  constructor(private readonly opts: PollerOptions<H, R>) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? defaultTimeoutMs(opts.intervalMs);
    this.slots = opts.hosts.map((host) => ({ key: opts.key(host), host, polls: 0 }));
  }

  /** Poll every host now, then every interval. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const s of this.slots) void this.poll(s);
  }

  /** Stop for good: timers cleared, probes under way aborted, their results dropped. */
  stop(): void {
    this.closed = true;
    for (const s of this.slots) this.clear(s);
    this.ac.abort(new Error('the dashboard closed'));
  }

  pause(): void {
    if (this.pausedFlag) return;
    this.pausedFlag = true;
    for (const s of this.slots) this.clear(s);
  }

  resume(): void {
    if (!this.pausedFlag) return;
    this.pausedFlag = false;
    if (!this.started) return;
    for (const s of this.slots) if (!s.inflight) this.scheduleNext(s);
  }

  get paused(): boolean {
    return this.pausedFlag;
  }

  /** Polls finished per host (tests and figures). */
  pollCount(key: string): number {
    return this.slots.find((s) => s.key === key)?.polls ?? 0;
  }

  /** Whether a host's poll is under way. */
  polling(key: string): boolean {
    return !!this.slots.find((s) => s.key === key)?.inflight;
  }

  /**
   * Poll every host now (the `r` key; `--once`): a host already being polled is not polled twice, its
   * poll under way counts. Resolves when every host has answered or timed out.
   */
  refreshNow(keys?: string[]): Promise<void> {
    const slots = keys ? this.slots.filter((s) => keys.includes(s.key)) : this.slots;
    return Promise.all(slots.map((s) => s.inflight ?? this.poll(s))).then(() => undefined);
  }

  private clear(s: Slot<H>): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
  }

  /** The next poll an interval after the last one started, never before it ended. */
  private scheduleNext(s: Slot<H>): void {
    this.clear(s);
    if (this.closed || this.pausedFlag || !this.started) return;
    const due = s.lastStart === undefined ? 0 : Math.max(0, s.lastStart + this.opts.intervalMs - this.now());
    // Overdue (a slow poll, or resuming): at once, not a timer tick later.
    if (due === 0) {
      void this.poll(s);
      return;
    }
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.poll(s);
    }, due);
  }

  private poll(s: Slot<H>): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (s.inflight) return s.inflight;
    this.clear(s);
    s.lastStart = this.now();
    const p = this.pollOne(s).finally(() => {
      s.inflight = undefined;
      s.polls++;
      this.scheduleNext(s);
    });
    s.inflight = p;
    return p;
  }

  private async pollOne(s: Slot<H>): Promise<void> {
    const t0 = this.now();
    const ac = new AbortController();
    const onStop = () => ac.abort(this.ac.signal.reason);
    this.ac.signal.addEventListener('abort', onStop, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.opts.onStart?.(s.host);
    try {
      const result = await Promise.race([
        this.opts.probe(s.host, ac.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const e = new Error(`no answer within ${formatSeconds(this.timeoutMs)}`);
            ac.abort(e);
            reject(e);
          }, this.timeoutMs);
        }),
      ]);
      if (!this.closed) this.opts.onResult(s.host, result);
    } catch (e) {
      if (!this.closed) this.opts.onResult(s.host, this.opts.onError(s.host, firstLine(e), this.now() - t0));
    } finally {
      if (timer) clearTimeout(timer);
      this.ac.signal.removeEventListener('abort', onStop);
    }
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}
