/**
 * What the wizard's keys do: every state change and every call to the injected actions goes through
 * here, so the components only draw and dispatch. One AbortController per run; Ctrl+C aborts it
 * (first press) or exits at once (second press).
 */
import path from 'node:path';
import type { EngineEvent, HostState } from '../../engine/events.js';
import { SpecError, formatProblem } from '../../spec/errors.js';
import { defaultSpec } from '../../spec/defaults.js';
import type { ClusterSpec } from '../../spec/schema.js';
import type { RunStore } from '../../state/run-store.js';
import { createEventBuffer, type EventBuffer } from '../event-buffer.js';
import { FINISHED } from '../theme.js';
import { existingNextSteps } from '../../commands/init.js';
import { NotAvailableError, type WizardActions } from './actions.js';
import { OPTION_FIELDS, SIZE_FIELDS, SIZE_STEP, optionPathFor, setSize } from './fields.js';
import { STEPS, type BindingId, type StepId } from './keymap.js';
import { isRunning, type FlashTone, type WizardState, type WizardStore } from './store.js';
import { validateDraft } from './validate.js';
import { WizardExplainer } from './explain.js';

export interface ControllerDeps {
  store: WizardStore;
  runStore: RunStore;
  actions: WizardActions;
  /** Exit at once, e.g. second Ctrl+C during a run (defaults to the normal exit). */
  forceExit?(code: number): void;
  /** How often buffered engine events are applied (ms). */
  flushMs?: number;
}

const BACK: Partial<Record<StepId, StepId>> = { preflight: 'workspace', sizing: 'preflight', options: 'sizing', review: 'options' };

/** A DNS label from a folder name, for the default cluster name. */
export function nameFromDir(dir: string): string {
  const base = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return /^[a-z0-9]/.test(base) ? base : 'kcore';
}

export class WizardController {
  private flashId = 0;
  private runAbort: AbortController | null = null;
  private preflightAbort: AbortController | null = null;
  private buffer: EventBuffer | null = null;
  private exitFn: (code: number) => void = () => {};

  /** The teaching view (`e`): its own store and keys (explain.ts). */
  readonly explain: WizardExplainer;

  constructor(private readonly deps: ControllerDeps) {
    this.explain = new WizardExplainer(deps.actions, () => this.state, deps.runStore, (reviewScroll) => this.set({ reviewScroll }));
  }

  /** The root component wires how to leave the app (unmount and report the code). */
  setExit(fn: (code: number) => void): void {
    this.exitFn = fn;
  }

  private exit(code: number): void {
    this.dispose();
    this.exitFn(code);
  }

  private forceExit(code: number): void {
    this.dispose();
    if (this.deps.forceExit) this.deps.forceExit(code);
    else this.exitFn(code);
  }

  get state(): WizardState {
    return this.deps.store.getState();
  }

  private set(patch: Partial<WizardState> | ((s: WizardState) => Partial<WizardState>)): void {
    this.deps.store.setState(patch);
  }

  /** An edit answers an error message about the old value: drop it. */
  private edited(): void {
    if (this.state.flash?.tone === 'error') this.set({ flash: null });
  }

  flash(text: string, tone: FlashTone = 'info'): void {
    this.set({ flash: { text, tone, id: ++this.flashId } });
  }

  clearFlash(id: number): void {
    if (this.state.flash?.id === id) this.set({ flash: null });
  }

  // ---- keys ---------------------------------------------------------------------------------------

