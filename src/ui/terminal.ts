/**
 * Full-screen terminal handling: the alternate screen, the cursor, raw mode, and ONE cleanup registry
 * that restores the terminal on every way out (normal exit, crash, unhandled rejection, signals).
 * Restoring is idempotent: each cleanup runs once, newest first.
 */

export const ALT_SCREEN_ON = '\x1b[?1049h';
export const ALT_SCREEN_OFF = '\x1b[?1049l';
export const CURSOR_HIDE = '\x1b[?25l';
export const CURSOR_SHOW = '\x1b[?25h';
export const CLEAR_SCREEN = '\x1b[2J\x1b[H';

export interface Writable {
  write(s: string): unknown;
}

export interface CleanupRegistry {
  /** Register a cleanup; returns a function that unregisters it. */
  add(fn: () => void): () => void;
  /** Run every cleanup once, newest first; errors in one do not stop the others. */
  run(): void;
  readonly done: boolean;
}

export function createCleanupRegistry(): CleanupRegistry {
  const fns: Array<() => void> = [];
  let done = false;
  return {
    add(fn) {
      fns.push(fn);
      return () => {
        const i = fns.indexOf(fn);
        if (i >= 0) fns.splice(i, 1);
      };
    },
    run() {
      done = true;
      while (fns.length > 0) {
        const fn = fns.pop()!;
        try {
          fn();
        } catch {
          // A restore step failing must not keep the others from running.
        }
      }
    },
    get done() {
      return done;
    },
  };
}

interface RawModeStream {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?: (on: boolean) => unknown;
}

/**
 * Enter the alternate screen and hide the cursor; register leaving it (and raw mode off) in `cleanup`.
 */
export function enterFullScreen(stdout: Writable, stdin: RawModeStream, cleanup: CleanupRegistry): void {
  stdout.write(ALT_SCREEN_ON + CURSOR_HIDE + CLEAR_SCREEN);
  cleanup.add(() => {
    if (stdin.isTTY && typeof stdin.setRawMode === 'function' && stdin.isRaw) stdin.setRawMode(false);
  });
  cleanup.add(() => stdout.write(CURSOR_SHOW + ALT_SCREEN_OFF));
}

export interface ProcessLike {
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  off(event: string, fn: (...args: unknown[]) => void): unknown;
  exit(code?: number): never;
}

const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * Restore the terminal on crashes and signals, then exit: an uncaught exception or unhandled
 * rejection prints the error AFTER leaving the alternate screen (so it stays visible) and exits 1; a
 * signal exits 128+n. Returns a function that removes the handlers (also registered in `cleanup`).
 */
export function guardProcess(proc: ProcessLike, stderr: Writable, cleanup: CleanupRegistry): () => void {
  const crash = (err: unknown) => {
    cleanup.run();
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    stderr.write(`kcore-wizard: internal error: ${text}\n`);
    proc.exit(1);
  };
  const handlers: Array<[string, (...args: unknown[]) => void]> = [
    ['uncaughtException', crash],
    ['unhandledRejection', crash],
    ['exit', () => cleanup.run()],
  ];
  for (const [sig, code] of Object.entries(SIGNALS))
    handlers.push([
      sig,
      () => {
        cleanup.run();
        proc.exit(code);
      },
    ]);
  for (const [ev, fn] of handlers) proc.on(ev, fn);
  const remove = () => {
    for (const [ev, fn] of handlers) proc.off(ev, fn);
  };
  cleanup.add(remove);
  return remove;
}

/** True when both ends are a terminal (the full-screen views refuse to run otherwise). */
export function isInteractive(stdin: { isTTY?: boolean }, stdout: { isTTY?: boolean }): boolean {
  return !!stdin.isTTY && !!stdout.isTTY;
}

/**
 * The start of every full-screen view: the alternate screen (cleared on resize so no stale rows
 * survive), and the terminal restored on crashes and signals. Returns the cleanup registry to run on exit.
 */
export function openFullScreen(opts: {
  stdin: RawModeStream;
  stdout: Writable & { prependListener(event: 'resize', fn: () => void): unknown; off(event: 'resize', fn: () => void): unknown };
  stderr: Writable;
  process?: ProcessLike;
  /** Tests: no alternate screen. */
  testMode?: boolean;
}): CleanupRegistry {
  const { stdin, stdout } = opts;
  const cleanup = createCleanupRegistry();
  if (!opts.testMode) {
    enterFullScreen(stdout, stdin, cleanup);
    const onResize = () => stdout.write(CLEAR_SCREEN);
    stdout.prependListener('resize', onResize);
    cleanup.add(() => stdout.off('resize', onResize));
  }
  if (opts.process) guardProcess(opts.process, opts.stderr, cleanup);
  return cleanup;
}
