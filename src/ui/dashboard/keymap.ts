/**
 * The dashboard's one key map. The dispatcher, the footer hints and the `?` help are all generated
 * from it: a key that works is shown, a key that is shown works. Bindings are tried in order and only
 * those whose `when` holds are live, so an open dialog owns the keys (modal first), then the filter
 * being typed, then the main screen.
 */
import type { Key } from 'ink';
import type { Pane } from '../../state/dashboard-store.js';

export interface DashKeyContext {
  dialog: 'none' | 'help' | 'confirm' | 'pick-unit';
  /** The filter is being typed: printable keys go into it. */
  filtering: boolean;
  hasFilter: boolean;
  view: 'list' | 'detail';
  pane: Pane;
  /** A rerun or reconverge is in progress. */
  running: boolean;
  hasSelection: boolean;
  /** The teaching view (`e`) is open: it owns the arrows and esc. */
  explaining?: boolean;
}

export type DashBindingId =
  | 'interrupt'
  | 'dialog-close'
  | 'help-close'
  | 'confirm-toggle'
  | 'confirm-yes'
  | 'confirm-enter'
  | 'pick-up'
  | 'pick-down'
  | 'pick-enter'
  | 'explain'
  | 'explain-up'
  | 'explain-down'
  | 'explain-close'
  | 'filter-accept'
  | 'filter-cancel'
  | 'up'
  | 'down'
  | 'details'
  | 'smoke'
  | 'smoke-all'
  | 'converge'
  | 'journal'
  | 'refresh'
  | 'filter'
  | 'cancel-run'
  | 'back'
  | 'help'
  | 'quit';

export type Scope = 'dialog' | 'filter' | 'main';

export interface DashBinding {
  id: DashBindingId;
  scope: Scope;
  /** How the keys are written in the footer and the help. */
  keys: string;
  /** Footer word(s), or null to stay out of the footer (still in the help). */
  label: string | null | ((ctx: DashKeyContext) => string | null);
  help: string;
  match(input: string, key: Key): boolean;
  when(ctx: DashKeyContext): boolean;
  /** The other half of a pair already described (↓ of ↑↓): left out of the help. */
  quiet?: boolean;
  /** Footer priority when the hints do not fit: higher numbers are dropped first (default 3). */
  rank?: number;
}

const main = (ctx: DashKeyContext) => ctx.dialog === 'none' && !ctx.filtering && !ctx.explaining;
const explaining = (ctx: DashKeyContext) => ctx.dialog === 'none' && !ctx.filtering && !!ctx.explaining;
const plain = (ch: string) => (input: string, key: Key) => input === ch && !key.ctrl && !key.meta;

