/**
 * The provisioning grid rendered from recorded engine events, for 4 and 40 hosts at 80×24 and 200×60:
 * every host shown (or counted when it cannot fit), nothing wider than the terminal, at most rows-1
 * lines, and the status glyphs still there when colours are off.
 */
import { describe, expect, it, vi } from 'vitest';

// Colours on for chalk (vitest's output is not a TTY): the NO_COLOR checks must have something to drop.
vi.hoisted(() => {
  process.env.FORCE_COLOR = '1';
  delete process.env.NO_COLOR;
});

import { render } from 'ink';
import { act } from 'react';
import type { EngineEvent } from '../../src/engine/events.js';
import { createRunStore } from '../../src/state/run-store.js';
import { planGrid } from '../../src/ui/components/layout.js';
import { ProvisioningGrid } from '../../src/ui/components/ProvisioningGrid.js';
import { makeTheme, ThemeProvider } from '../../src/ui/theme.js';
import { fixtureHosts, recordRun } from './fixtures/recording.js';
import { FakeStdin, SizedStdout, cells, stripAnsi } from './harness.js';

const COLOUR_SGR = /\x1b\[(?:[0-9;]*;)?(?:3[0-79]|4[0-79]|9[0-7]|10[0-7]|38;[0-9;]+|48;[0-9;]+)m/; // eslint-disable-line no-control-regex

async function renderGrid(events: EngineEvent[], columns: number, rows: number, colour = true) {
  const store = createRunStore();
  store.getState().applyMany(events);
  const stdout = new SizedStdout(columns, rows);
  const last = events[events.length - 1]!.at;
  let unmount = () => {};
  await act(async () => {
    const inst = render(
      <ThemeProvider theme={makeTheme(colour)}>
        <ProvisioningGrid store={store} width={columns} height={rows - 1} now={last + 1000} />
      </ThemeProvider>,
      {
        stdout: stdout as unknown as NodeJS.WriteStream,
        stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
        debug: true,
        exitOnCtrlC: false,
        patchConsole: false,
      },
    );
    unmount = inst.unmount;
  });
  const raw = stdout.lastFrame();
  await act(async () => unmount());
  if (process.env.SHOW_FRAMES) console.log(`--- ${columns}×${rows}\n${stripAnsi(raw)}`);
  return { raw, text: stripAnsi(raw), hosts: Object.keys(store.getState().hosts) };
}

function expectFits(text: string, columns: number, rows: number) {
  const lines = text.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(cells(l), `too wide: "${l}"`).toBeLessThanOrEqual(columns);
}

/** Every host is on screen, or counted in the "+N more not shown" line. */
function expectAllAccounted(text: string, hosts: string[]) {
  const shown = hosts.filter((h) => new RegExp(`(^|\\s)${h}(\\s|$|…)`, 'm').test(text));
  const more = /\+(\d+) more not shown/.exec(text);
  const hidden = more ? Number(more[1]) : 0;
  expect(shown.length + hidden, `shown ${shown.length}, hidden ${hidden}:\n${text}`).toBe(hosts.length);
}

const SIZES: Array<[number, number]> = [
  [80, 24],
  [200, 60],
];

describe('provisioning grid from a recorded run', () => {
  for (const n of [4, 40]) {
    const hosts = fixtureHosts(n);
    const all = recordRun(hosts);
    // Mid-run: the first worker stopped at its missing Kubernetes artifact, the other workers still busy
    // (and, with 40, the unreachable one).
    const failedAt = all.findIndex((e) => e.type === 'task-end' && e.status === 'failed' && e.role === 'kube-worker');
    const midRun = all.slice(0, failedAt + 6);
    for (const [columns, rows] of SIZES) {
      it(`${n} hosts at ${columns}×${rows}, mid-run`, async () => {
        const { text } = await renderGrid(midRun, columns, rows);
        expectFits(text, columns, rows);
        expectAllAccounted(
          text,
          hosts.map((h) => h.name),
        );
        expect(text).toMatch(/\d+ hosts · role \d\/7 kube-worker/);
        expect(text).toContain('●'); // running
        expect(text).toContain('✗'); // the failed worker
        if (n === 40) expect(text).toContain('⊘'); // the unreachable one
      });
      it(`${n} hosts at ${columns}×${rows}, finished`, async () => {
        const { text } = await renderGrid(all, columns, rows);
        expectFits(text, columns, rows);
        expectAllAccounted(
          text,
          hosts.map((h) => h.name),
        );
        expect(text).toMatch(/✗ \d+ failed/);
        expect(text).toMatch(/✓ \d+ ok/); // etcd converged
        if (n === 40) expect(text).toMatch(/⊘ 1 unreachable/);
      });
    }
  }

  it('gives 4 running hosts full panels with their task and output', async () => {
    const hosts = fixtureHosts(4);
    const all = recordRun(hosts);
    const cut = all.findIndex((e) => e.type === 'task-start' && e.role === 'kube-worker');
    const { text } = await renderGrid(all.slice(0, cut + 3), 80, 24);
    expect(text).toContain('● kube-worker-01');
    expect(text).toContain('kube-worker › node directories');
    expect(text).toMatch(/ok \d+ · changed \d+/);
    expect(text).toContain('╭');
  });

  it('collapses finished hosts to one line', async () => {
    const hosts = fixtureHosts(4);
    const all = recordRun(hosts);
    const cut = all.findIndex((e) => e.type === 'role-start' && e.role === 'kube-master');
    const { text } = await renderGrid(all.slice(0, cut + 1), 80, 24);
    expect(text).toMatch(/(^| )✓ etcd-01 {2}ok ✓15 Δ0 /m); // its 15 tasks (the membership tasks included), all unchanged
  });

  it('plans panels, one-liners and a compact list from the space', () => {
    const pending = (n: number) => fixtureHosts(n).map((h) => ({ name: h.name, state: 'pending' as const }));
    expect(planGrid(pending(4), 80, 22)).toMatchObject({ mode: 'panels', columns: 2 });
    expect(planGrid(pending(40), 200, 58)).toMatchObject({ mode: 'panels', columns: 5, outputLines: 2 });
    const compact = planGrid(pending(40), 80, 18);
    expect(compact.mode).toBe('compact');
    if (compact.mode === 'compact') {
      expect(compact.listed.length + compact.hidden.length).toBe(40);
      expect(compact.hidden.length).toBeGreaterThan(0);
    }
  });

  it('keeps the glyphs and drops the colours without colour', async () => {
    const hosts = fixtureHosts(40);
    const all = recordRun(hosts);
    const mid = all.slice(0, all.findIndex((e) => e.type === 'task-end' && e.status === 'failed' && e.role === 'kube-worker') + 6);
    const coloured = await renderGrid(mid, 200, 60, true);
    expect(coloured.raw).toMatch(COLOUR_SGR); // the check below means something
    const plain = await renderGrid(mid, 200, 60, false);
    expect(plain.raw).not.toMatch(COLOUR_SGR);
    for (const g of ['✓', '●', '✗', '⊘']) expect(plain.text).toContain(g);
    expectFits(plain.text, 200, 60);
  });
});
