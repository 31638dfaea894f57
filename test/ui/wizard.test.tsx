/**
 * The whole wizard walked by keys with fake actions: workspace → preflight → sizing (an inline
 * validation error, fixed) → back with esc → options → review → confirm → up → summary; cancelling with
 * Ctrl+C; the help screen; the screen fitting 80×24 and 200×60.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act } from 'react';
import { SpecError } from '../../src/spec/errors.js';
import { startWizard, type WizardHandle } from '../../src/ui/wizard/run.js';
import { fakeActions, type FakeOptions } from './fixtures/fake-actions.js';
import { FakeStdin, KEYS, SizedStdout, cells, press, settle, stripAnsi, typeText, waitFor } from './harness.js';

interface Session {
  stdin: FakeStdin;
  stdout: SizedStdout;
  handle: WizardHandle;
  actions: ReturnType<typeof fakeActions>;
  frame(): string;
  hardExit: ReturnType<typeof vi.fn>;
}

const sessions: Session[] = [];

async function open(fake: FakeOptions = {}, size: [number, number] = [80, 24], env: NodeJS.ProcessEnv = {}): Promise<Session> {
  const stdin = new FakeStdin();
  const stdout = new SizedStdout(size[0], size[1]);
  const actions = fakeActions(fake);
  const hardExit = vi.fn();
  let handle!: WizardHandle;
  await act(async () => {
    handle = startWizard({
      actions,
      stdin: stdin as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: new SizedStdout(80, 24) as unknown as NodeJS.WriteStream,
      env,
      cwd: '/tmp/kc-test',
      testMode: true,
      flushMs: 10,
      hardExit,
    });
    await handle.ready;
  });
  await settle();
  const s: Session = { stdin, stdout, handle, actions, hardExit, frame: () => stripAnsi(stdout.lastFrame()) };
  sessions.push(s);
  return s;
}

afterEach(async () => {
  for (const s of sessions.splice(0)) {
    await act(async () => {
      s.handle.controller.dispose();
    });
  }
});

/** Every frame fits the terminal: no line wider than it, at most rows-1 lines. */
function expectFits(s: Session) {
  const lines = s.frame().split('\n');
  expect(lines.length).toBeLessThanOrEqual(s.stdout.rows - 1);
  for (const l of lines) expect(cells(l), `line too wide: "${l}"`).toBeLessThanOrEqual(s.stdout.columns);
}

async function toSizing(s: Session) {
  await press(s.stdin, KEYS.enter);
  await waitFor(() => s.frame().includes('checks passed'), 'preflight results', s.frame);
  await press(s.stdin, KEYS.enter);
  expect(s.frame()).toContain('3/8 Machines and sizes');
}

