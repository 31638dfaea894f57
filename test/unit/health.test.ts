// The dashboard's polling logic with a fake probe: once at start, never overlapping, an unreachable
// host never delays the others, paused while a dialog is open; and the probe parser's verdicts.
import { describe, expect, it } from 'vitest';
import { Poller } from '../../src/health/poller.js';
import { parseProbe, probeScript } from '../../src/health/probe.js';
import { isStale } from '../../src/state/dashboard-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function poller(probe: (h: string, signal: AbortSignal) => Promise<string>, intervalMs = 50, timeoutMs?: number) {
  const results: Array<{ host: string; result: string; at: number }> = [];
  const p = new Poller<string, string>({
    hosts: ['a', 'b', 'c'],
    intervalMs,
    timeoutMs,
    probe,
    onError: (h, error) => `error: ${error}`,
    onResult: (host, result) => results.push({ host, result, at: Date.now() }),
  });
  return { p, results };
}

describe('poller', () => {
  it('polls once at start, then every interval', async () => {
    const { p, results } = poller(async (h) => `ok ${h}`);
    p.start();
    await sleep(10);
    expect(results.map((r) => r.host).sort()).toEqual(['a', 'b', 'c']);
    await sleep(130);
    p.stop();
    expect(p.cycles).toBeGreaterThanOrEqual(3);
  });

  it('never overlaps a slow poll with the next', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { p } = poller(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(120); // slower than the 30 ms interval
      inFlight--;
      return 'ok';
    }, 30);
    p.start();
    await sleep(400);
    p.stop();
    expect(p.maxConcurrentCycles).toBe(1);
    expect(maxInFlight).toBe(3); // the three hosts of one cycle, never two cycles
    expect(p.cycles).toBeLessThanOrEqual(4);
  });

  it('an unreachable host times out on its own and never delays the others', async () => {
    const { p, results } = poller((h, signal) => (h === 'b' ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))) : Promise.resolve(`ok ${h}`)), 1000, 200);
    const t0 = Date.now();
    void p.refreshNow();
    await sleep(30);
    expect(results.map((r) => r.host).sort()).toEqual(['a', 'c']);
    await sleep(250);
    const b = results.find((r) => r.host === 'b')!;
    expect(b.result).toBe('error: no answer within 0.2 s');
    expect(b.at - t0).toBeGreaterThanOrEqual(190);
    p.stop();
  });

  it('pauses while a dialog is open and resumes after', async () => {
    const { p } = poller(async () => 'ok', 20);
    p.start();
    await sleep(50);
    p.pause();
    await sleep(10);
    const paused = p.cycles;
    await sleep(100);
    expect(p.cycles).toBe(paused);
    p.resume();
    await sleep(60);
    expect(p.cycles).toBeGreaterThan(paused);
    p.stop();
  });

  it('stale after three intervals without an answer', () => {
    const h = parseProbe({ name: 'etcd-01', group: 'etcd', ip: '10.0.0.101' }, '', 1_000, 5);
    expect(isStale(h, 1_000 + 3 * 2000, 2000)).toBe(false);
    expect(isStale(h, 1_000 + 3 * 2000 + 1001, 2000)).toBe(true);
    expect(isStale(undefined, 0, 2000)).toBe(true);
  });
});

describe('probe', () => {
  const etcd = { name: 'etcd-01', group: 'etcd' as const, ip: '10.0.0.101' };
  it('one batched script per host: units, etcd health over TLS', () => {
    const s = probeScript(etcd);
    expect(s).toContain("systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState etcd ");
    expect(s).toContain('endpoint health');
    expect(s).toContain('--cert=/etc/etcd/pki/kcore-client.crt');
  });

  it('judges healthy, failing and not installed', () => {
    const ok = 'U Id=etcd.service\nU LoadState=loaded\nU ActiveState=active\nU SubState=running\nE 0 https://10.0.0.101:2379 is healthy: successfully committed proposal: took = 2ms\n';
    expect(parseProbe(etcd, ok, 1, 2)).toMatchObject({ verdict: 'healthy', problems: [], etcd: { ok: true } });
    const down = 'U Id=etcd.service\nU LoadState=loaded\nU ActiveState=inactive\nU SubState=dead\nE 1 {"level":"warn","msg":"retrying"} https://10.0.0.101:2379 is unhealthy: failed to commit proposal: context deadline exceeded\n';
    expect(parseProbe(etcd, down, 1, 2)).toMatchObject({ verdict: 'failing', problems: ['etcd is inactive (dead)', expect.stringMatching(/^etcd not healthy: .*unhealthy/)] });
    const none = 'U Id=etcd.service\nU LoadState=not-found\nU ActiveState=inactive\nU SubState=dead\n';
    expect(parseProbe(etcd, none, 1, 2)).toMatchObject({ verdict: 'unknown', problems: ['no role installed yet: run kcore-wizard converge'] });
  });
});
