/**
 * The wizard's root: one full-screen frame (header, step body, flash line, key-hint footer), one key
 * dispatcher fed by the key map, and the dialogs. The root box is one row shorter than the terminal so
 * Ink never scrolls it (no flicker).
 */
import { Box, Text, useApp, useInput, useStdin, type Key } from 'ink';
import { useCallback, useEffect, useMemo, useSyncExternalStore } from 'react';
import { useStore } from 'zustand';
import { Dialog, FlashLine, Footer, Header, Rule } from '../components/Frame.js';
import { applyTextKey, backspaceCount } from '../components/TextField.js';
import { useTerminalSize, type SizedStream } from '../hooks.js';
import { formatMb, wrapText } from '../format.js';
import { totals } from '../../spec/hosts.js';
import { useTheme } from '../theme.js';
import { useWizard, useWizardContext } from './context.js';
import { OPTION_FIELDS } from './fields.js';
import { KEYMAP, STEPS, STEP_TITLES, footerHints, matchBinding, type KeyContext } from './keymap.js';
import { isRunning, type WizardState } from './store.js';
import { WorkspaceStep } from './steps/Workspace.js';
import { WizardExplainView, explainHints } from './ExplainView.js';

/**
 * The first screen (the workspace step) is imported here; every later step, the host detail and the
 * provisioning grid (with what they reach: the Vagrantfile renderer and nunjucks among them) load after the
 * first frame is drawn (startWizard calls loadLaterSteps), so the wizard opens before they are read.
 */
const later = {
  modules: undefined as
    | undefined
    | {
        PreflightStep: typeof import('./steps/Preflight.js').PreflightStep;
        SizingStep: typeof import('./steps/Sizing.js').SizingStep;
        OptionsStep: typeof import('./steps/Options.js').OptionsStep;
        ReviewStep: typeof import('./steps/Review.js').ReviewStep;
        MachinesStep: typeof import('./steps/Machines.js').MachinesStep;
        SummaryStep: typeof import('./steps/Summary.js').SummaryStep;
        HostDetail: typeof import('../components/HostDetail.js').HostDetail;
        ProvisioningGrid: typeof import('../components/ProvisioningGrid.js').ProvisioningGrid;
      },
  loading: undefined as Promise<void> | undefined,
  listeners: new Set<() => void>(),
};

/** Load the later steps (once); resolves when they are there and every mounted wizard has redrawn. */
export function loadLaterSteps(): Promise<void> {
  later.loading ??= Promise.all([
    import('./steps/Preflight.js'),
    import('./steps/Sizing.js'),
    import('./steps/Options.js'),
    import('./steps/Review.js'),
    import('./steps/Machines.js'),
    import('./steps/Summary.js'),
    import('../components/HostDetail.js'),
    import('../components/ProvisioningGrid.js'),
  ]).then(([p, sz, o, r, m, su, hd, pg]) => {
    later.modules = {
      PreflightStep: p.PreflightStep,
      SizingStep: sz.SizingStep,
      OptionsStep: o.OptionsStep,
      ReviewStep: r.ReviewStep,
      MachinesStep: m.MachinesStep,
      SummaryStep: su.SummaryStep,
      HostDetail: hd.HostDetail,
      ProvisioningGrid: pg.ProvisioningGrid,
    };
    for (const l of later.listeners) l();
  });
  return later.loading;
}

const subscribeLater = (l: () => void) => {
  later.listeners.add(l);
  return () => void later.listeners.delete(l);
};
const laterSnapshot = () => later.modules;

export const FLASH_MS = 5000;

export function keyContext(s: WizardState, canGoBack: boolean): KeyContext {
  const field = OPTION_FIELDS[s.options.focus]!;
  const editing: KeyContext['editing'] =
    s.step === 'workspace' && !s.workspace.busy ? 'text' : s.step === 'options' && field.kind === 'text' ? 'text' : s.step === 'sizing' ? 'number' : 'none';
  return {
    step: s.step,
    running: isRunning(s),
    editing,
    canGoBack,
    choice: s.step === 'options' && field.kind === 'choice',
    problems: s.workspace.problems.length > 0,
    selected: s.selectedHost !== null && (s.step === 'provision' || s.step === 'summary'),
    provisioned: s.run.provisioned,
  };
}

