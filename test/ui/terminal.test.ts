/** One cleanup registry restores the terminal on every way out: crash, rejection, signal, exit. */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { ALT_SCREEN_OFF, ALT_SCREEN_ON, CURSOR_HIDE, CURSOR_SHOW, createCleanupRegistry, enterFullScreen, guardProcess, type ProcessLike } from '../../src/ui/terminal.js';

function setup() {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = { isTTY: true, isRaw: true, setRawMode: vi.fn((on: boolean) => (stdin.isRaw = on)) };
  const proc = new EventEmitter() as EventEmitter & { exit: ReturnType<typeof vi.fn> };
  proc.exit = vi.fn();
  const cleanup = createCleanupRegistry();
  enterFullScreen({ write: (s: string) => out.push(s) }, stdin, cleanup);
  guardProcess(proc as unknown as ProcessLike, { write: (s: string) => err.push(s) }, cleanup);
  return { out, err, stdin, proc, cleanup };
}

describe('terminal restore', () => {
  it('enters the alternate screen with the cursor hidden', () => {
    const { out } = setup();
    expect(out.join('')).toContain(ALT_SCREEN_ON + CURSOR_HIDE);
  });

  it('on an uncaught exception: leaves the alternate screen, then prints the error, exit 1', () => {
    const { out, err, stdin, proc } = setup();
    proc.emit('uncaughtException', new Error('boom'));
    expect(out.join('')).toContain(CURSOR_SHOW + ALT_SCREEN_OFF);
    expect(stdin.setRawMode).toHaveBeenCalledWith(false);
    expect(err.join('')).toMatch(/internal error: Error: boom/);
    expect(proc.exit).toHaveBeenCalledWith(1);
  });

  it('on an unhandled rejection and on signals', () => {
    const a = setup();
    a.proc.emit('unhandledRejection', 'nope');
    expect(a.proc.exit).toHaveBeenCalledWith(1);
    const b = setup();
    b.proc.emit('SIGTERM');
    expect(b.out.join('')).toContain(ALT_SCREEN_OFF);
    expect(b.proc.exit).toHaveBeenCalledWith(143);
    const c = setup();
    c.proc.emit('SIGINT');
    expect(c.proc.exit).toHaveBeenCalledWith(130);
  });

  it('restores once, however many ways out fire, and removes its handlers', () => {
    const { out, proc, cleanup } = setup();
    cleanup.run();
    proc.emit('exit');
    cleanup.run();
    expect(out.filter((s) => s.includes(ALT_SCREEN_OFF))).toHaveLength(1);
    expect(proc.listenerCount('uncaughtException')).toBe(0);
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });
});