  /** Run a key map binding; returns false when it does nothing here. */
  handle(id: BindingId): boolean {
    const s = this.state;
    switch (id) {
      case 'interrupt':
        this.interrupt();
        return true;
      case 'help':
        this.set({ modal: 'help' });
        return true;
      case 'quit':
        this.quit();
        return true;
      case 'back':
        this.back();
        return true;
      case 'continue':
        void this.next();
        return true;
      case 'mode':
        if (s.workspace.busy) return true;
        this.set({ workspace: { ...s.workspace, mode: s.workspace.mode === 'new' ? 'reopen' : 'new', problems: [], confirmReplace: false, notice: null } });
        return true;
      case 'fresh':
        if (s.workspace.problems.length === 0) return false;
        this.useDraft(this.freshSpec(path.resolve(s.workspace.dir)), path.resolve(s.workspace.dir), null);
        this.flash('starting from the defaults: the invalid kcore.yaml is replaced when you create the cluster', 'warn');
        return true;
      case 'rerun':
        void this.runPreflight();
        return true;
      case 'inc':
      case 'dec':
        this.bump(id === 'inc' ? 1 : -1);
        return true;
      case 'field-right':
      case 'field-left':
        this.set({ sizing: { focus: (s.sizing.focus + (id === 'field-right' ? 1 : SIZE_FIELDS.length - 1)) % SIZE_FIELDS.length, fresh: true } });
        return true;
      case 'field-next':
      case 'field-prev':
        this.set({ options: { focus: (s.options.focus + (id === 'field-next' ? 1 : OPTION_FIELDS.length - 1)) % OPTION_FIELDS.length, cursor: null, open: false } });
        return true;
      case 'open-select':
        return false; // handled with the arrow direction: see cycleChoice
      case 'scroll-up':
        this.explain.releaseReviewHost();
        this.explain.scrollReview(-10);
        return true;
      case 'scroll-down':
        this.explain.releaseReviewHost();
        this.explain.scrollReview(10);
        return true;
      case 'review-host':
        return false; // handled with the arrow direction: see explain.moveReviewHost
      case 'explain':
        if (this.explain.open()) return true;
        if (s.step !== 'review') this.flash(`${s.selectedHost ?? 'this host'} has not started a role yet: nothing to explain`);
        return false;
      case 'select-host':
        return false; // handled with the arrow direction: see selectHost
      case 'host-details':
        if (!s.selectedHost) return false;
        this.set({ modal: 'host' });
        return true;
    }
  }

  // ---- navigation ---------------------------------------------------------------------------------

  canGoBack(s: WizardState = this.state): boolean {
    if (isRunning(s)) return false;
    if (s.step === 'summary') return !s.run.result?.writtenOnly && (s.run.provisioned || s.run.status === 'done');
    return BACK[s.step] !== undefined;
  }

  back(): void {
    const s = this.state;
    if (isRunning(s)) {
      this.flash('a run is in progress: Ctrl+C cancels it', 'warn');
      return;
    }
    if (s.step === 'summary') {
      this.set({ step: s.run.provisioned ? 'provision' : 'machines' });
      return;
    }
    // Nothing to go back to: esc asks whether to leave (as q does during a run).
    if (s.step === 'workspace') {
      this.set({ modal: 'quit' });
      return;
    }
    const prev = BACK[s.step];
    if (!prev) return;
    if (s.step === 'preflight') this.preflightAbort?.abort();
    this.set({ step: prev, modal: null });
  }

  async next(): Promise<void> {
    const s = this.state;
    switch (s.step) {
      case 'workspace':
        return this.openWorkspace();
      case 'preflight':
        if (s.preflight.status === 'running') {
          this.flash('preflight is still running…');
          return;
        }
        {
          const failed = s.preflight.checks.filter((c) => !c.ok && !c.warning).length;
          if (s.preflight.error) this.flash(`preflight did not run: ${s.preflight.error}`, 'warn');
          else if (failed) this.flash(`${failed} preflight check${failed === 1 ? '' : 's'} failed: fix before creating the cluster`, 'warn');
        }
        this.set({ step: 'sizing' });
        return;
      case 'sizing': {
        const bad = Object.keys(validateDraft(s.draft).errors).filter((f) => f.startsWith('groups.'));
        if (bad.length) {
          const focus = SIZE_FIELDS.findIndex((f) => f.path === bad[0]);
          this.set({ sizing: { focus: focus >= 0 ? focus : s.sizing.focus, fresh: true } });
          this.flash(`fix ${bad.length === 1 ? 'the problem' : `${bad.length} problems`} first: ${validateDraft(s.draft).errors[bad[0]!]}`, 'error');
          return;
        }
        this.set({ step: 'options' });
        return;
      }
      case 'options': {
        const field = OPTION_FIELDS[s.options.focus]!;
        if (field.kind === 'choice') {
          this.set({ options: { ...s.options, open: true } });
          return;
        }
        const problems = validateDraft(s.draft);
        const bad = Object.keys(problems.errors);
        if (bad.length) {
          const first = bad[0]!;
          const idx = optionPathFor(first);
          if (idx >= 0) this.set({ options: { focus: idx, cursor: null, open: false } });
          else if (first.startsWith('groups.')) this.set({ step: 'sizing' });
          this.flash(`fix ${bad.length === 1 ? 'the problem' : `${bad.length} problems`} first: ${first}: ${problems.errors[first]}`, 'error');
          return;
        }
        this.set({ step: 'review', reviewScroll: 0 });
        // The provider and sizes may have changed since step 2: check again with the final spec.
        void this.runPreflight();
        return;
      }
      case 'review':
        if (Object.keys(validateDraft(s.draft).errors).length) {
          this.flash('the spec has problems: go back (esc) and fix them', 'error');
          return;
        }
        this.set({ modal: 'start' });
        return;
      case 'machines':
      case 'provision':
        if (s.run.status === 'done') this.set({ step: 'summary' });
        return;
      case 'summary':
        return;
    }
  }

