/**
 * The wizard's teaching view (`e`): on the review, the host picked with ↑↓ and its files with their
 * whys; on the provisioning and summary screens, why the selected host's running role and task exist.
 * Its own small store, so the wizard's main state stays as it was; the explanations come from the
 * actions (src/commands/wizard.tsx asks src/explain), never computed here.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { HostExplanation } from '../../explain/types.js';
import type { RunStore } from '../../state/run-store.js';
import { plannedHosts } from '../../spec/hosts.js';
import type { RunningTaskExplanation } from '../components/Explain.js';
import type { WizardActions } from './actions.js';
import type { WizardState } from './store.js';

type Loading<T> = { status: 'loading' } | { status: 'ready'; data: T } | { status: 'error'; error: string };

export type ExplainView =
  | null
  | ({ kind: 'files'; host: string; index: number; content: boolean; scroll: number } & Loading<HostExplanation>)
  | ({ kind: 'task'; host: string } & Loading<RunningTaskExplanation>);

export interface ExplainState {
  /** The host line picked on the review (index into the spec's planned hosts); null: none yet. */
  reviewHost: number | null;
  /** ↑↓ went past the first (top) or last (bottom) host: the same direction scrolls on, the other picks again. */
  reviewEdge: 'top' | 'bottom' | null;
  /** The review as last drawn (published by the step): rows for the list, its length, where each host line is. */
  reviewLayout: ReviewLayout | null;
  view: ExplainView;
}

export interface ReviewLayout {
  rows: number;
  total: number;
  hostLines: number[];
}

export type ExplainStore = StoreApi<ExplainState>;

export class WizardExplainer {
  readonly store: ExplainStore = createStore<ExplainState>()(() => ({ reviewHost: null, reviewEdge: null, reviewLayout: null, view: null }));
  /** Bumped on every open, so an answer that arrives after esc (or another open) is dropped. */
  private seq = 0;

  constructor(
    private readonly actions: WizardActions,
    private readonly wizard: () => WizardState,
    private readonly runStore: RunStore,
    private readonly setScroll: (top: number) => void,
  ) {}

  /** The step publishes its layout when it changes (size, spec, preflight results), never the scroll. */
  setReviewLayout(layout: ReviewLayout): void {
    const cur = this.store.getState().reviewLayout;
    if (cur && cur.rows === layout.rows && cur.total === layout.total && cur.hostLines.join() === layout.hostLines.join()) return;
    this.store.setState({ reviewLayout: layout });
  }

  /** The review's first line moved by `lines`, within the list (so a held key never runs past the end). */
  scrollReview(lines: number): void {
    const l = this.store.getState().reviewLayout;
    const max = l ? Math.max(0, l.total - l.rows) : Number.MAX_SAFE_INTEGER;
    const top = this.wizard().reviewScroll;
    this.setScroll(Math.max(0, Math.min(max, Math.min(top, max) + lines)));
  }

  /** Scroll just enough to show host line `i`. */
  private follow(i: number): void {
    const l = this.store.getState().reviewLayout;
    const line = l?.hostLines[i];
    if (!l || line === undefined) return;
    let top = Math.min(this.wizard().reviewScroll, Math.max(0, l.total - l.rows));
    if (line < top) top = line;
    if (line >= top + l.rows) top = line - l.rows + 1;
    this.setScroll(top);
  }

  get view(): ExplainView {
    return this.store.getState().view;
  }

  /**
   * ↑↓ on the review: the next or previous host line (the first or last when none is picked). Past the
   * first or last host the pick is let go and the key scrolls on (to what is above or below the table):
   * returns false then, and the caller scrolls.
   */
  moveReviewHost(dir: 1 | -1): boolean {
    const n = plannedHosts(this.wizard().draft).length;
    const { reviewHost: cur, reviewEdge: edge } = this.store.getState();
    const out = dir > 0 ? 'bottom' : 'top';
    if (!n) return false;
    if (cur === null) {
      if (edge === out) return false;
      this.store.setState({ reviewHost: dir > 0 ? 0 : n - 1, reviewEdge: null });
      this.follow(dir > 0 ? 0 : n - 1);
      return true;
    }
    if (cur + dir < 0 || cur + dir >= n) {
      this.store.setState({ reviewHost: null, reviewEdge: out });
      return false;
    }
    this.store.setState({ reviewHost: cur + dir });
    this.follow(cur + dir);
    return true;
  }

