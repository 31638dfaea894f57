/**
 * One at a time per key, within this process: `const inTurn = keyedQueue(); await inTurn(file, () => …)`. Each
 * call starts when the previous one for the same key has settled (whether it failed or not); keys are
 * forgotten once their queue is empty. Not a lock between processes.
 */
export function keyedQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const next = (tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return next;
  };
}
