/**
 * One wizard on a sized fake terminal with fake actions, for the UI tests: open it, read its frame,
 * check it fits. Sessions are disposed by closeSessions() (call it in afterEach).
 */
import { act } from 'react';
import { expect, vi } from 'vitest';
import { startWizard, type WizardHandle } from '../../src/ui/wizard/run.js';
import { fakeActions, type FakeOptions } from './fixtures/fake-actions.js';
import { FakeStdin, SizedStdout, cells, settle, stripAnsi } from './harness.js';

export interface Session {
  stdin: FakeStdin;
  stdout: SizedStdout;
  handle: WizardHandle;
  actions: ReturnType<typeof fakeActions>;
  frame(): string;
  hardExit: ReturnType<typeof vi.fn>;
}

const sessions: Session[] = [];

export async function openWizard(fake: FakeOptions = {}, size: [number, number] = [80, 24], env: NodeJS.ProcessEnv = {}): Promise<Session> {
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

export async function closeSessions(): Promise<void> {
  for (const s of sessions.splice(0)) {
    await act(async () => {
      s.handle.controller.dispose();
    });
  }
}

/** Every frame fits the terminal: no line wider than it, at most rows-1 lines. */
export function expectFits(s: Session): void {
  const lines = s.frame().split('\n');
  expect(lines.length).toBeLessThanOrEqual(s.stdout.rows - 1);
  for (const l of lines) expect(cells(l), `line too wide: "${l}"`).toBeLessThanOrEqual(s.stdout.columns);
}