  /** Free scrolling on the review (page keys) lets go of the picked host, so the view can move. */
  releaseReviewHost(): void {
    this.store.setState({ reviewHost: null, reviewEdge: null });
  }

  /** `e`: open the teaching view for where the wizard is. Returns false when there is nothing to explain. */
  open(): boolean {
    const s = this.wizard();
    if (s.step === 'review') {
      const hosts = plannedHosts(s.draft);
      const i = this.store.getState().reviewHost ?? 0;
      const host = hosts[i]?.name;
      if (!host) return false;
      if (this.store.getState().reviewHost === null) this.store.setState({ reviewHost: i });
      const seq = ++this.seq;
      this.store.setState({ view: { kind: 'files', host, index: 0, content: false, scroll: 0, status: 'loading' } });
      this.actions
        .explain()
        .then((x) => x.host(s.dir ?? '.', s.draft, host))
        .then(
        (data) => this.settle(seq, { status: 'ready', data }),
        (e: unknown) => this.settle(seq, { status: 'error', error: (e as Error).message ?? String(e) }),
      );
      return true;
    }
    if ((s.step === 'provision' || s.step === 'summary') && s.selectedHost) {
      const host = s.selectedHost;
      const h = this.runStore.getState().hosts[host];
      const last = h?.results.at(-1);
      const role = h?.role ?? last?.role;
      if (!role) return false;
      const finished = !h?.role;
      const task = h?.role ? h.task : last?.task;
      const seq = ++this.seq;
      this.store.setState({ view: { kind: 'task', host, status: 'loading' } });
      this.actions
        .explain()
        .then((x) => x.task(s.draft, host, role, task))
        .then(
        (data) => this.settle(seq, { status: 'ready', data: { ...data, finished: data.finished ?? finished } }),
        (e: unknown) => this.settle(seq, { status: 'error', error: (e as Error).message ?? String(e) }),
      );
      return true;
    }
    return false;
  }

  private settle(seq: number, r: Loading<HostExplanation> | Loading<RunningTaskExplanation>): void {
    const v = this.view;
    if (seq !== this.seq || !v) return;
    this.store.setState({ view: { ...v, ...r } as ExplainView });
  }

  close(): void {
    this.seq++;
    this.store.setState({ view: null });
  }

  /**
   * A key while the view is open; returns true when it was the view's. ↑↓ pick a file (or scroll its
   * content), enter or → shows the picked file's content, ← or enter goes back to the list, esc/e/q close.
   */
  key(k: { up?: boolean; down?: boolean; pageUp?: boolean; pageDown?: boolean; enter?: boolean; left?: boolean; right?: boolean; escape?: boolean; input?: string }): boolean {
    const v = this.view;
    if (!v) return false;
    if (k.escape || k.input === 'q' || k.input === 'e') {
      if (v.kind === 'files' && v.content && !(k.input === 'q' || k.input === 'e')) this.store.setState({ view: { ...v, content: false, scroll: 0 } });
      else this.close();
      return true;
    }
    if (v.kind !== 'files' || v.status !== 'ready') return true;
    const n = v.data.files?.length ?? 0;
    const step = k.pageUp || k.pageDown ? 10 : 1;
    const dir = k.up || k.pageUp ? -step : k.down || k.pageDown ? step : 0;
    if (v.content) {
      const lines = (v.data.files?.[v.index]?.content ?? '').split('\n').length + 6;
      if (dir) this.store.setState({ view: { ...v, scroll: Math.max(0, Math.min(lines, v.scroll + dir)) } });
      else if (k.enter || k.left) this.store.setState({ view: { ...v, content: false, scroll: 0 } });
      return true;
    }
    if (dir && n) this.store.setState({ view: { ...v, index: Math.max(0, Math.min(n - 1, v.index + dir)) } });
    else if ((k.enter || k.right) && n) this.store.setState({ view: { ...v, content: true, scroll: 0 } });
    return true;
  }
}