  // ---- workspace ----------------------------------------------------------------------------------

  private freshSpec(dir: string): ClusterSpec {
    return { ...defaultSpec(), name: nameFromDir(dir) };
  }

  private useDraft(spec: ClusterSpec, dir: string, loadedFrom: string | null): void {
    const s = this.state;
    this.set({
      draft: spec,
      dir,
      loadedFrom,
      step: 'preflight',
      workspace: { ...s.workspace, busy: false, problems: [], confirmReplace: false, notice: null },
      sizing: { focus: 0, fresh: true },
      options: { focus: 0, cursor: null, open: false },
    });
    void this.runPreflight();
  }

  async openWorkspace(): Promise<void> {
    const s = this.state;
    if (s.workspace.busy) return;
    const typed = s.workspace.dir.trim();
    if (!typed) {
      this.flash('type the folder of the cluster workspace', 'error');
      return;
    }
    const dir = path.resolve(typed);
    this.set({ workspace: { ...s.workspace, busy: true, notice: null } });
    let loaded: Awaited<ReturnType<WizardActions['loadExisting']>>;
    try {
      loaded = await this.deps.actions.loadExisting(dir);
    } catch (e) {
      const problems =
        e instanceof SpecError ? e.problems.map((p) => formatProblem(e.file, p)) : [`could not read the workspace: ${(e as Error).message}`];
      this.set((st) => ({ workspace: { ...st.workspace, busy: false, problems, confirmReplace: false } }));
      this.flash(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the existing kcore.yaml: fix the file and press enter, or ctrl+n to start fresh`, 'error');
      return;
    }
    const ws = this.state.workspace;
    if (ws.mode === 'reopen') {
      if (!loaded) {
        this.set({ workspace: { ...ws, busy: false, problems: [], notice: `no kcore.yaml in ${dir}: choose "New" to create one there` } });
        return;
      }
      this.useDraft(loaded.spec, dir, loaded.file);
      const w = loaded.warnings.length;
      this.flash(`reopened ${loaded.file}${w ? ` (${w} warning${w === 1 ? '' : 's'})` : ''}`);
      return;
    }
    if (loaded && !ws.confirmReplace) {
      this.set({
        workspace: { ...ws, busy: false, confirmReplace: true, notice: `${loaded.file} already exists: press enter again to start a new spec that replaces it, or ↑↓ to reopen it` },
      });
      return;
    }
    this.useDraft(this.freshSpec(dir), dir, null);
  }

  /** Typed text for the workspace folder field. */
  editWorkspace(edit: (value: string, cursor: number) => { value: string; cursor: number }): void {
    const ws = this.state.workspace;
    if (ws.busy) return;
    const r = edit(ws.dir, ws.cursor);
    this.set({ workspace: { ...ws, dir: r.value, cursor: r.cursor, confirmReplace: false, notice: null, problems: ws.problems } });
  }

  // ---- preflight ----------------------------------------------------------------------------------

  async runPreflight(): Promise<void> {
    this.preflightAbort?.abort();
    const ac = new AbortController();
    this.preflightAbort = ac;
    this.set({ preflight: { status: 'running', checks: [], error: null } });
    try {
      const { dir, draft } = this.state;
      const checks = await this.deps.actions.preflight(dir ?? '.', draft, ac.signal);
      if (ac.signal.aborted) return;
      this.set({ preflight: { status: 'done', checks, error: null } });
    } catch (e) {
      if (ac.signal.aborted) return;
      this.set({ preflight: { status: 'done', checks: [], error: (e as Error).message } });
    }
  }

  // ---- sizing -------------------------------------------------------------------------------------

  bump(dir: 1 | -1): void {
    this.edited();
    const s = this.state;
    const f = SIZE_FIELDS[s.sizing.focus]!;
    const cur = s.draft.groups[f.group][f.key];
    const step = SIZE_STEP[f.key];
    // Memory moves along multiples of 256 MB.
    const next = f.key === 'memory' ? (dir > 0 ? Math.floor(cur / step) * step + step : Math.ceil(cur / step) * step - step) : cur + dir * step;
    this.set({ draft: setSize(s.draft, f, Math.max(0, next)), sizing: { ...s.sizing, fresh: true } });
  }

  /** Digits and backspace in the focused number field; the first digit after focusing replaces. */
  typeNumber(input: string, backspace: boolean): boolean {
    const s = this.state;
    const f = SIZE_FIELDS[s.sizing.focus]!;
    const cur = String(s.draft.groups[f.group][f.key]);
    let text: string;
    if (backspace) text = s.sizing.fresh ? '' : cur.slice(0, -1);
    else if (/^\d+$/.test(input)) text = s.sizing.fresh ? input : cur === '0' ? input : cur + input;
    else return false;
    this.edited();
    this.set({ draft: setSize(s.draft, f, text === '' ? 0 : Number(text)), sizing: { ...s.sizing, fresh: false } });
    return true;
  }

  // ---- options ------------------------------------------------------------------------------------

  cycleChoice(dir: 1 | -1): void {
    this.edited();
    const s = this.state;
    const f = OPTION_FIELDS[s.options.focus]!;
    if (f.kind !== 'choice' || !f.choices) return;
    const items = f.choices(s.draft);
    const i = items.findIndex((c) => c.value === f.get(s.draft));
    const next = items[(i + dir + items.length) % items.length]!;
    this.set({ draft: f.set(s.draft, next.value) });
  }

  chooseOption(value: string): void {
    this.edited();
    const s = this.state;
    const f = OPTION_FIELDS[s.options.focus]!;
    this.set({ draft: f.set(s.draft, value), options: { ...s.options, open: false } });
  }

  closeSelect(): void {
    this.set({ options: { ...this.state.options, open: false } });
  }

  editOption(edit: (value: string, cursor: number) => { value: string; cursor: number }): void {
    this.edited();
    const s = this.state;
    const f = OPTION_FIELDS[s.options.focus]!;
    if (f.kind !== 'text') return;
    const value = f.get(s.draft);
    const r = edit(value, s.options.cursor ?? value.length);
    this.set({ draft: f.set(s.draft, r.value), options: { ...s.options, cursor: r.cursor } });
  }

  // ---- run ----------------------------------------------------------------------------------------

  confirmStart(yes: boolean): void {
    if (!yes) {
      this.set({ modal: null });
      this.flash('not started: nothing was written');
      return;
    }
    this.set({ modal: null });
    void this.startRun();
  }

  async startRun(): Promise<void> {
    const s = this.state;
    if (isRunning(s) || !s.dir) return;
    const { dir, draft } = s;
    const ac = new AbortController();
    this.runAbort = ac;
    const runStore = this.deps.runStore;
    runStore.getState().reset();
    this.buffer = createEventBuffer((events) => {
      runStore.getState().applyMany(events);
      if (!this.state.run.provisioned && events.some((e) => e.type === 'run-start')) {
        this.set((st) => ({ run: { ...st.run, provisioned: true }, step: st.step === 'machines' ? 'provision' : st.step }));
      }
    }, this.deps.flushMs ?? 80);
    const buffer = this.buffer;
    this.set({ step: 'machines', interrupts: 0, selectedHost: null, run: { status: 'running', files: [], result: null, startedAt: Date.now(), endedAt: null, provisioned: false } });
    let result: WizardState['run']['result'];
    try {
      const files = await this.deps.actions.writeFiles(dir, draft);
      this.set((st) => ({ run: { ...st.run, files } }));
      if (ac.signal.aborted) throw new DOMException('cancelled', 'AbortError');
      if (draft.provider === 'existing') {
        // As `init --provider existing`: the machines' addresses are placeholders until the user writes them.
        result = { ok: true, cancelled: false, writtenOnly: true, message: existingNextSteps(draft, path.join(dir, 'kcore.yaml')).join(' ') };
        this.runAbort = null;
        this.set((st) => ({ run: { ...st.run, status: 'done', result, endedAt: Date.now() }, step: 'summary' }));
        buffer.close();
        this.flash(`wrote the workspace: fill in the machines in kcore.yaml, then kcore-wizard up`, 'info');
        return;
      }
      const r = await this.deps.actions.up(dir, draft, (e: EngineEvent) => buffer.push(e), ac.signal);
      result = { ...r, cancelled: ac.signal.aborted };
    } catch (e) {
      const cancelled = ac.signal.aborted;
      const message =
        e instanceof NotAvailableError ? e.message : cancelled ? 'cancelled' : `${(e as Error).message ?? String(e)}`;
      result = { ok: false, message, cancelled };
    }
    buffer.close();
    if (result.cancelled) this.markCancelled();
    else if (runStore.getState().status === 'running') {
      // The run ended without its run-end event (e.g. an error): unfinished hosts did not finish.
      this.markUnfinished('failed');
    }
    this.runAbort = null;
    const st = this.state;
    this.set({ run: { ...st.run, status: 'done', result, endedAt: Date.now() }, step: st.step === 'machines' || st.step === 'provision' ? 'summary' : st.step });
    if (result.cancelled) this.flash('run cancelled: machines that were created are still there (kcore-wizard destroy removes them)', 'warn');
    else if (!result.ok) this.flash(`run failed: ${result.message ?? 'see the summary'}`, 'error');
    else this.flash('cluster ready', 'info');
  }

  private markUnfinished(state: HostState): void {
    const rs = this.deps.runStore;
    const cur = rs.getState();
    const hosts = { ...cur.hosts };
    for (const [name, h] of Object.entries(hosts)) if (!FINISHED.has(h.state)) hosts[name] = { ...h, state, task: undefined, endedAt: h.endedAt ?? Date.now() };
    rs.setState({ hosts, status: state === 'cancelled' ? 'cancelled' : 'failed', endedAt: cur.endedAt ?? Date.now() });
  }

  private markCancelled(): void {
    this.markUnfinished('cancelled');
  }

  /** Ctrl+C: cancel the run (first press), exit at once (second press), or quit when idle. */
  interrupt(): void {
    const s = this.state;
    if (!isRunning(s)) {
      this.exit(130);
      return;
    }
    if (s.interrupts >= 1 || s.run.status === 'cancelling') {
      this.forceExit(130);
      return;
    }
    this.set({ interrupts: 1, modal: null, run: { ...s.run, status: 'cancelling' } });
    this.runAbort?.abort();
    this.buffer?.flush();
    this.markCancelled();
    this.flash('cancelling… press Ctrl+C again to exit now', 'warn');
  }

  quit(): void {
    const s = this.state;
    if (isRunning(s)) {
      this.set({ modal: 'quit' });
      return;
    }
    this.exit(this.exitCode());
  }

  confirmQuit(yes: boolean): void {
    if (!yes) {
      this.set({ modal: null });
      return;
    }
    if (isRunning(this.state)) this.forceExit(130);
    else this.exit(this.exitCode());
  }

  /** ↑↓ on the provisioning and summary screens: the next or previous host of the run (the first when none). */
  selectHost(dir: 1 | -1): void {
    const order = this.deps.runStore.getState().hostOrder;
    if (order.length === 0) return;
    const i = this.state.selectedHost ? order.indexOf(this.state.selectedHost) : -1;
    const next = i < 0 ? (dir > 0 ? 0 : order.length - 1) : (i + dir + order.length) % order.length;
    this.set({ selectedHost: order[next]! });
  }

  closeModal(): void {
    this.set({ modal: null });
  }

  /** 0 after a successful run or when nothing ran; 1 after a failed run; 130 after a cancelled one. */
  exitCode(): number {
    const r = this.state.run.result;
    if (!r) return 0;
    if (r.cancelled) return 130;
    return r.ok ? 0 : 1;
  }

  /** Abort whatever is in flight (the app is going away). */
  dispose(): void {
    this.runAbort?.abort();
    this.preflightAbort?.abort();
    this.buffer?.close();
  }

  stepNumber(step: StepId): number {
    return STEPS.indexOf(step) + 1;
  }
}
