/** renderRunToTerminal: the live run view `up` and the dashboard reuse, full screen and restored. */
import { describe, expect, it, vi } from 'vitest';
import { act } from 'react';
import { createRunStore } from '../../src/state/run-store.js';
import { renderRunToTerminal } from '../../src/ui/run-view.js';
import { ALT_SCREEN_OFF, ALT_SCREEN_ON, CURSOR_SHOW } from '../../src/ui/terminal.js';
import { fixtureHosts, recordRun, recordVagrantUp } from './fixtures/recording.js';
import { FakeStdin, KEYS, SizedStdout, press, stripAnsi, wait } from './harness.js';

describe('renderRunToTerminal', () => {
  it('shows vagrant output, then the host grid; reports Ctrl+C; restores the terminal', async () => {
    const store = createRunStore();
    const stdout = new SizedStdout(100, 30);
    const stdin = new FakeStdin();
    const onInterrupt = vi.fn();
    const hosts = fixtureHosts(4);
    let view!: ReturnType<typeof renderRunToTerminal>;
    await act(async () => {
      view = renderRunToTerminal({
        store,
        stdin: stdin as unknown as NodeJS.ReadStream,
        stdout: stdout as unknown as NodeJS.WriteStream,
        stderr: new SizedStdout(100, 30) as unknown as NodeJS.WriteStream,
        env: { NO_COLOR: '1' },
        title: 'up',
        cluster: 'demo',
        onInterrupt,
      });
    });
    expect(stdout.frames[0]).toContain(ALT_SCREEN_ON);
    await act(async () => store.getState().applyMany(recordVagrantUp(hosts)));
    await wait(80);
    expect(stripAnsi(stdout.frames.join(''))).toContain('Machine booted and ready!');
    await act(async () => store.getState().applyMany(recordRun(hosts).slice(0, 40)));
    await wait(80);
    const screen = stripAnsi(stdout.frames.slice(-3).join(''));
    expect(screen).toContain('● etcd-01');
    expect(screen).toContain('ctrl+c cancel');
    await press(stdin, KEYS.ctrlC);
    await press(stdin, KEYS.ctrlC);
    expect(onInterrupt.mock.calls).toEqual([[1], [2]]);
    await act(async () => view.close());
    const tail = stdout.frames.slice(-2).join('');
    expect(tail).toContain(CURSOR_SHOW + ALT_SCREEN_OFF);
    expect(stdin.isRaw).toBe(false);
  });
});
