/**
 * The wizard's one key map. The dispatcher, the footer hints and the `?` help screen are all generated
 * from it, so a key that works is always shown and a key that is shown always works.
 * Bindings are tried in order: step keys first, then the global ones.
 */
import type { Key } from 'ink';

export const STEPS = ['workspace', 'preflight', 'sizing', 'options', 'review', 'machines', 'provision', 'summary'] as const;
export type StepId = (typeof STEPS)[number];

export const STEP_TITLES: Record<StepId, string> = {
  workspace: 'Workspace',
  preflight: 'Preflight checks',
  sizing: 'Machines and sizes',
  options: 'Options',
  review: 'Review',
  machines: 'Creating machines',
  provision: 'Provisioning',
  summary: 'Summary',
};

export interface KeyContext {
  step: StepId;
  /** A run (write files, vagrant up, converge) is in progress. */
  running: boolean;
  /** What the focused field takes: typed text captures printable keys (so q and ? are typed). */
  editing: 'none' | 'text' | 'number';
  /** Whether `esc` may go back from here. */
  canGoBack: boolean;
  /** The focused field is a choice (enter opens its list). */
  choice: boolean;
  /** The workspace step shows problems in an existing kcore.yaml. */
  problems: boolean;
  /** A host is selected on the provisioning or summary screen. */
  selected: boolean;
  /** The run reached the machines (there are hosts to select). */
  provisioned: boolean;
}

export type BindingId =
  | 'interrupt'
  | 'mode'
  | 'field-next'
  | 'field-prev'
  | 'field-right'
  | 'field-left'
  | 'inc'
  | 'dec'
  | 'open-select'
  | 'continue'
  | 'rerun'
  | 'fresh'
  | 'scroll-up'
  | 'scroll-down'
  | 'review-host'
  | 'explain'
  | 'select-host'
  | 'host-details'
  | 'back'
  | 'help'
  | 'quit';

export interface Binding {
  id: BindingId;
  /** How the keys are written in the footer and the help. */
  keys: string;
  /** Footer word(s); a function may depend on the context and return null to stay out of the footer. */
  label: string | ((ctx: KeyContext) => string | null);
  /** One line for the help screen. */
  help: string;
  match(input: string, key: Key): boolean;
  when(ctx: KeyContext): boolean;
  /** Hidden from the footer (still in the help). */
  quiet?: boolean;
}

const on = (...steps: StepId[]) => (ctx: KeyContext) => steps.includes(ctx.step);

