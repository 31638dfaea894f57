/**
 * Where host panels go, as a pure function of the hosts and the space: the provisioning grid, the
 * dashboard and `up` on a terminal all use it. Columns = floor(width / MIN_PANEL_WIDTH); running and
 * waiting hosts get full panels, finished hosts collapse to one line; when the panels cannot fit, every
 * host gets one line (several columns of them), and hosts that still do not fit are counted in a
 * summary line instead.
 */
import type { HostState } from '../../engine/events.js';
import { FINISHED } from '../theme.js';

export const MIN_PANEL_WIDTH = 38;
export const MIN_LINE_WIDTH = 36;
/** Panel rows besides its output lines: two borders, the title, the task and the counts lines. */
export const PANEL_CHROME = 5;
export const MAX_OUTPUT_LINES = 6;

export interface PlanHost {
  name: string;
  state: HostState;
}

export type GridPlan =
  | {
      mode: 'panels';
      columns: number;
      columnWidth: number;
      outputLines: number;
      /** Hosts drawn as full panels (running, waiting), in run order. */
      panels: string[];
      /** Finished hosts drawn as one line each, in run order. */
      collapsed: string[];
    }
  | {
      mode: 'compact';
      columns: number;
      columnWidth: number;
      /** Hosts drawn as one line each, in run order. */
      listed: string[];
      /** Hosts that did not fit: only counted. */
      hidden: string[];
    };

/** Which hosts to hide first when not all fit: successful ones, then cancelled, then waiting. */
const HIDE_ORDER: Record<HostState, number> = { ok: 0, changed: 1, cancelled: 2, pending: 3, running: 4, unreachable: 5, failed: 6 };

export function planGrid(hosts: PlanHost[], width: number, height: number): GridPlan {
  const columns = Math.max(1, Math.floor(width / MIN_PANEL_WIDTH));
  const columnWidth = Math.floor(width / columns);
  const broken = (h: PlanHost) => h.state === 'failed' || h.state === 'unreachable';
  // Failed and unreachable hosts keep their panel (their last output says why) when there is room.
  for (const keepBroken of [true, false]) {
    const isPanel = (h: PlanHost) => !FINISHED.has(h.state) || (keepBroken && broken(h));
    const panels = hosts.filter(isPanel).map((h) => h.name);
    const collapsed = hosts.filter((h) => !isPanel(h)).map((h) => h.name);
    const need = (k: number) => Math.ceil(panels.length / columns) * (PANEL_CHROME + k) + Math.ceil(collapsed.length / columns);
    for (let k = MAX_OUTPUT_LINES; k >= 1; k--) {
      if (need(k) <= height) return { mode: 'panels', columns, columnWidth, outputLines: k, panels, collapsed };
    }
  }
  const lineColumns = Math.max(1, Math.floor(width / MIN_LINE_WIDTH));
  const lineWidth = Math.floor(width / lineColumns);
  if (hosts.length <= lineColumns * Math.max(0, height)) {
    return { mode: 'compact', columns: lineColumns, columnWidth: lineWidth, listed: hosts.map((h) => h.name), hidden: [] };
  }
  // One row is kept for the "+N more" line.
  const capacity = Math.max(0, lineColumns * (height - 1));
  const byHidePriority = hosts
    .map((h, i) => ({ h, i }))
    .sort((a, b) => HIDE_ORDER[a.h.state] - HIDE_ORDER[b.h.state] || b.i - a.i);
  const hideCount = hosts.length - capacity;
  const hidden = new Set(byHidePriority.slice(0, hideCount).map((x) => x.h.name));
  return {
    mode: 'compact',
    columns: lineColumns,
    columnWidth: lineWidth,
    listed: hosts.filter((h) => !hidden.has(h.name)).map((h) => h.name),
    hidden: hosts.filter((h) => hidden.has(h.name)).map((h) => h.name),
  };
}

/** Split items into rows of `columns` (row-major). */
export function rowsOf<T>(items: T[], columns: number): T[][] {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += columns) rows.push(items.slice(i, i + columns));
  return rows;
}
