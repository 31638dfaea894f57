/**
 * The dashboard's root: header, host list beside the detail pane, flash line, key hints; one key
 * dispatcher fed by the key map (an open dialog owns the keys); the dialogs (help, confirmations that
 * default to Cancel, the unit picker). The root box is one row shorter than the terminal (no flicker).
 * It reads the stores and calls the actions it is given: no SSH, no processes, no files.
 */
import { Box, Text, useApp, useInput, useStdin, type Key } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { HostExplanation } from '../../explain/types.js';
import { ExplainBox, hostEntries, hostExplainLines } from '../components/Explain.js';
import type { DashboardState } from '../../state/dashboard-store.js';
import { Dialog, FlashLine, Footer, Rule } from '../components/Frame.js';
import { useNow, useTerminalSize, type SizedStream } from '../hooks.js';
import { useTheme } from '../theme.js';
import { useDash, useDashboardContext } from './context.js';
import { footerHints, helpRows, matchBinding, type DashBindingId, type DashKeyContext } from './keymap.js';
import { DashboardHeader, DetailPane, HostList, VRule } from './panes.js';
import { seg } from './lines.js';

export const FLASH_MS = 4000;
/** Below this width the list and the detail pane do not fit side by side: enter shows the detail. */
export const SPLIT_MIN_WIDTH = 70;

export function keyContext(s: Pick<DashboardState, 'dialog' | 'filtering' | 'filter' | 'view' | 'pane' | 'selected'>, running: boolean, explaining = false): DashKeyContext {
  return {
    explaining,
    dialog: s.dialog ? s.dialog.kind : 'none',
    filtering: s.filtering,
    hasFilter: s.filter !== '',
    view: s.view,
    pane: s.pane,
    running,
    hasSelection: s.selected !== undefined,
  };
}

