/**
 * Machines you already have: the wizard offers provider `existing`, and, as `init --provider existing`
 * does, writes a workspace listing one machine per planned host at placeholder addresses, then says
 * what to fill in instead of creating or configuring anything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KEYS, press, waitFor } from './harness.js';
import { closeSessions, expectFits, openWizard } from './wizard-session.js';

afterEach(closeSessions);

describe('provider existing in the wizard', () => {
  it('is offered, keeps its machines in step with the counts, and writes the workspace without running', async () => {
    const s = await openWizard({}, [80, 24]);
    await press(s.stdin, KEYS.enter);
    await waitFor(() => s.frame().includes('checks passed'), 'preflight', s.frame);
    await press(s.stdin, KEYS.enter, KEYS.enter); // sizing → options
    expect(s.frame()).toContain('4/8 Options');
    await press(s.stdin, KEYS.down, KEYS.enter); // provider: open the list
    expect(s.frame()).toMatch(/existing +machines you already have/);
    expectFits(s);
    await press(s.stdin, KEYS.down, KEYS.down, KEYS.down, KEYS.enter);
    expect(s.frame()).toMatch(/‹ existing ›/);
    // Back to sizing: one more worker is one more machine listed.
    await press(s.stdin, KEYS.esc);
    await press(s.stdin, KEYS.tab, KEYS.tab, KEYS.tab, KEYS.tab, KEYS.tab, KEYS.tab, KEYS.up);
    expect(s.frame()).toMatch(/Total 5 machines/);
    await press(s.stdin, KEYS.enter, KEYS.up, KEYS.enter); // sizing → options (focus from the provider to a text field) → review
    await waitFor(() => s.frame().includes('5/8 Review') && s.frame().includes('checks passed'), 'review', s.frame);
    expect(s.frame()).toMatch(/Machines +5 of yours, reached over SSH/);
    expect(s.frame()).toContain('enter writes the files (no machine is touched)');
    expectFits(s);
    await press(s.stdin, KEYS.enter);
    expect(s.frame()).toContain('then stop: no machine is touched');
    expect(s.frame()).not.toContain('Vagrantfile');
    await press(s.stdin, 'y');
    await waitFor(() => s.frame().includes('8/8 Summary'), 'the summary', s.frame);
    const f = s.frame();
    expect(f).toContain('✓ Workspace written: kcore.yaml and inventory.ini');
    const flat = f.split('\n').map((l) => l.trim()).join(' ');
    expect(flat).toContain('placeholder addresses (etcd-01 10.0.0.101 … kube-worker-03 10.0.0.123)');
    expect(flat).toContain("each machine's address (and port) as you reach it over SSH");
    expect(f).not.toMatch(/esc back|select host/);
    expect(f).toMatch(/kcore-wizard up +check, configure and test them/);
    expectFits(s);
    expect(s.actions.calls.up).toHaveLength(0);
    const spec = s.actions.calls.writeFiles[0]!.spec;
    expect(spec.provider).toBe('existing');
    expect(spec.machines.map((m) => `${m.name}@${m.address}`)).toEqual([
      'etcd-01@10.0.0.101',
      'kube-master-01@10.0.0.111',
      'kube-worker-01@10.0.0.121',
      'kube-worker-02@10.0.0.122',
      'kube-worker-03@10.0.0.123',
    ]);
    await press(s.stdin, 'q');
    expect(await s.handle.done).toBe(0);
  }, 30_000);
});
