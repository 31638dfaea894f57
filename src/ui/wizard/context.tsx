/** What every wizard view needs, handed down once: the stores, the controller and the host's size. */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { RunStore } from '../../state/run-store.js';
import type { WizardController } from './controller.js';
import type { WizardState, WizardStore } from './store.js';

export interface WizardContextValue {
  store: WizardStore;
  runStore: RunStore;
  controller: WizardController;
  host: { memoryMb: number; cpus: number };
}

export const WizardContext = createContext<WizardContextValue | null>(null);

export function useWizardContext(): WizardContextValue {
  const v = useContext(WizardContext);
  if (!v) throw new Error('wizard views need a WizardContext');
  return v;
}

/** Select one value from the wizard store (return existing references, never new objects). */
export function useWizard<T>(selector: (s: WizardState) => T): T {
  return useStore(useWizardContext().store, selector);
}
