/**
 * Start the wizard on a terminal: alternate screen, hidden cursor, one cleanup registry that restores
 * the terminal however the app ends, Ink rendering, and the exit code. Command code calls this; it
 * never touches React itself.
 */
import { render } from 'ink';
import { createRunStore, type RunStore } from '../../state/run-store.js';
import { isInteractive, openFullScreen, type ProcessLike } from '../terminal.js';
import { colourFromEnv, makeTheme, ThemeProvider } from '../theme.js';
import type { WizardActions } from './actions.js';
import { WizardApp, loadLaterSteps } from './App.js';
import { WizardContext } from './context.js';
import { WizardController } from './controller.js';
import { createWizardStore, type WizardStore } from './store.js';

export const NOT_A_TERMINAL =
  'kcore-wizard: the wizard needs a terminal; run `kcore-wizard init` then `kcore-wizard up --config kcore.yaml --yes` instead';

export interface TerminalStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export interface RunWizardOptions extends TerminalStreams {
  actions: WizardActions;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** A workspace folder given on the command line: the wizard starts by reopening it. */
  dir?: string;
  /** Restore the terminal on crashes and signals of this process (the real CLI passes `process`). */
  process?: ProcessLike;
  /** Called after the terminal is restored when the user asks to exit at once (second Ctrl+C). */
  hardExit?(code: number): void;
  /** Render every update synchronously, without the alternate screen (tests). */
  testMode?: boolean;
  /** How often buffered engine events reach the screen (ms). */
  flushMs?: number;
}

export interface WizardHandle {
  store: WizardStore;
  runStore: RunStore;
  controller: WizardController;
  /** Resolves with the exit code once the terminal is restored. */
  done: Promise<number>;
  /** Resolves once every step of the wizard is loaded (the first frame does not wait for it). */
  ready: Promise<void>;
}

export { isInteractive };

export function startWizard(opts: RunWizardOptions): WizardHandle {
  const { stdin, stdout, stderr } = opts;
  const cleanup = openFullScreen({ stdin, stdout, stderr, process: opts.process, testMode: opts.testMode });

  const store = createWizardStore(opts.cwd, opts.dir);
  const runStore = createRunStore();
  let code = 0;
  let settle: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (settle = resolve));
  const controller = new WizardController({
    store,
    runStore,
    actions: opts.actions,
    flushMs: opts.flushMs,
    forceExit: (c) => {
      code = c;
      instance.unmount();
      cleanup.run();
      settle(c);
      opts.hardExit?.(c);
    },
  });
  const theme = makeTheme(colourFromEnv(opts.env));
  let host = { memoryMb: 0, cpus: 0 };
  try {
    host = opts.actions.hostResources();
  } catch {
    // Unknown host size: the totals line says so with 0.
  }
  const instance = render(
    <ThemeProvider theme={theme}>
      <WizardContext.Provider value={{ store, runStore, controller, host }}>
        <WizardApp stdout={stdout} onExit={(c) => (code = c)} />
      </WizardContext.Provider>
    </ThemeProvider>,
    { stdout, stdin, stderr, exitOnCtrlC: false, patchConsole: false, debug: !!opts.testMode, maxFps: 30 },
  );
  cleanup.add(() => instance.unmount());
  instance.waitUntilExit().then(
    () => {
      controller.dispose();
      cleanup.run();
      settle(code);
    },
    (err: unknown) => {
      controller.dispose();
      cleanup.run();
      stderr.write(`kcore-wizard: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      settle(1);
    },
  );
  if (opts.dir) void controller.openWorkspace();
  // The first frame is out: now read the later steps (and what they need) while the user reads it.
  const ready = new Promise<void>((resolve, reject) => setImmediate(() => loadLaterSteps().then(resolve, reject)));
  ready.catch((err: unknown) => {
    stderr.write(`kcore-wizard: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    code = 1;
    controller.dispose();
    instance.unmount();
  });
  return { store, runStore, controller, done, ready };
}

/** Run the wizard to the end; resolves with the exit code (2 without a terminal). */
export async function runWizard(opts: RunWizardOptions): Promise<number> {
  if (!isInteractive(opts.stdin, opts.stdout)) {
    opts.stderr.write(`${NOT_A_TERMINAL}\n`);
    return 2;
  }
  return startWizard(opts).done;
}
