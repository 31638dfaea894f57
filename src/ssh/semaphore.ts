// A counting semaphore whose waiters can be cancelled (p-limit cannot drop a queued task on abort).

export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`Semaphore limit must be a positive integer, got ${limit}`);
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Wait for a slot; returns the release function (idempotent). Rejects with `onAbort()` if the signal fires first. */
  acquire(signal?: AbortSignal, onAbort?: () => Error): Promise<() => void> {
    const makeRelease = (): (() => void) => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = this.waiters.shift();
        if (next) next();
        else this.active--;
      };
    };
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(makeRelease());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', abort);
        resolve(makeRelease()); // the slot is handed over: `active` stays the same
      };
      const abort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(onAbort ? onAbort() : new Error('aborted'));
      };
      if (signal?.aborted) {
        abort();
        return;
      }
      signal?.addEventListener('abort', abort, { once: true });
      this.waiters.push(grant);
    });
  }
}
