/**
 * The wizard's UI state (step, draft spec, focus, dialogs, flash, run progress) in a zustand vanilla
 * store. Components select single values from it; the controller (controller.ts) changes it.
 */
import path from 'node:path';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { defaultSpec } from '../../spec/defaults.js';
import type { ClusterSpec } from '../../spec/schema.js';
import type { PreflightCheck, UpResult } from './actions.js';
import type { StepId } from './keymap.js';

export type Modal = null | 'help' | 'quit' | 'start' | 'host';
export type FlashTone = 'info' | 'warn' | 'error';

export interface Flash {
  text: string;
  tone: FlashTone;
  id: number;
}

export interface WizardState {
  step: StepId;
  workspace: {
    mode: 'new' | 'reopen';
    /** The folder path as typed. */
    dir: string;
    cursor: number;
    busy: boolean;
    /** Problems of an existing kcore.yaml, formatted file:line:column: field: message. */
    problems: string[];
    /** A new workspace was chosen where a kcore.yaml exists: press enter again to replace it. */
    confirmReplace: boolean;
    notice: string | null;
  };
  /** The workspace folder, once chosen (absolute). */
  dir: string | null;
  /** The kcore.yaml the draft came from, when reopened. */
  loadedFrom: string | null;
  draft: ClusterSpec;
  preflight: { status: 'idle' | 'running' | 'done'; checks: PreflightCheck[]; error: string | null };
  sizing: { focus: number; fresh: boolean };
  /** cursor: position in the focused text field; null until it is edited (then: at the end). */
  options: { focus: number; cursor: number | null; open: boolean };
  reviewScroll: number;
  /** The host picked with ↑↓ on the provisioning and summary screens (enter opens its details). */
  selectedHost: string | null;
  modal: Modal;
  flash: Flash | null;
  run: {
    status: 'idle' | 'running' | 'cancelling' | 'done';
    files: Array<{ path: string; changed: boolean }>;
    /** writtenOnly: provider `existing`, the files were written and nothing run (the addresses are the user's to fill in). */
    result: (UpResult & { cancelled: boolean; writtenOnly?: boolean }) | null;
    startedAt: number | null;
    endedAt: number | null;
    /** Whether engine events arrived (the provisioning view exists). */
    provisioned: boolean;
  };
  interrupts: number;
}

export type WizardStore = StoreApi<WizardState>;

export function initialWizardState(cwd: string, dir?: string): WizardState {
  const start = dir ?? path.join(cwd, 'kcore-cluster');
  return {
    step: 'workspace',
    workspace: { mode: dir ? 'reopen' : 'new', dir: start, cursor: start.length, busy: false, problems: [], confirmReplace: false, notice: null },
    dir: null,
    loadedFrom: null,
    draft: defaultSpec(),
    preflight: { status: 'idle', checks: [], error: null },
    sizing: { focus: 0, fresh: true },
    options: { focus: 0, cursor: null, open: false },
    reviewScroll: 0,
    selectedHost: null,
    modal: null,
    flash: null,
    run: { status: 'idle', files: [], result: null, startedAt: null, endedAt: null, provisioned: false },
    interrupts: 0,
  };
}

export function createWizardStore(cwd: string, dir?: string): WizardStore {
  return createStore<WizardState>()(() => initialWizardState(cwd, dir));
}

export function isRunning(s: WizardState): boolean {
  return s.run.status === 'running' || s.run.status === 'cancelling';
}
