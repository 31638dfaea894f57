/** The wizard's teaching view on screen (state and keys: explain.ts; drawing: components/Explain.tsx). */
import { useStore } from 'zustand';
import { ExplainBox, clampScroll, fileContentLines, fileListLines, runningTaskLines } from '../components/Explain.js';
import { seg, type Line } from '../dashboard/lines.js';
import type { ExplainStore } from './explain.js';

export const EXPLAIN_HINTS = {
  list: [
    { keys: '↑↓', label: 'file' },
    { keys: 'enter', label: 'content' },
    { keys: 'esc', label: 'close' },
  ],
  content: [
    { keys: '↑↓', label: 'scroll' },
    { keys: 'enter/esc', label: 'back to files' },
    { keys: 'q', label: 'close' },
  ],
  task: [{ keys: 'esc/e', label: 'close' }],
};

export function explainHints(store: ExplainStore): Array<{ keys: string; label: string }> | null {
  const v = store.getState().view;
  if (!v) return null;
  if (v.kind === 'task') return EXPLAIN_HINTS.task;
  return v.content ? EXPLAIN_HINTS.content : EXPLAIN_HINTS.list;
}

export function WizardExplainView({ store, width, height }: { store: ExplainStore; width: number; height: number }) {
  const v = useStore(store, (s) => s.view);
  if (!v) return null;
  const inner = Math.max(10, width);
  const waiting = (title: Line) => {
    const body = v.status === 'loading' ? [[seg('● reading the roles and the spec…', 'running')]] : v.status === 'error' ? [[seg(`✗ cannot explain: ${v.error}`, 'failed')]] : [];
    return <ExplainBox title={title} body={{ lines: body }} legend="esc closes" width={inner} height={height} />;
  };
  if (v.kind === 'task') {
    const title: Line = [seg(`Why: ${v.host}'s task`, 'title', true)];
    if (v.status !== 'ready') return waiting(title);
    return <ExplainBox title={title} body={{ lines: runningTaskLines(v.data, inner) }} legend="esc or e closes" width={inner} height={height} />;
  }
  const title: Line = [seg(`Files converge writes on ${v.host}`, 'title', true)];
  if (v.status !== 'ready') return waiting(title);
  const files = v.data.files ?? [];
  const file = files[v.index];
  if (v.content && file) {
    const lines = fileContentLines(file, inner);
    const scroll = clampScroll(v.scroll, lines.length, Math.max(1, height - 2));
    return (
      <ExplainBox
        title={[seg(`${file.path}`, 'title', true), seg(`  file ${v.index + 1} of ${files.length} on ${v.host}`, 'muted')]}
        body={{ lines }}
        scroll={scroll}
        legend="↑↓ scroll · enter/esc back to the files · q closes"
        width={inner}
        height={height}
      />
    );
  }
  return (
    <ExplainBox
      title={[...title, seg(`  ${files.length} file${files.length === 1 ? '' : 's'}`, 'muted')]}
      body={fileListLines(v.data, v.index, inner)}
      legend="↑↓ file · enter content · esc closes"
      width={inner}
      height={height}
    />
  );
}
