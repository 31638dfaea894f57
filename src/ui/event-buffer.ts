/**
 * Batch engine events before they reach the store: 50 hosts streaming output would otherwise re-render
 * on every line. Events are queued and applied together at most every `intervalMs`; the timer only
 * exists while events are waiting.
 */
import type { EngineEvent } from '../engine/events.js';

export interface EventBuffer {
  push(e: EngineEvent): void;
  /** Apply everything queued now. */
  flush(): void;
  /** Flush and stop; later pushes are applied at once. */
  close(): void;
}

export function createEventBuffer(apply: (events: EngineEvent[]) => void, intervalMs = 80): EventBuffer {
  let queue: EngineEvent[] = [];
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    apply(batch);
  };
  return {
    push(e) {
      if (closed) return apply([e]);
      queue.push(e);
      if (!timer) timer = setTimeout(flush, intervalMs);
    },
    flush,
    close() {
      flush();
      closed = true;
    },
  };
}
