import { describe, expect, it } from 'vitest';
import { keyedQueue } from '../../src/util/queue.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keyedQueue (known_hosts writers, etcd membership changes)', () => {
  it('runs calls for one key one at a time, in call order, even when one fails', async () => {
    const inTurn = keyedQueue();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) => async () => {
      log.push(`${name} start`);
      await tick(ms);
      log.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    };
    const a = inTurn('k', job('a', 30, true));
    const b = inTurn('k', job('b', 5));
    await expect(a).rejects.toThrow('a');
    await expect(b).resolves.toBe('b');
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('lets different keys run at the same time', async () => {
    const inTurn = keyedQueue();
    const log: string[] = [];
    const job = (name: string) => async () => {
      log.push(`${name} start`);
      await tick(20);
      log.push(`${name} end`);
    };
    await Promise.all([inTurn('x', job('x')), inTurn('y', job('y'))]);
    expect(log.slice(0, 2).sort()).toEqual(['x start', 'y start']);
  });
});