function HelpDialog({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const rows = helpRows();
  const kw = Math.max(...rows.map((r) => r.keys.length)) + 2;
  const titles = { main: 'Keys', filter: 'While typing a filter', dialog: 'In dialogs' } as const;
  const out: Array<{ key: string; node: ReactNode }> = [];
  let scope = '';
  for (const r of rows) {
    if (r.scope !== scope) {
      scope = r.scope;
      if (r.scope !== 'main') out.push({ key: `h-${r.scope}`, node: <Text color={t.c('muted')}>{titles[r.scope]}</Text> });
    }
    out.push({
      key: `${r.scope}-${r.keys}-${r.help}`,
      node: (
        <Box>
          <Box width={kw} flexShrink={0}>
            <Text bold color={t.c('accent')}>
              {r.keys}
            </Text>
          </Box>
          <Text wrap="truncate-end">{r.help}</Text>
        </Box>
      ),
    });
  }
  out.push({ key: 'legend', node: <Text color={t.c('muted')} wrap="truncate-end">✓ healthy ✗ failing ⊘ unreachable ○ not installed … checking ? stale</Text> });
  return (
    <Dialog width={width} height={height} title="Dashboard keys  (esc or ? closes)">
      {out.slice(0, Math.max(1, height - 3)).map((x) => (
        <Box key={x.key}>{x.node}</Box>
      ))}
    </Dialog>
  );
}

function ConfirmDialog({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const d = useDash((s) => s.dialog);
  if (d?.kind !== 'confirm') return null;
  const quit = d.action === 'quit';
  const title = quit ? 'A rerun is in progress' : `Converge ${d.host} again?`;
  const body = quit ? 'Quit now? The rerun is cancelled.' : `Every role runs on ${d.host}: files are rewritten where they differ and services restart when their configuration changed.`;
  const action = quit ? 'Quit' : 'Converge';
  const button = (label: string, chosen: boolean) => (
    <Text bold={chosen} inverse={chosen} color={chosen ? undefined : t.c('muted')}>
      {chosen ? `[ ${label} ]` : `  ${label}  `}
    </Text>
  );
  return (
    <Dialog width={width} height={height} title={title} tone="warn">
      <Text wrap="wrap">{body}</Text>
      <Text> </Text>
      <Text>
        {button('Cancel', d.choice === 'cancel')}
        {'   '}
        {button(action, d.choice === 'ok')}
      </Text>
      <Text color={t.c('muted')}>←→ choose · enter confirms the chosen · y {action.toLowerCase()} · esc cancel</Text>
    </Dialog>
  );
}

function PickUnitDialog({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const d = useDash((s) => s.dialog);
  if (d?.kind !== 'pick-unit') return null;
  return (
    <Dialog width={width} height={height} title={`Journal of which unit on ${d.host}?`}>
      {d.units.slice(0, Math.max(1, height - 4)).map((u, i) => (
        <Text key={u} bold={i === d.index} inverse={i === d.index}>
          {i === d.index ? '› ' : '  '}
          {u}
        </Text>
      ))}
      <Text color={t.c('muted')}>↑↓ choose · enter show · esc cancel</Text>
    </Dialog>
  );
}

/** The teaching view of a host (`e`): UI state only, kept in the App (the store holds what the cluster is). */
type ExplainView = { host: string; index: number } & ({ status: 'loading' } | { status: 'ready'; data: HostExplanation } | { status: 'error'; error: string });

function ExplainPane({ view, width, height }: { view: ExplainView; width: number; height: number }) {
  const title = [seg(`Why: ${view.host}`, 'title', true), seg('  what it is for, its units and its checks', 'muted')];
  if (view.status !== 'ready') {
    const lines = view.status === 'loading' ? [[seg('● reading the spec and the roles…', 'running')]] : [[seg(`✗ cannot explain ${view.host}: ${view.error}`, 'failed')]];
    return <ExplainBox title={title} body={{ lines }} legend="esc closes" width={width} height={height} />;
  }
  return <ExplainBox title={title} body={hostExplainLines(view.data, view.index, width)} legend="↑↓ host, unit or check · esc closes" width={width} height={height} />;
}

export interface DashboardAppProps {
  stdout: SizedStream;
  /** Called once with the exit code when the app leaves. */
  onExit?(code: number): void;
  /** How long a flash message stays (ms). */
  flashMs?: number;
}

export function DashboardApp({ stdout, onExit, flashMs = FLASH_MS }: DashboardAppProps) {
  const { store, actions, explain } = useDashboardContext();
  const [explainView, setExplainView] = useState<ExplainView | null>(null);
  const explainRef = useRef(explainView);
  explainRef.current = explainView;
  const explainSeq = useRef(0);
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { columns, rows } = useTerminalSize(stdout);
  const now = useNow(1000, true);
  const flash = useDash((s) => s.flash);
  const dialog = useDash((s) => s.dialog);
  const view = useDash((s) => s.view);
  const selected = useDash((s) => s.selected);
  const running = useDash((s) => s.run?.status === 'running');
  const filtering = useDash((s) => s.filtering);
  const filter = useDash((s) => s.filter);
  const pane = useDash((s) => s.pane);
  const hostsRef = useDash((s) => s.hosts);
  const ctx = useMemo(
    () => keyContext({ dialog, filtering, filter, view, pane, selected }, running, explainView !== null),
    [dialog, filtering, filter, view, pane, selected, running, explainView],
  );

  // The flash line clears itself.
  useEffect(() => {
    if (!flash) return;
    const id = flash.id;
    const timer = setTimeout(() => store.getState().clearFlash(id), flashMs);
    return () => clearTimeout(timer);
  }, [flash, store, flashMs]);

  // The commands last run on the selected host, reloaded when the selection changes.
  useEffect(() => {
    if (selected) actions.loadCommands(selected);
  }, [selected, actions]);

  const quit = useCallback(
    (code: number) => {
      actions.cancelRun();
      onExit?.(code);
      exit();
    },
    [actions, exit, onExit],
  );

  const handle = useCallback(
    (id: DashBindingId) => {
      const s = store.getState();
      const d = s.dialog;
      switch (id) {
        case 'interrupt':
          return quit(130);
        case 'help-close':
        case 'dialog-close':
          return s.closeDialog();
        case 'confirm-toggle':
          if (d?.kind === 'confirm') s.updateDialog({ ...d, choice: d.choice === 'cancel' ? 'ok' : 'cancel' });
          return;
        case 'confirm-yes':
        case 'confirm-enter': {
          if (d?.kind !== 'confirm') return;
          s.closeDialog();
          if (id === 'confirm-enter' && d.choice === 'cancel') return;
          if (d.action === 'quit') return quit(0);
          if (d.host) actions.reconverge(d.host);
          return;
        }
        case 'pick-up':
        case 'pick-down':
          if (d?.kind === 'pick-unit') s.updateDialog({ ...d, index: Math.max(0, Math.min(d.units.length - 1, d.index + (id === 'pick-up' ? -1 : 1))) });
          return;
        case 'pick-enter':
          if (d?.kind === 'pick-unit') {
            s.closeDialog();
            actions.journal(d.host, d.units[d.index]!);
          }
          return;
        case 'explain': {
          const host = s.selected;
          if (!host) return;
          if (!explain) return s.flashMessage('explanations are not available here', 'warn');
          const seq = ++explainSeq.current;
          setExplainView({ host, index: 0, status: 'loading' });
          explain(host).then(
            (data) => seq === explainSeq.current && setExplainView({ host, index: 0, status: 'ready', data }),
            (e: unknown) => seq === explainSeq.current && setExplainView({ host, index: 0, status: 'error', error: (e as Error).message ?? String(e) }),
          );
          return;
        }
        case 'explain-up':
        case 'explain-down':
          return setExplainView((v) => {
            if (v?.status !== 'ready') return v;
            const n = hostEntries(v.data).length;
            return { ...v, index: Math.max(0, Math.min(n - 1, v.index + (id === 'explain-up' ? -1 : 1))) };
          });
        case 'explain-close':
          explainSeq.current++;
          return setExplainView(null);
        case 'filter-accept':
          return s.endFilter(true);
        case 'filter-cancel':
          return s.endFilter(false);
        case 'up':
        case 'down':
          s.move(id === 'up' ? -1 : 1);
          if (s.pane === 'journal') s.setPane('info');
          return;
        case 'details':
          return s.setView(s.view === 'list' ? 'detail' : 'list');
        case 'smoke':
          if (s.selected) actions.rerunSmoke(s.selected);
          return;
        case 'smoke-all':
          return actions.rerunSmoke('all');
        case 'converge':
          if (s.selected) s.openDialog({ kind: 'confirm', action: 'reconverge', host: s.selected, choice: 'cancel' });
          return;
        case 'journal': {
          if (!s.selected) return;
          const units = actions.unitsOf(s.selected);
          if (units.length === 1) actions.journal(s.selected, units[0]!);
          else if (units.length > 1) s.openDialog({ kind: 'pick-unit', host: s.selected, units, index: 0 });
          return;
        }
        case 'refresh':
          return actions.refresh();
        case 'filter':
          return s.startFilter();
        case 'cancel-run':
          actions.cancelRun();
          return s.flashMessage('cancelling the rerun…', 'warn');
        case 'back':
          if (s.pane !== 'info') return s.setPane('info');
          if (s.view === 'detail') return s.setView('list');
          if (s.filter) return s.endFilter(false);
          return s.flashMessage('esc goes back; q quits', 'info');
        case 'help':
          return s.openDialog({ kind: 'help' });
        case 'quit':
          if (s.run?.status === 'running') return s.openDialog({ kind: 'confirm', action: 'quit', choice: 'cancel' });
          return quit(0);
      }
    },
    [store, actions, quit, explain],
  );

  const onKey = useCallback(
    (input: string, key: Key) => {
      const s = store.getState();
      const kctx = keyContext(s, s.run?.status === 'running', explainRef.current !== null);
      const b = matchBinding(kctx, input, key);
      if (b) return handle(b.id);
      if (kctx.filtering && kctx.dialog === 'none') {
        if (key.backspace || key.delete) s.editFilter((f) => f.slice(0, -1));
        else if (input && !key.ctrl && !key.meta && !key.escape && !key.return && !key.tab && input.charCodeAt(0) >= 32) s.editFilter((f) => f + input);
      }
    },
    [store, handle],
  );
  useInput(onKey, { isActive: isRawModeSupported });

  const height = Math.max(6, rows - 1);
  const width = Math.max(30, columns);
  const bodyHeight = Math.max(1, height - 4);
  const split = width >= SPLIT_MIN_WIDTH;
  // The list as wide as its rows (marker, glyph, longest name, longest status word, poll dot), within bounds.
  const longest = hostsRef.reduce((n, h) => Math.max(n, h.name.length), 8);
  const listWidth = split ? Math.min(longest + 24, Math.max(28, Math.floor(width * 0.45))) : width;
  const body = () => {
    if (dialog?.kind === 'help') return <HelpDialog width={width} height={bodyHeight} />;
    if (dialog?.kind === 'confirm') return <ConfirmDialog width={width} height={bodyHeight} />;
    if (dialog?.kind === 'pick-unit') return <PickUnitDialog width={width} height={bodyHeight} />;
    if (explainView)
      return (
        <Box paddingX={1}>
          <ExplainPane view={explainView} width={width - 2} height={bodyHeight} />
        </Box>
      );
    if (view === 'detail' || (!split && pane !== 'info'))
      return (
        <Box paddingX={1}>
          <DetailPane width={width - 2} height={bodyHeight} now={now} />
        </Box>
      );
    if (!split) return <HostList width={width} height={bodyHeight} now={now} />;
    return (
      <Box width={width} height={bodyHeight}>
        <HostList width={listWidth} height={bodyHeight} now={now} />
        <VRule height={bodyHeight} />
        <Box paddingLeft={1}>
          <DetailPane width={width - listWidth - 2} height={bodyHeight} now={now} />
        </Box>
      </Box>
    );
  };
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <DashboardHeader width={width} now={now} />
      <Rule width={width} />
      <Box height={bodyHeight} width={width} overflow="hidden">
        {body()}
      </Box>
      <FlashLine width={width} flash={flash} />
      <Footer width={width} hints={footerHints(ctx, width)} />
    </Box>
  );
}
