/**
 * A failed host's whole reason in the wizard: on the provisioning and summary screens its line or panel
 * is cut at the panel's width; ↑↓ selects a host and enter shows its state, where it stopped, the whole
 * message (hint included), what was logged for it and its last output. The run is a small one written
 * here (3 hosts, one failing with a long message) so the test does not depend on a recording's wording.
 */
import { act } from 'react';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineEvent, HostRef } from '../../src/engine/events.js';
import { emptyCounts } from '../../src/engine/events.js';
import { createRunStore } from '../../src/state/run-store.js';
import { HostDetail } from '../../src/ui/components/HostDetail.js';
import { makeTheme, ThemeProvider } from '../../src/ui/theme.js';
import type { UpResult } from '../../src/ui/wizard/actions.js';
import { KEYS, press, settle, stripAnsi, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard } from './wizard-session.js';

afterEach(closeSessions);

const REASON =
  'kubernetes-server 1.34.2 is not available from https://dl.k8s.io/v1.34.2/kubernetes-server-linux-amd64.tar.gz (HTTP 404): pick a published version in versions.kubernetes (kcore.yaml) or point artifacts.source at a mirror that has it';
const HINT = 'hint: `kcore-wizard converge --artifacts ./mirror` uses a local folder with SHA256SUMS';

function failingRun(hosts: HostRef[]): EngineEvent[] {
  const at = 1_000;
  const ev: EngineEvent[] = [{ type: 'run-start', runId: 'r1', hosts, roles: ['bootstrap', 'kube-master'], dryRun: false, at }];
  for (const h of hosts) {
    ev.push({ type: 'host-start', host: h.name, role: 'bootstrap', at });
    ev.push({ type: 'task-start', host: h.name, role: 'bootstrap', task: 'gather facts', tags: [], at });
    ev.push({ type: 'task-output', host: h.name, role: 'bootstrap', task: 'gather facts', stream: 'stdout', line: `ID=flatcar on ${h.name}`, at });
    ev.push({ type: 'task-end', host: h.name, role: 'bootstrap', task: 'gather facts', tags: [], status: 'ok', changes: [], durationMs: 5, at });
  }
  const bad = hosts[1]!.name;
  ev.push({ type: 'host-start', host: bad, role: 'kube-master', at });
  ev.push({ type: 'task-start', host: bad, role: 'kube-master', task: 'download kubernetes-server', tags: [], at });
  for (let i = 1; i <= 4; i++) ev.push({ type: 'task-output', host: bad, role: 'kube-master', task: 'download kubernetes-server', stream: 'stderr', line: `curl attempt ${i}: 404 Not Found`, at });
  ev.push({ type: 'log', level: 'warn', host: bad, message: HINT, at });
  ev.push({ type: 'task-end', host: bad, role: 'kube-master', task: 'download kubernetes-server', tags: [], status: 'failed', message: REASON, changes: [], durationMs: 9, at });
  ev.push({ type: 'host-end', host: bad, role: 'kube-master', state: 'failed', at: at + 2_000 });
  const recap: Record<string, ReturnType<typeof emptyCounts> & { state: 'ok' | 'failed' }> = {};
  for (const h of hosts) recap[h.name] = { ...emptyCounts(), ok: 1, state: h.name === bad ? 'failed' : 'ok' };
  ev.push({ type: 'run-end', status: 'failed', recap, durationMs: 2_000, at: at + 2_000 });
  return ev;
}

/** A long text, whole and in order, in the lines (wrapping may split it between words or inside a long one). */
function expectWrapped(frame: string, text: string) {
  const flat = frame.replace(/\s+/g, '');
  expect(flat, frame).toContain(text.replace(/\s+/g, ''));
}