function Help({ width, height, ctx }: { width: number; height: number; ctx: KeyContext }) {
  const t = useTheme();
  const rows = KEYMAP.filter((b) => b.when(ctx)).map((b) => ({ keys: b.keys, help: b.help }));
  const kw = Math.max(...rows.map((r) => r.keys.length)) + 2;
  // The dialog's own inner width (Dialog: min(width, max(40, min(76, width - 4))), border and padding).
  const inner = Math.min(width, Math.max(40, Math.min(76, width - 4))) - 4;
  // Each help text wrapped beside its keys; rows are counted so the dialog never outgrows the body
  // (borders 2, title 1, blank and legend 2).
  const budget = Math.max(1, height - 5);
  const shown: Array<{ keys: string; lines: string[] }> = [];
  let used = 0;
  const wrapped = rows.map((r) => ({ keys: r.keys, lines: wrapText(r.help, Math.max(10, inner - kw)) }));
  const total = wrapped.reduce((n, r) => n + r.lines.length, 0);
  // When not all fit, one row says so.
  const room = total <= budget ? budget : budget - 1;
  for (const r of wrapped) {
    if (used + r.lines.length > room) break;
    shown.push(r);
    used += r.lines.length;
  }
  const more = rows.length - shown.length;
  return (
    <Dialog width={width} height={height} title={`Keys on "${STEP_TITLES[ctx.step]}"  (esc or ? closes)`}>
      {shown.map((r) =>
        r.lines.map((l, i) => (
          <Text key={`${r.keys}${i}`} wrap="truncate-end">
            <Text bold color={t.c('accent')}>
              {(i === 0 ? r.keys : '').padEnd(kw)}
            </Text>
            {l}
          </Text>
        )),
      )}
      {more > 0 && (
        <Text color={t.c('warn')} wrap="truncate-end">
          … {more} more key{more === 1 ? '' : 's'}: make the terminal taller
        </Text>
      )}
      <Text> </Text>
      <Text color={t.c('muted')} wrap="truncate-end">
        ○ waiting ● running ✓ ok Δ changed ✗ failed ⊘ unreachable — cancelled
      </Text>
    </Dialog>
  );
}