describe('the wizard, walked by keys', () => {
  it('goes from a new workspace to a finished cluster', async () => {
    const s = await open({ recording: { run: 'etcd' }, kubeconfig: '/tmp/kc-test/kcore-cluster/admin.kubeconfig' });
    // 1. Workspace.
    expect(s.frame()).toContain('1/8 Workspace');
    expect(s.frame()).toContain('New cluster workspace');
    expect(s.frame()).toContain('/tmp/kc-test/kcore-cluster');
    expectFits(s);
    await press(s.stdin, KEYS.ctrlU);
    await typeText(s.stdin, '/tmp/kc-test/demo');
    expect(s.frame()).toContain('/tmp/kc-test/demo');
    await press(s.stdin, KEYS.enter);

    // 2. Preflight.
    await waitFor(() => s.frame().includes('checks passed'), 'preflight results', s.frame);
    expect(s.frame()).toContain('2/8 Preflight');
    // The product's own checks (runPreflight over the fake machine's probes).
    expect(s.frame()).toMatch(/✓ vagrant +Vagrant 2\.4\.3/);
    expect(s.frame()).toMatch(/✓ network +10\.0\.0\.0\/24 is free/);
    expect(s.frame()).toContain('cluster demo');
    expectFits(s);
    await press(s.stdin, KEYS.enter);

    // 3. Sizing: 0 masters is refused inline with the spec's own message, then fixed.
    expect(s.frame()).toContain('3/8 Machines and sizes');
    expect(s.frame()).toMatch(/Total 4 machines · 7 GB of this machine's 16 GB memory/);
    await press(s.stdin, KEYS.right, KEYS.right, KEYS.right); // etcd count → memory → cpus → masters count
    await press(s.stdin, KEYS.down);
    expect(s.frame()).toMatch(/^\s+✗ a cluster needs at least 1 Kubernetes master machine \(got 0\)/m);
    expectFits(s);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('3/8 Machines and sizes'); // refused
    expect(s.frame()).toContain('fix the problem first');
    await press(s.stdin, '+');
    expect(s.frame()).not.toMatch(/^\s+✗ a cluster needs at least 1/m); // the inline error is gone

    // Memory typed as digits: 100 MB is too small for etcd, then 1024 fixes it.
    await press(s.stdin, KEYS.left, KEYS.left); // masters count → etcd cpus → etcd memory
    await typeText(s.stdin, '100');
    expect(s.frame()).toContain('100 MB is below the 512 MB a etcd machine needs');
    await press(s.stdin, KEYS.backspace, KEYS.backspace, KEYS.backspace);
    await typeText(s.stdin, '1536');
    expect(s.frame()).not.toMatch(/^\s+✗ .*is below the/m);
    // Workers: 3 of them.
    await press(s.stdin, KEYS.tab, KEYS.tab, KEYS.tab, KEYS.tab, KEYS.tab);
    await press(s.stdin, KEYS.up);
    expect(s.frame()).toMatch(/Total 5 machines/);
    await press(s.stdin, KEYS.enter);

    // 4. Options; esc goes back to sizing and keeps what was typed.
    expect(s.frame()).toContain('4/8 Options');
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('3/8 Machines and sizes');
    expect(s.frame()).toContain('1536 MB');
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('4/8 Options');
    expect(s.frame()).toContain('10.3.0.0/24'); // defaults shown
    expect(s.frame()).toContain('cluster.local');
    expectFits(s);
    // The provider, chosen from the list.
    await press(s.stdin, KEYS.down); // provider
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('Choose provider');
    await press(s.stdin, KEYS.down);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).not.toContain('Choose provider');
    expect(s.frame()).toMatch(/‹ libvirt ›/);
    // The DNS IP, broken then fixed, checked as typed.
    await press(s.stdin, KEYS.down, KEYS.down, KEYS.down, KEYS.down, KEYS.down, KEYS.down); // → DNS service IP
    await press(s.stdin, KEYS.backspace, KEYS.backspace);
    await typeText(s.stdin, '99.1');
    expect(s.frame()).toContain('10.3.0.99.1');
    expect(s.frame()).toMatch(/✗/);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('4/8 Options'); // refused while invalid
    await press(s.stdin, KEYS.ctrlU);
    await typeText(s.stdin, '10.3.0.53');
    expect(s.frame()).not.toMatch(/network\.dnsIp:/);
    await press(s.stdin, KEYS.enter);

    // 5. Review.
    expect(s.frame()).toContain('5/8 Review');
    for (const text of ['kcore.yaml', 'Vagrantfile', 'inventory.ini', 'etcd-01', '10.0.0.101', 'kube-master-01', 'kube-worker-03', '10.0.0.123', '1.5 GB', 'libvirt'])
      expect(s.frame()).toContain(text);
    // Preflight ran again with the final provider and sizes.
    await waitFor(() => s.frame().includes('✓ preflight: 6 checks passed'), 'the second preflight', s.frame);
    expect(s.actions.calls.preflight).toBe(2);
    expectFits(s);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('Create the cluster?');
    await press(s.stdin, 'y');

    // 6–8. Machines, provisioning, summary.
    await waitFor(() => s.frame().includes('8/8 Summary'), 'the summary', s.frame, 8000);
    expect(s.actions.calls.writeFiles).toHaveLength(1);
    const written = s.actions.calls.writeFiles[0]!;
    expect(written.dir).toBe('/tmp/kc-test/demo');
    expect(written.spec.name).toBe('demo');
    expect(written.spec.provider).toBe('libvirt');
    expect(written.spec.groups.etcd.memory).toBe(1536);
    expect(written.spec.groups['kube-worker'].count).toBe(3);
    expect(written.spec.network.dnsIp).toBe('10.3.0.53');
    const f = s.frame();
    expect(f).toContain('Cluster "demo" is ready');
    expect(f).toContain('Smoke tests ✓');
    expect(f).toContain('/tmp/kc-test/kcore-cluster/admin.kubeconfig');
    expect(f).toContain('kcore-wizard test');
    expect(f).toContain('kcore-wizard dashboard');
    expect(f).toContain('kcore-wizard destroy');
    // The replayed success is the recorded `converge --limit etcd` (no Kubernetes binaries here): its hosts.
    for (const h of ['local', 'etcd-01']) expect(f).toContain(h);
    expectFits(s);
    // esc on the summary shows the final grid again; enter comes back.
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('7/8 Provisioning');
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('8/8 Summary');
    await press(s.stdin, 'q');
    expect(await s.handle.done).toBe(0);
  }, 30_000);

  it('shows the machines being created, then one panel per host while provisioning', async () => {
    const s = await open({ stepMs: 4 }, [120, 40]);
    await toSizing(s);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter, 'y');
    await waitFor(() => s.frame().includes('6/8 Creating machines') && s.frame().includes('Booting VM'), 'vagrant output', s.frame);
    expect(s.frame()).toContain('● vagrant up');
    expect(s.frame()).toContain('kube-worker-02');
    expectFits(s);
    await waitFor(() => s.frame().includes('7/8 Provisioning'), 'the provisioning grid', s.frame, 5000);
    await waitFor(() => /● \d+ running/.test(s.frame()), 'running hosts', s.frame);
    expectFits(s);
    await waitFor(() => s.frame().includes('8/8 Summary'), 'the summary', s.frame, 10_000);
    expect(s.frame()).toContain('The run failed');
    expect(s.frame()).toContain('✗ kube-worker-02');
    expect(s.frame()).toContain('failed: kubernetes-node 1.37.1 is'); // the recorded missing artifact
    await press(s.stdin, 'q');
    expect(await s.handle.done).toBe(1);
  }, 30_000);

  it('cancels the run on the first Ctrl+C and exits at once on the second', async () => {
    const s = await open({ pauseAfter: 60 });
    await toSizing(s);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter, 'y');
    await waitFor(() => s.frame().includes('7/8 Provisioning'), 'provisioning', s.frame);
    const signal = s.actions.calls.up[0]!.signal;
    expect(signal.aborted).toBe(false);
    // esc never goes back during a run, q asks first.
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('7/8 Provisioning');
    await press(s.stdin, 'q');
    expect(s.frame()).toContain('A run is in progress');
    await press(s.stdin, 'n');
    expect(s.frame()).toContain('7/8 Provisioning');

    await press(s.stdin, KEYS.ctrlC);
    expect(signal.aborted).toBe(true);
    expect(s.frame()).toContain('cancelling… press Ctrl+C again to exit now');
    expect(s.frame()).toMatch(/— \d+ cancelled/);
    expect(s.frame()).toContain('— etcd-01'); // a host still in its first role when the run stopped
    await waitFor(() => s.frame().includes('8/8 Summary'), 'the summary', s.frame);
    expect(s.frame()).toContain('Cancelled');
    await press(s.stdin, 'q');
    expect(await s.handle.done).toBe(130);
    expect(s.hardExit).not.toHaveBeenCalled();
  }, 30_000);

  it('exits at once on a second Ctrl+C during a run', async () => {
    const s = await open({ pauseAfter: 200, stepMs: 0 });
    await toSizing(s);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter, 'y');
    await waitFor(() => s.actions.calls.up.length === 1, 'up', s.frame);
    // A fake `up` that ignores the abort would keep the app alive: the second press must not wait for it.
    await press(s.stdin, KEYS.ctrlC, KEYS.ctrlC);
    expect(await s.handle.done).toBe(130);
    expect(s.hardExit).toHaveBeenCalledWith(130);
    expect(s.stdin.isRaw).toBe(false);
  }, 30_000);

  it('shows the problems of an existing kcore.yaml with file, line and field', async () => {
    const file = '/tmp/kc-test/broken/kcore.yaml';
    const s = await open({
      existing: {
        '/tmp/kc-test/broken': new SpecError(file, [
          { field: 'groups.kube-master.count', message: 'a cluster needs at least 1 Kubernetes master machine (got 0)', line: 14, column: 12 },
        ]),
      },
    });
    await press(s.stdin, KEYS.down); // reopen
    expect(s.frame()).toContain('› ● Reopen an existing kcore.yaml');
    await press(s.stdin, KEYS.ctrlU);
    await typeText(s.stdin, '/tmp/kc-test/broken');
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('is not valid'), 'the problems', s.frame);
    expect(s.frame()).toContain('/tmp/kc-test/broken/kcore.yaml:14:12: groups.kube-master.count: a cluster');
    expect(s.frame()).toContain('needs at least 1 Kubernetes master machine (got 0)'); // wrapped, not cut
    expect(s.frame()).toContain('1/8 Workspace');
    expectFits(s);
    await press(s.stdin, KEYS.ctrlN);
    await waitFor(() => s.frame().includes('2/8 Preflight'), 'preflight', s.frame);
    expect(s.frame()).toContain('cluster broken');
  });

  it('reports honestly when preflight is not available', async () => {
    const s = await open({ preflight: new Error('preflight is not available in this build yet (src/vagrant/preflight.ts is missing)') });
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('preflight did not run'), 'the preflight error', s.frame);
    expect(s.frame()).toContain('not available in this build yet');
    expect(s.frame()).not.toContain('checks passed');
  });

  it('opens the help from the key map and closes it with esc', async () => {
    const s = await open();
    await toSizing(s);
    await press(s.stdin, '?');
    const f = s.frame();
    expect(f).toContain('Keys on "Machines and sizes"');
    expect(f).toContain('increase the number in the focused field');
    expect(f).toContain('go back one step');
    expectFits(s);
    await press(s.stdin, KEYS.esc);
    expect(s.frame()).toContain('3/8 Machines and sizes');
    expect(s.frame()).not.toContain('Keys on');
    // The footer shows the keys that work here.
    expect(s.frame()).toMatch(/esc back/);
    expect(s.frame()).toMatch(/\? help/);
  });

  it('redraws on resize and fits 80×24 and 200×60', async () => {
    const s = await open({}, [80, 24]);
    await toSizing(s);
    expectFits(s);
    await act(async () => s.stdout.resize(200, 60));
    await settle();
    expectFits(s);
    expect(s.frame().split('\n').length).toBe(59);
    await act(async () => s.stdout.resize(80, 24));
    await settle();
    expectFits(s);
    expect(s.frame().split('\n').length).toBe(23);
  });

  it('draws without colour under NO_COLOR but keeps the glyphs', async () => {
    const s = await open({ pauseAfter: 120 }, [100, 30], { NO_COLOR: '1' });
    await toSizing(s);
    await press(s.stdin, KEYS.enter, KEYS.enter, KEYS.enter, 'y');
    await waitFor(() => s.frame().includes('7/8 Provisioning'), 'provisioning', s.frame);
    const raw = s.stdout.lastFrame();
    // No foreground/background colour codes (30–37, 39–47, 49, 90–97, 38;…/48;…).
    // eslint-disable-next-line no-control-regex
    expect(raw).not.toMatch(/\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m/);
    expect(stripAnsi(raw)).toMatch(/[●○✓Δ]/);
  });
});