describe('a failed host in the wizard', () => {
  it('opens the whole failure from the summary (↑↓ selects, enter opens, esc closes)', async () => {
    const s = await openWizard({ cancelDelayMs: 1 }, [80, 24]);
    // This run's `up` replays the failing run written above.
    s.actions.up = async (_dir, spec, emit): Promise<UpResult> => {
      const hosts: HostRef[] = [
        { name: 'etcd-01', group: 'etcd', ip: '10.0.0.101' },
        { name: 'kube-master-01', group: 'kube-master', ip: '10.0.0.111' },
        { name: 'kube-worker-01', group: 'kube-worker', ip: '10.0.0.121' },
      ];
      void spec;
      for (const e of failingRun(hosts)) emit(e);
      return { ok: false, message: 'kube-master-01 failed at kube-master › download kubernetes-server' };
    };
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter);
    await waitFor(() => s.frame().includes('5/8 Review'), 'review', s.frame);
    await press(s.stdin, KEYS.enter, 'y');
    await waitFor(() => s.frame().includes('8/8 Summary'), 'the summary', s.frame, 8000);
    // On the summary the reason is cut at the line's width…
    expect(s.frame()).toMatch(/✗ kube-master-01 +failed: kubernetes-server 1\.34\.2 is not av.*…/);
    expect(s.frame()).not.toContain('point artifacts.source at a mirror');
    expect(s.frame()).toMatch(/↑↓ select host/);
    // …↑↓ selects a host (marked), enter opens it.
    await press(s.stdin, KEYS.down, KEYS.down);
    expect(s.frame()).toMatch(/›✗ kube-master-01/);
    expect(s.frame()).toMatch(/enter details/);
    await press(s.stdin, KEYS.enter);
    const f = s.frame();
    expect(f).toMatch(/^ ✗ kube-master-01 +kube-master · 10\.0\.0\.111 +failed/m);
    expect(f).toContain('stopped at kube-master › download kubernetes-server');
    expectWrapped(f, REASON);
    expectWrapped(f, `! ${HINT}`);
    // The newest output lines take the rows left; a taller terminal shows them all.
    expect(f).toContain('curl attempt 4: 404 Not Found');
    expectFits(s);
    await act(async () => s.stdout.resize(200, 60));
    await settle();
    for (let i = 1; i <= 4; i++) expect(s.frame()).toContain(`curl attempt ${i}: 404 Not Found`);
    expectFits(s);
    await act(async () => s.stdout.resize(80, 24));
    await settle();
    // ↑ moves to another host without closing; esc closes.
    await press(s.stdin, KEYS.up);
    expect(s.frame()).toMatch(/^ ✓ etcd-01 +etcd · 10\.0\.0\.101/m);
    expect(s.frame()).toContain('ID=flatcar on etcd-01');
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('8/8 Summary');
    expect(s.frame()).toMatch(/›✓ etcd-01/);
    // The same on the provisioning grid (esc from the summary).
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('7/8 Provisioning');
    await press(s.stdin, KEYS.down, KEYS.enter);
    expectWrapped(s.frame(), REASON);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('7/8 Provisioning');
  }, 30_000);

  it('draws the detail in the rows it has, the failure before the output (ink-testing-library)', () => {
    const store = createRunStore();
    const hosts: HostRef[] = [
      { name: 'etcd-01', group: 'etcd', ip: '10.0.0.101' },
      { name: 'kube-master-01', group: 'kube-master', ip: '10.0.0.111' },
    ];
    act(() => store.getState().applyMany(failingRun(hosts)));
    for (const [width, height] of [
      [58, 19],
      [78, 19],
    ] as const) {
      let r!: ReturnType<typeof render>;
      act(() => {
        r = render(
          <ThemeProvider theme={makeTheme(false)}>
            <HostDetail store={store} host="kube-master-01" width={width} height={height} now={5_000} />
          </ThemeProvider>,
        );
      });
      const frame = stripAnsi(r.lastFrame() ?? '');
      const ls = frame.split('\n');
      expect(ls).toHaveLength(height);
      for (const l of ls) expect(Array.from(l).length).toBeLessThanOrEqual(width);
      expectWrapped(frame, REASON);
      expect(ls.at(-1)).toContain('↑↓ another host · esc or enter closes');
      // The newest output line is kept when not all fit.
      expect(frame).toContain('curl attempt 4: 404 Not Found');
      act(() => r.unmount());
    }
  });
});
