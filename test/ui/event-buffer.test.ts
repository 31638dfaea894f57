/** 50 hosts streaming output reach the store in a few batches, not one update per line. */
import { describe, expect, it, vi } from 'vitest';
import { createRunStore } from '../../src/state/run-store.js';
import { createEventBuffer } from '../../src/ui/event-buffer.js';
import { fixtureHosts, recordRun } from './fixtures/recording.js';

describe('event buffer', () => {
  it('applies a burst of events in one batch per interval, in order', async () => {
    const store = createRunStore();
    const updates = vi.fn();
    store.subscribe(updates);
    const buffer = createEventBuffer((events) => store.getState().applyMany(events), 20);
    const events = recordRun(fixtureHosts(50));
    expect(events.length).toBeGreaterThan(1000);
    for (const e of events.slice(0, 600)) buffer.push(e);
    expect(updates).not.toHaveBeenCalled();
    await new Promise((r) => setTimeout(r, 40));
    expect(updates).toHaveBeenCalledTimes(1);
    for (const e of events.slice(600)) buffer.push(e);
    buffer.close();
    expect(updates).toHaveBeenCalledTimes(2);
    expect(store.getState().status).toBe('failed');
    expect(Object.keys(store.getState().hosts)).toHaveLength(51); // and the control machine, as real runs have
  });
});
