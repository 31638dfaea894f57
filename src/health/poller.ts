/**
 * The dashboard's poller: polls every host once at start and then every interval, never overlapping
 * (a slow poll delays the next instead of stacking), paused while a dialog is open, each host under its
 * own timeout so that one unreachable host never delays the others' results.
 */
export interface PollerOptions<H, R> {
  hosts: H[];
  /** Probe one host; rejects or times out for an unreachable one. */
  probe(host: H, signal: AbortSignal): Promise<R>;
  /** The result for a host whose probe failed or took longer than the timeout. */
  onError(host: H, error: string, durationMs: number): R;
  onResult(host: H, result: R): void;
  onCycle?(cycle: { startedAt: number; endedAt: number }): void;
  intervalMs: number;
  /** Per-host probe timeout (default: the interval, at least 3 s). */
  timeoutMs?: number;
}

export class Poller<H, R> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private paused = false;
  /** Polling on a schedule (start) — a one-off refreshNow works without it. */
  private started = false;
  private stopped = false;
  private readonly ac = new AbortController();
  /** Cycles started so far (tests and the header's "last refresh"). */
  cycles = 0;
  maxConcurrentCycles = 0;
  private active = 0;

  constructor(private readonly opts: PollerOptions<H, R>) {}

  start(): void {
    this.started = true;
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ac.abort();
  }

  pause(): void {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.running) this.schedule(0);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Poll now (the `r` key); a poll already under way is not doubled. */
  refreshNow(): Promise<void> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    return this.poll();
  }

  private schedule(ms: number): void {
    if (!this.started || this.stopped || this.paused) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private poll(): Promise<void> {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    const startedAt = Date.now();
    this.cycles++;
    this.active++;
    this.maxConcurrentCycles = Math.max(this.maxConcurrentCycles, this.active);
    const timeoutMs = this.opts.timeoutMs ?? Math.max(3000, this.opts.intervalMs);
    this.running = Promise.all(this.opts.hosts.map((h) => this.pollOne(h, timeoutMs))).then(() => {
      this.active--;
      this.running = undefined;
      const endedAt = Date.now();
      this.opts.onCycle?.({ startedAt, endedAt });
      // The next poll an interval after this one started, but never before this one ended.
      this.schedule(Math.max(0, startedAt + this.opts.intervalMs - endedAt));
    });
    return this.running;
  }

  private async pollOne(host: H, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    const ac = new AbortController();
    const onStop = () => ac.abort();
    this.ac.signal.addEventListener('abort', onStop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        this.opts.probe(host, ac.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`no answer within ${(timeoutMs / 1000).toFixed(timeoutMs < 1000 ? 1 : 0)} s`));
            ac.abort(); // after the reject: the timeout is the reason, not the abort it causes
          }, timeoutMs);
        }),
      ]);
      if (!this.stopped) this.opts.onResult(host, result);
    } catch (e) {
      if (!this.stopped) this.opts.onResult(host, this.opts.onError(host, (e as Error).message.split('\n')[0] ?? String(e), Date.now() - t0));
    } finally {
      if (timer) clearTimeout(timer);
      this.ac.signal.removeEventListener('abort', onStop);
    }
  }
}