export const DASHBOARD_KEYMAP: DashBinding[] = [
  {
    id: 'interrupt',
    scope: 'main',
    keys: 'ctrl+c',
    label: null,
    help: 'quit at once (a rerun in progress is cancelled)',
    match: (i, k) => k.ctrl && i === 'c',
    when: () => true,
  },
  // Dialogs (modal: they win over everything else).
  {
    id: 'help-close',
    scope: 'dialog',
    keys: 'esc/?/q',
    label: 'close',
    help: 'close this help',
    match: (i, k) => k.escape || i === '?' || i === 'q' || k.return,
    when: (c) => c.dialog === 'help',
  },
  {
    id: 'confirm-toggle',
    scope: 'dialog',
    keys: '←→/tab',
    label: 'choose',
    help: 'in a confirmation: move between Cancel (the default) and the action',
    match: (_i, k) => k.leftArrow || k.rightArrow || k.tab,
    when: (c) => c.dialog === 'confirm',
  },
  {
    id: 'confirm-enter',
    scope: 'dialog',
    keys: 'enter',
    label: 'do the chosen',
    help: 'in a confirmation: do what is chosen (Cancel unless you moved to the action)',
    match: (_i, k) => k.return,
    when: (c) => c.dialog === 'confirm',
  },
  {
    id: 'confirm-yes',
    scope: 'dialog',
    keys: 'y',
    label: 'yes',
    help: 'in a confirmation: do it',
    match: plain('y'),
    when: (c) => c.dialog === 'confirm',
  },
  {
    id: 'pick-up',
    scope: 'dialog',
    keys: '↑↓/jk',
    label: 'unit',
    help: 'in the unit list: move',
    match: (i, k) => k.upArrow || i === 'k',
    when: (c) => c.dialog === 'pick-unit',
  },
  {
    id: 'pick-down',
    scope: 'dialog',
    keys: '↓/j',
    label: null,
    help: 'in the unit list: move down',
    quiet: true,
    match: (i, k) => k.downArrow || i === 'j',
    when: (c) => c.dialog === 'pick-unit',
  },
  {
    id: 'pick-enter',
    scope: 'dialog',
    keys: 'enter',
    label: 'show journal',
    help: "in the unit list: show the unit's journal (last 50 lines)",
    match: (_i, k) => k.return,
    when: (c) => c.dialog === 'pick-unit',
  },
  {
    id: 'dialog-close',
    scope: 'dialog',
    keys: 'esc/n',
    label: 'cancel',
    help: 'close a dialog without doing anything',
    match: (i, k) => k.escape || i === 'n' || i === 'q',
    when: (c) => c.dialog === 'confirm' || c.dialog === 'pick-unit',
  },
  // The teaching view (e), open over the detail pane.
  {
    id: 'explain-up',
    scope: 'dialog',
    keys: '↑↓/jk',
    label: 'entry',
    help: 'in an explanation: move between the host, its units and its checks (the chosen one opens)',
    match: (i, k) => k.upArrow || plain('k')(i, k),
    when: explaining,
  },
  {
    id: 'explain-down',
    scope: 'dialog',
    keys: '↓/j',
    label: null,
    help: 'in an explanation: the next entry',
    quiet: true,
    match: (i, k) => k.downArrow || plain('j')(i, k),
    when: explaining,
  },
  {
    id: 'explain-close',
    scope: 'dialog',
    keys: 'esc/e/q',
    label: 'close',
    help: 'close the explanation',
    match: (i, k) => k.escape || plain('e')(i, k) || plain('q')(i, k),
    when: explaining,
  },
  // The filter being typed.
  {
    id: 'filter-accept',
    scope: 'filter',
    keys: 'enter',
    label: 'keep filter',
    help: 'while typing a filter: keep it and go back to the list',
    match: (_i, k) => k.return,
    when: (c) => c.dialog === 'none' && c.filtering,
  },
  {
    id: 'filter-cancel',
    scope: 'filter',
    keys: 'esc',
    label: 'clear filter',
    help: 'while typing a filter: clear it',
    match: (_i, k) => k.escape,
    when: (c) => c.dialog === 'none' && c.filtering,
  },
  // The main screen.
  {
    id: 'up',
    rank: 1,
    scope: 'main',
    keys: '↑↓/jk',
    label: 'select',
    help: 'select a host',
    match: (i, k) => k.upArrow || plain('k')(i, k),
    when: main,
  },
  {
    id: 'down',
    scope: 'main',
    keys: '↓/j',
    label: null,
    help: 'select the next host',
    quiet: true,
    match: (i, k) => k.downArrow || plain('j')(i, k),
    when: main,
  },
  {
    id: 'details',
    rank: 2,
    scope: 'main',
    keys: 'enter',
    label: (c) => (c.view === 'list' ? 'details' : null),
    help: "the selected host's details, full width",
    match: (_i, k) => k.return,
    when: (c) => main(c) && c.hasSelection,
  },
  {
    id: 'smoke',
    rank: 1,
    scope: 'main',
    keys: 's',
    label: 'smoke',
    help: 'rerun the smoke tests of the selected host (results stream into the detail pane)',
    match: plain('s'),
    when: (c) => main(c) && c.hasSelection,
  },
  {
    id: 'smoke-all',
    rank: 3,
    scope: 'main',
    keys: 'S',
    label: 'all',
    help: 'rerun the smoke tests on every host',
    match: plain('S'),
    when: main,
  },
  {
    id: 'converge',
    rank: 3,
    scope: 'main',
    keys: 'c',
    label: 'converge',
    help: 'converge the selected host again, every role (asks first; Cancel is the default)',
    match: plain('c'),
    when: (c) => main(c) && c.hasSelection,
  },
  {
    id: 'journal',
    rank: 3,
    scope: 'main',
    keys: 'l',
    label: 'journal',
    help: "show the last 50 lines of a unit's journal on the selected host (pick the unit)",
    match: plain('l'),
    when: (c) => main(c) && c.hasSelection,
  },
  {
    id: 'explain',
    rank: 1,
    scope: 'main',
    keys: 'e',
    label: 'why',
    help: 'explain the selected host: what it is for, each unit and check and why it exists, the exact command a check runs',
    match: plain('e'),
    when: (c) => main(c) && c.hasSelection,
  },
  {
    id: 'refresh',
    rank: 4,
    scope: 'main',
    keys: 'r',
    label: 'refresh',
    help: 'poll every host now',
    match: plain('r'),
    when: main,
  },
  {
    id: 'filter',
    rank: 4,
    scope: 'main',
    keys: '/',
    label: 'filter',
    help: 'filter the hosts by name, group, address or status (e.g. /fail)',
    match: plain('/'),
    when: main,
  },
  {
    id: 'cancel-run',
    rank: 0,
    scope: 'main',
    keys: 'x',
    label: (c) => (c.running ? 'cancel run' : null),
    help: 'cancel the rerun in progress',
    match: plain('x'),
    when: (c) => main(c) && c.running,
  },
  {
    id: 'back',
    rank: 2,
    scope: 'main',
    keys: 'esc',
    label: (c) => (c.pane !== 'info' || c.view === 'detail' || c.hasFilter ? 'back' : null),
    help: 'back: from a journal or run results to the host info, from details to the list, then clear the filter (never quits)',
    match: (_i, k) => k.escape,
    when: main,
  },
  {
    id: 'help',
    rank: 1,
    scope: 'main',
    keys: '?',
    label: 'help',
    help: 'show this help',
    match: plain('?'),
    when: main,
  },
  {
    id: 'quit',
    rank: 1,
    scope: 'main',
    keys: 'q',
    label: 'quit',
    help: 'quit (asks first while a rerun is in progress)',
    match: plain('q'),
    when: main,
  },
];

