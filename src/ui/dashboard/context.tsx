/** The dashboard's stores and actions, given to every component; selectors read single values. */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { DashboardActions } from '../../health/actions.js';
import type { HostExplanation } from '../../explain/types.js';
import type { DashboardState, DashboardStore } from '../../state/dashboard-store.js';
import type { RunState, RunStore } from '../../state/run-store.js';

export interface DashboardContextValue {
  store: DashboardStore;
  runStore: RunStore;
  actions: DashboardActions;
  /** The teaching view of a host (`e`): offline, from the spec and the roles. Absent: `e` says so. */
  explain?: (host: string) => Promise<HostExplanation>;
}

export const DashboardContext = createContext<DashboardContextValue | null>(null);

export function useDashboardContext(): DashboardContextValue {
  const v = useContext(DashboardContext);
  if (!v) throw new Error('DashboardContext is missing');
  return v;
}

export function useDash<T>(selector: (s: DashboardState) => T): T {
  return useStore(useDashboardContext().store, selector);
}

export function useRun<T>(selector: (s: RunState) => T): T {
  return useStore(useDashboardContext().runStore, selector);
}