export const KEYMAP: Binding[] = [
  {
    id: 'interrupt',
    keys: 'ctrl+c',
    label: (c) => (c.running ? 'cancel run' : c.editing === 'text' ? 'quit' : null),
    help: 'cancel the run (press again: exit at once); when no run: quit',
    match: (i, k) => k.ctrl && i === 'c',
    when: () => true,
  },
  {
    id: 'mode',
    keys: '↑↓',
    label: 'new/reopen',
    help: 'choose between a new workspace and reopening an existing kcore.yaml',
    match: (_i, k) => k.upArrow || k.downArrow,
    when: on('workspace'),
  },
  {
    id: 'inc',
    keys: '↑/+',
    label: 'more',
    help: 'increase the number in the focused field',
    match: (i, k) => k.upArrow || i === '+' || i === '=',
    when: on('sizing'),
  },
  {
    id: 'dec',
    keys: '↓/-',
    label: 'less',
    help: 'decrease the number (digits type a new value, backspace deletes)',
    match: (i, k) => k.downArrow || i === '-' || i === '_',
    when: on('sizing'),
  },
  {
    id: 'field-right',
    keys: '←→/tab',
    label: 'field',
    help: 'move to the next or previous field',
    match: (_i, k) => k.rightArrow || (k.tab && !k.shift),
    when: on('sizing'),
  },
  {
    id: 'field-left',
    keys: 'shift+tab',
    label: 'previous field',
    help: 'move to the previous field',
    match: (_i, k) => k.leftArrow || (k.tab && k.shift),
    when: on('sizing'),
    quiet: true,
  },
  {
    id: 'field-next',
    keys: '↑↓/tab',
    label: 'field',
    help: 'move between fields (typing edits the focused field)',
    match: (_i, k) => k.downArrow || (k.tab && !k.shift),
    when: on('options'),
  },
  {
    id: 'field-prev',
    keys: 'shift+tab',
    label: 'previous field',
    help: 'move to the previous field',
    match: (_i, k) => k.upArrow || (k.tab && k.shift),
    when: on('options'),
    quiet: true,
  },
  {
    id: 'open-select',
    keys: '←→',
    label: 'change',
    help: 'on a choice field: change the value (enter opens the list)',
    match: (_i, k) => k.leftArrow || k.rightArrow,
    when: (c) => c.step === 'options' && c.choice,
  },
  {
    id: 'review-host',
    keys: '↑↓',
    label: 'host',
    help: 'select a host line (the list scrolls to it; e explains it)',
    match: (_i, k) => k.upArrow || k.downArrow,
    when: on('review'),
  },
  {
    id: 'scroll-up',
    keys: 'pgup/pgdn',
    label: 'scroll',
    help: 'scroll the review a page up or down',
    match: (_i, k) => k.pageUp,
    when: on('review'),
    quiet: true,
  },
  {
    id: 'scroll-down',
    keys: 'pgdn',
    label: 'scroll down',
    help: 'scroll the review down',
    match: (_i, k) => k.pageDown,
    when: on('review'),
    quiet: true,
  },
  {
    id: 'explain',
    keys: 'e',
    label: 'why',
    help: 'explain: on the review, the selected host\'s files (path, mode, owner, role › task, why; enter shows the content, never a secret\'s); while a role runs, why the selected host\'s task exists. esc closes',
    match: (i, k) => i === 'e' && !k.ctrl && !k.meta,
    when: (c) => c.step === 'review' || ((c.step === 'provision' || c.step === 'summary') && c.selected),
  },
  {
    id: 'select-host',
    keys: '↑↓',
    label: 'select host',
    help: "select a host (enter shows its whole failure, hint and last output)",
    match: (_i, k) => k.upArrow || k.downArrow,
    when: (c) => (c.step === 'provision' || c.step === 'summary') && c.provisioned,
  },
  {
    id: 'host-details',
    keys: 'enter',
    label: 'details',
    help: "show the selected host: its state, where it stopped, the whole message and its last output",
    match: (_i, k) => k.return,
    when: (c) => (c.step === 'provision' || c.step === 'summary') && c.selected,
  },
  {
    id: 'rerun',
    keys: 'r',
    label: 'run again',
    help: 'run the preflight checks again',
    match: (i, k) => i === 'r' && !k.ctrl,
    when: on('preflight'),
  },
  {
    id: 'fresh',
    keys: 'ctrl+n',
    label: (c) => (c.problems ? 'start fresh' : null),
    help: 'ignore the invalid kcore.yaml and start from the defaults',
    match: (i, k) => k.ctrl && i === 'n',
    when: on('workspace'),
  },
  {
    id: 'continue',
    keys: 'enter',
    label: (c) => (c.step === 'review' ? 'create cluster' : c.choice ? 'choose' : c.step === 'workspace' ? 'open' : 'continue'),
    help: 'next step; on a choice field: open its list; on review: create',
    match: (_i, k) => k.return,
    when: (c) => !c.running && c.step !== 'summary',
  },
  {
    id: 'back',
    keys: 'esc',
    label: (c) => (c.canGoBack ? 'back' : 'quit'),
    help: 'go back one step; on the first step: ask whether to quit (never during a run)',
    match: (_i, k) => k.escape,
    when: (c) => c.canGoBack || (c.step === 'workspace' && !c.running),
  },
  {
    id: 'help',
    keys: '?',
    label: 'help',
    help: 'show this help (not in a text field: there ? is typed)',
    match: (i) => i === '?',
    when: (c) => c.editing !== 'text',
  },
  {
    id: 'quit',
    keys: 'q',
    label: 'quit',
    help: 'quit, asking first while a run is in progress (not in a text field: there q is typed; ctrl+c quits)',
    match: (i, k) => i === 'q' && !k.ctrl,
    when: (c) => c.editing !== 'text',
  },
];

export function activeBindings(ctx: KeyContext): Binding[] {
  return KEYMAP.filter((b) => b.when(ctx));
}

/** The first active binding a keypress matches. */
export function matchBinding(ctx: KeyContext, input: string, key: Key): Binding | undefined {
  return activeBindings(ctx).find((b) => b.match(input, key));
}

/** Footer hints, deduplicated by keys (two bindings sharing keys show once). */
export function footerHints(ctx: KeyContext): Array<{ keys: string; label: string }> {
  const seen = new Set<string>();
  const out: Array<{ keys: string; label: string }> = [];
  for (const b of activeBindings(ctx)) {
    const label = typeof b.label === 'function' ? b.label(ctx) : b.label;
    if (b.quiet || label === null || seen.has(b.keys)) continue;
    seen.add(b.keys);
    out.push({ keys: b.keys, label });
  }
  return out;
}