export function activeBindings(ctx: DashKeyContext): DashBinding[] {
  return DASHBOARD_KEYMAP.filter((b) => b.when(ctx));
}

/** The first live binding a keypress matches. */
export function matchBinding(ctx: DashKeyContext, input: string, key: Key): DashBinding | undefined {
  return activeBindings(ctx).find((b) => b.match(input, key));
}

export function labelOf(b: DashBinding, ctx: DashKeyContext): string | null {
  return typeof b.label === 'function' ? b.label(ctx) : b.label;
}

/**
 * Footer hints of the live bindings, deduplicated by keys, in key-map order. When they do not fit in
 * `width`, the least important go first (by rank), so `? help` and `q quit` always stay.
 */
export function footerHints(ctx: DashKeyContext, width = Infinity): Array<{ keys: string; label: string }> {
  const seen = new Set<string>();
  let out: Array<{ keys: string; label: string; rank: number }> = [];
  for (const b of activeBindings(ctx)) {
    const label = labelOf(b, ctx);
    if (label === null || seen.has(b.keys)) continue;
    seen.add(b.keys);
    out.push({ keys: b.keys, label, rank: b.rank ?? 3 });
  }
  const len = (h: typeof out) => h.reduce((n, x) => n + x.keys.length + x.label.length + 3, 1);
  while (out.length > 1 && len(out) > width) {
    const worst = out.reduce((w, x, i) => (x.rank >= out[w]!.rank ? i : w), 0);
    out = out.filter((_, i) => i !== worst);
  }
  return out.map(({ keys, label }) => ({ keys, label }));
}

/** The help screen's rows: every binding of the map, by scope. */
export function helpRows(): Array<{ scope: Scope; keys: string; help: string }> {
  const order: Scope[] = ['main', 'filter', 'dialog'];
  return order.flatMap((scope) => DASHBOARD_KEYMAP.filter((b) => b.scope === scope && !b.quiet).map((b) => ({ scope, keys: b.keys, help: b.help })));
}
