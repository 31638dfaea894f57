/**
 * Start the dashboard on a terminal: alternate screen, hidden cursor, one cleanup registry that
 * restores the terminal however the app ends (quit, Ctrl+C, crash, signal), Ink rendering, the exit
 * code. Command code calls this with a controller (src/health/actions.ts); it never touches React.
 */
import { render, type Instance } from 'ink';
import type { ReactElement } from 'react';
import type { DashboardActions } from '../../health/actions.js';
import type { HostExplanation } from '../../explain/types.js';
import type { DashboardStore } from '../../state/dashboard-store.js';
import type { RunStore } from '../../state/run-store.js';
import { isInteractive, openFullScreen, type ProcessLike } from '../terminal.js';
import { colourFromEnv, makeTheme, ThemeProvider } from '../theme.js';
import { DashboardApp } from './App.js';
import { DashboardContext } from './context.js';
import type { SizedStream } from '../hooks.js';

export const DASHBOARD_NOT_A_TERMINAL =
  'kcore-wizard: the dashboard needs a terminal; for scripts run `kcore-wizard dashboard --once` (add `--output json` for JSON)';

export interface DashboardParts {
  store: DashboardStore;
  runStore: RunStore;
  actions: DashboardActions;
  /** The teaching view of a host (`e`), injected by the command (src/commands/explain-actions.ts). */
  explain?: (host: string) => Promise<HostExplanation>;
}

/** The dashboard's element (for tests rendering it with ink-testing-library). */
export function dashboardElement(parts: DashboardParts, opts: { stdout: SizedStream; env?: NodeJS.ProcessEnv; onExit?: (code: number) => void; flashMs?: number }): ReactElement {
  return (
    <ThemeProvider theme={makeTheme(colourFromEnv(opts.env ?? {}))}>
      <DashboardContext.Provider value={parts}>
        <DashboardApp stdout={opts.stdout} onExit={opts.onExit} flashMs={opts.flashMs} />
      </DashboardContext.Provider>
    </ThemeProvider>
  );
}

export interface StartDashboardOptions extends DashboardParts {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Restore the terminal on crashes and signals of this process (the real CLI passes `process`). */
  process?: ProcessLike;
  /** Render every update synchronously, without the alternate screen (tests). */
  testMode?: boolean;
  /** How long a flash message stays (ms). */
  flashMs?: number;
}

export interface DashboardHandle {
  instance: Instance;
  /** Resolves with the exit code (0 quit, 130 Ctrl+C, 1 crash) once the terminal is restored. */
  done: Promise<number>;
}

export function startDashboard(opts: StartDashboardOptions): DashboardHandle {
  const { stdin, stdout, stderr } = opts;
  const cleanup = openFullScreen({ stdin, stdout, stderr, process: opts.process, testMode: opts.testMode });
  let code = 0;
  const instance = render(dashboardElement(opts, { stdout, env: opts.env, onExit: (c) => (code = c), flashMs: opts.flashMs }), {
    stdout,
    stdin,
    stderr,
    exitOnCtrlC: false,
    patchConsole: false,
    debug: !!opts.testMode,
    maxFps: 20,
  });
  cleanup.add(() => instance.unmount());
  const done = instance.waitUntilExit().then(
    () => {
      cleanup.run();
      return code;
    },
    (err: unknown) => {
      cleanup.run();
      stderr.write(`kcore-wizard: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      return 1;
    },
  );
  return { instance, done };
}

export { isInteractive };