function StartDialog({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const draft = useWizard((s) => s.draft);
  const dir = useWizard((s) => s.dir);
  const loadedFrom = useWizard((s) => s.loadedFrom);
  const sum = totals(draft);
  const failed = useWizard((s) => s.preflight.checks.filter((c) => !c.ok && !c.warning).length);
  return (
    <Dialog width={width} height={height} title="Create the cluster?">
      <Text wrap="truncate-end">Write kcore.yaml, {draft.provider === 'existing' ? '' : 'Vagrantfile '}and inventory.ini into</Text>
      <Text bold wrap="truncate-end">
        {'  '}
        {dir}
      </Text>
      {!loadedFrom && <Text color={t.c('muted')}>{'  '}(an existing kcore.yaml there is replaced)</Text>}
      {draft.provider === 'existing' ? (
        <Text wrap="wrap">then stop: no machine is touched. You fill in your {sum.machines} machines' addresses in kcore.yaml and run kcore-wizard up.</Text>
      ) : (
        <Text wrap="truncate-end">
          then create {sum.machines} {draft.provider} machines ({formatMb(sum.memory)}, {sum.cpus} CPUs) and configure them.
        </Text>
      )}
      {failed > 0 && (
        <Text color={t.c('failed')} wrap="wrap">
          ✗ {failed} preflight check{failed === 1 ? '' : 's'} failed: the run will stop at preflight until fixed
        </Text>
      )}
      <Text> </Text>
      <Text>
        <Text bold color={t.c('ok')}>
          y / enter
        </Text>{' '}
        create{'    '}
        <Text bold color={t.c('accent')}>
          n / esc
        </Text>{' '}
        not now
      </Text>
    </Dialog>
  );
}

function QuitDialog({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const running = useWizard((s) => isRunning(s));
  return (
    <Dialog width={width} height={height} title={running ? 'A run is in progress' : 'Leave the wizard?'} tone="warn">
      <Text wrap="wrap">{running ? 'Quit now? The run is cancelled; machines already created stay.' : 'Quit now? Nothing has been written.'}</Text>
      <Text> </Text>
      <Text wrap="wrap">
        <Text bold color={t.c('failed')}>
          y
        </Text>{' '}
        {running ? 'quit and cancel' : 'quit'}
        {'    '}
        <Text bold color={t.c('accent')}>
          n / esc / enter
        </Text>{' '}
        {running ? 'keep running' : 'stay'}
      </Text>
    </Dialog>
  );
}

/** Below this size the steps cannot be laid out without cutting what they must show. */
export const MIN_COLUMNS = 60;
/** The options step with its provider list open and the sizing step with its messages need 19 body rows. */
export const MIN_ROWS = 24;

/** Instead of a frame drawn over itself: what is wrong and what to do (the keys still work). */
export function TooSmall({ columns, rows }: { columns: number; rows: number }) {
  const t = useTheme();
  const w = Math.max(1, columns);
  const text = `terminal too small: ${columns}×${rows}, need at least ${MIN_COLUMNS}×${MIN_ROWS}; resize it (ctrl+c quits)`;
  const lines = wrapText(text, w).slice(0, Math.max(1, rows - 1));
  return (
    <Box flexDirection="column" width={w} height={Math.max(1, rows - 1)} overflow="hidden">
      {lines.map((l, i) => (
        <Text key={i} color={t.c('warn')} bold={i === 0} wrap="truncate-end">
          {l}
        </Text>
      ))}
    </Box>
  );
}

export interface WizardAppProps {
  stdout: SizedStream;
  /** Called once with the exit code when the app leaves. */
  onExit(code: number): void;
}

export function WizardApp({ stdout, onExit }: WizardAppProps) {
  const { store, runStore, controller } = useWizardContext();
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { columns, rows } = useTerminalSize(stdout);
  const step = useWizard((s) => s.step);
  const modal = useWizard((s) => s.modal);
  const flash = useWizard((s) => s.flash);
  const cluster = useWizard((s) => s.draft.name);
  const selectedHost = useWizard((s) => s.selectedHost);
  const m = useSyncExternalStore(subscribeLater, laterSnapshot);
  const state = useWizard((s) => s);
  const canGoBack = controller.canGoBack(state);
  const ctx = useMemo(() => keyContext(state, canGoBack), [state, canGoBack]);
  const explaining = useStore(controller.explain.store, (s) => s.view);

  // Exit is wired here: the controller asks, the root unmounts Ink and reports the code.
  useEffect(() => {
    controller.setExit((code) => {
      onExit(code);
      exit();
    });
  }, [controller, exit, onExit]);

  // Flash messages clear themselves.
  useEffect(() => {
    if (!flash) return;
    const id = flash.id;
    const timer = setTimeout(() => controller.clearFlash(id), FLASH_MS);
    return () => clearTimeout(timer);
  }, [flash, controller]);

  const onKey = useCallback(
    (input: string, key: Key) => {
      const s = store.getState();
      if (key.ctrl && input === 'c') return controller.handle('interrupt');
      if (s.modal === 'help') {
        if (key.escape || input === '?' || input === 'q' || key.return) controller.closeModal();
        return;
      }
      // The teaching view (e) owns the keys while it is open.
      if (controller.explain.view) {
        controller.explain.key({ up: key.upArrow, down: key.downArrow, pageUp: key.pageUp, pageDown: key.pageDown, enter: key.return, left: key.leftArrow, right: key.rightArrow, escape: key.escape, input });
        return;
      }
      if (s.modal === 'host') {
        if (key.upArrow || key.downArrow) controller.selectHost(key.upArrow ? -1 : 1);
        else if (key.escape || key.return || input === 'q') controller.closeModal();
        return;
      }
      if (s.modal === 'quit') {
        if (input === 'y' || input === 'Y') controller.confirmQuit(true);
        else if (input === 'n' || key.escape || key.return) controller.confirmQuit(false);
        return;
      }
      if (s.modal === 'start') {
        if (input === 'y' || input === 'Y' || key.return) controller.confirmStart(true);
        else if (input === 'n' || key.escape || input === 'q') controller.confirmStart(false);
        return;
      }
      // An open choice list owns the arrows and enter (ink-select-input); esc closes it.
      if (s.step === 'options' && s.options.open) {
        if (key.escape) controller.closeSelect();
        return;
      }
      const kctx = keyContext(s, controller.canGoBack(s));
      const b = matchBinding(kctx, input, key);
      if (b) {
        if (b.id === 'open-select') return controller.cycleChoice(key.leftArrow ? -1 : 1);
        if (b.id === 'select-host') return controller.selectHost(key.upArrow ? -1 : 1);
        if (b.id === 'review-host') {
          if (!controller.explain.moveReviewHost(key.upArrow ? -1 : 1)) controller.explain.scrollReview(key.upArrow ? -1 : 1);
          return;
        }
        controller.handle(b.id);
        return;
      }
      if (kctx.editing === 'number') {
        // Several backspaces in one read (a fast typist, a held key) each delete a digit.
        const deletes = key.backspace || key.delete ? 1 : backspaceCount(input);
        for (let i = 0; i < deletes; i++) controller.typeNumber('', true);
        if (!deletes && /^\d+$/.test(input)) controller.typeNumber(input, false);
        return;
      }
      if (kctx.editing === 'text') {
        if (s.step === 'workspace') controller.editWorkspace((v, c) => applyTextKey(v, c, input, key) ?? { value: v, cursor: c });
        else controller.editOption((v, c) => applyTextKey(v, c, input, key) ?? { value: v, cursor: c });
      }
    },
    [store, controller],
  );
  useInput(onKey, { isActive: isRawModeSupported });

  if (columns < MIN_COLUMNS || rows < MIN_ROWS) return <TooSmall columns={columns} rows={rows} />;
  const height = Math.max(4, rows - 1);
  const width = Math.max(20, columns);
  const bodyHeight = Math.max(1, height - 4);
  const body = () => {
    if (modal === 'help') return <Help width={width} height={bodyHeight} ctx={ctx} />;
    if (modal === 'quit') return <QuitDialog width={width} height={bodyHeight} />;
    if (modal === 'start') return <StartDialog width={width} height={bodyHeight} />;
    if (explaining)
      return (
        <Box paddingX={1}>
          <WizardExplainView store={controller.explain.store} width={width - 2} height={bodyHeight} />
        </Box>
      );
    if (step !== 'workspace' || modal === 'host') {
      // Only until the later steps have loaded (a few hundred ms after the first frame at most).
      if (!m) return <Text>loading…</Text>;
    }
    const { HostDetail, PreflightStep, SizingStep, OptionsStep, ReviewStep, MachinesStep, ProvisioningGrid, SummaryStep } = m ?? ({} as NonNullable<typeof m>);
    if (modal === 'host' && selectedHost)
      return (
        <Box paddingX={1}>
          <HostDetail store={runStore} host={selectedHost} width={width - 2} height={bodyHeight} now={Date.now()} />
        </Box>
      );
    switch (step) {
      case 'workspace':
        return <WorkspaceStep width={width} height={bodyHeight} />;
      case 'preflight':
        return <PreflightStep width={width} height={bodyHeight} />;
      case 'sizing':
        return <SizingStep width={width} height={bodyHeight} />;
      case 'options':
        return <OptionsStep width={width} height={bodyHeight} />;
      case 'review':
        return <ReviewStep width={width} height={bodyHeight} />;
      case 'machines':
        return <MachinesStep width={width} height={bodyHeight} />;
      case 'provision':
        return (
          <Box paddingX={1}>
            <ProvisioningGrid store={runStore} width={width - 2} height={bodyHeight} selected={selectedHost ?? undefined} />
          </Box>
        );
      case 'summary':
        return <SummaryStep width={width} height={bodyHeight} />;
    }
  };
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header width={width} step={STEPS.indexOf(step) + 1} steps={STEPS.length} title={STEP_TITLES[step]} cluster={cluster} />
      <Rule width={width} />
      <Box height={bodyHeight} width={width} overflow="hidden">
        {body()}
      </Box>
      <FlashLine width={width} flash={flash} />
      <Footer width={width} hints={(modal !== 'help' && explaining && explainHints(controller.explain.store)) || footerHints(ctx)} />
    </Box>
  );
}
