/**
 * A live run on a terminal, outside the wizard: `up` on a TTY and the dashboard can show the same
 * phases, vagrant output and host panels from a run store. Full screen by default (alternate screen,
 * restored on close, crash or signal); Ctrl+C is reported to the caller, who owns the AbortController.
 */
import { Box, Text, render, useInput, useStdin } from 'ink';
import { useRef } from 'react';
import { useStore } from 'zustand';
import type { RunStore } from '../state/run-store.js';
import { Footer, Header, Rule } from './components/Frame.js';
import { ProvisioningGrid } from './components/ProvisioningGrid.js';
import { clip } from './format.js';
import { useTerminalSize, type SizedStream } from './hooks.js';
import { createCleanupRegistry, enterFullScreen, guardProcess, type ProcessLike } from './terminal.js';
import { colourFromEnv, makeTheme, ThemeProvider, useTheme } from './theme.js';
import { PhaseLine } from './wizard/steps/Machines.js';

export interface RunViewOptions {
  store: RunStore;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Shown in the header, e.g. the command and the cluster name. */
  title: string;
  cluster: string;
  /** Ctrl+C (or q): the caller cancels its run; `count` is 1 on the first press, 2 on the second… */
  onInterrupt?(count: number): void;
  /** Alternate screen (default true); false draws in place, for a short run. */
  fullScreen?: boolean;
  /** Restore the terminal on crashes and signals of this process. */
  process?: ProcessLike;
}

export interface RunViewHandle {
  /** Stop drawing and restore the terminal. */
  close(): Promise<void>;
}

function ProcessLines({ store, width, height }: { store: RunStore; width: number; height: number }) {
  const t = useTheme();
  const lines = useStore(store, (s) => s.processLines);
  const all = Object.entries(lines).flatMap(([machine, ls]) => ls.slice(-2).map((l) => (machine ? `${machine}: ${l}` : l)));
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {all.slice(-height).map((l, i) => (
        <Text key={i} color={t.c('muted')} wrap="truncate-end">
          {clip(l, width)}
        </Text>
      ))}
    </Box>
  );
}

function RunView({ store, stdout, title, cluster, onInterrupt }: { store: RunStore; stdout: SizedStream; title: string; cluster: string; onInterrupt?(n: number): void }) {
  const { columns, rows } = useTerminalSize(stdout);
  const { isRawModeSupported } = useStdin();
  const hosts = useStore(store, (s) => s.hostOrder.length);
  const status = useStore(store, (s) => s.status);
  const presses = useRef(0);
  useInput(
    (input, key) => {
      if ((key.ctrl && input === 'c') || input === 'q') onInterrupt?.(++presses.current);
    },
    { isActive: !!isRawModeSupported },
  );
  const width = Math.max(20, columns);
  const height = Math.max(6, rows - 1);
  const body = height - 5;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header width={width} step={hosts ? 2 : 1} steps={2} title={title} cluster={cluster} />
      <Rule width={width} />
      <Box paddingX={1} width={width}>
        <PhaseLine width={width - 2} store={store} />
      </Box>
      <Box paddingX={1} width={width} height={body} overflow="hidden">
        {hosts ? <ProvisioningGrid store={store} width={width - 2} height={body} /> : <ProcessLines store={store} width={width - 2} height={body} />}
      </Box>
      <Footer width={width} hints={status === 'running' || status === 'idle' ? [{ keys: 'ctrl+c', label: 'cancel (twice: exit now)' }] : []} />
    </Box>
  );
}

export function renderRunToTerminal(opts: RunViewOptions): RunViewHandle {
  const cleanup = createCleanupRegistry();
  if (opts.fullScreen !== false) enterFullScreen(opts.stdout, opts.stdin, cleanup);
  if (opts.process) guardProcess(opts.process, opts.stderr, cleanup);
  const instance = render(
    <ThemeProvider theme={makeTheme(colourFromEnv(opts.env))}>
      <RunView store={opts.store} stdout={opts.stdout} title={opts.title} cluster={opts.cluster} onInterrupt={opts.onInterrupt} />
    </ThemeProvider>,
    { stdout: opts.stdout, stdin: opts.stdin, stderr: opts.stderr, exitOnCtrlC: false, patchConsole: false, maxFps: 20 },
  );
  // Asked for now: a promise asked for after unmounting would never settle.
  const exited = instance.waitUntilExit().catch(() => undefined);
  cleanup.add(() => instance.unmount());
  return {
    async close() {
      instance.unmount();
      await exited;
      cleanup.run();
    },
  };
}
