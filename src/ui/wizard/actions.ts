/**
 * Everything the wizard does to the world goes through this interface, so the UI never touches
 * vagrant, SSH or the file system itself: src/commands/wizard.tsx passes the real implementations,
 * the tests pass fakes. An action that is not available says so (NotAvailableError) and the UI shows
 * that honestly: it never pretends a step succeeded.
 */
import type { EngineEvent } from '../../engine/events.js';
import type { ClusterSpec } from '../../spec/schema.js';
import type { SpecProblem } from '../../spec/errors.js';
import type { HostExplanation } from '../../explain/types.js';
import type { RunningTaskExplanation } from '../components/Explain.js';

/** One preflight result, as src/vagrant/preflight.ts reports it. */
export type { PreflightCheck } from '../../vagrant/preflight.js';
import type { PreflightCheck } from '../../vagrant/preflight.js';

export interface LoadedWorkspace {
  spec: ClusterSpec;
  /** The kcore.yaml path read. */
  file: string;
  warnings: SpecProblem[];
}

export interface UpResult {
  ok: boolean;
  /** The admin kubeconfig written for the new cluster. */
  kubeconfig?: string;
  /** Why it did not finish, in words a person can act on. */
  message?: string;
}

export interface WizardActions {
  /** This machine's memory and CPUs, to compare the cluster's total against. */
  hostResources(): { memoryMb: number; cpus: number };
  /** Read `<dir>/kcore.yaml`: null when there is none; throws SpecError (file, line, field) when invalid. */
  loadExisting(dir: string): Promise<LoadedWorkspace | null>;
  /** Check that this machine can run the cluster in `dir` (vagrant, provider, virtualisation, memory, box). */
  preflight(dir: string, spec: ClusterSpec, signal: AbortSignal): Promise<PreflightCheck[]>;
  /** Save kcore.yaml and write the workspace files; reports which ones changed. */
  writeFiles(dir: string, spec: ClusterSpec): Promise<Array<{ path: string; changed: boolean }>>;
  /**
   * Create the machines and configure the cluster: emits `phase` and `process-output` events while
   * vagrant runs, then the engine's events (run-start … run-end). Resolves when done, failed or
   * aborted through `signal`.
   */
  up(dir: string, spec: ClusterSpec, emit: (e: EngineEvent) => void, signal: AbortSignal): Promise<UpResult>;
  /** The teaching view's answers (`e`), loaded when first asked for (the wizard opens without them). */
  explain(): Promise<WizardExplainActions>;
}

/** What `e` asks; offline, from the spec, the roles' own whys and the PKI (src/explain). */
export interface WizardExplainActions {
  /**
   * One host of the spec (`e` on the review): what it is for, and every file converge writes there
   * with its why and content (secrets: content null and a note saying where they are).
   */
  host(dir: string, spec: ClusterSpec, host: string): Promise<HostExplanation>;
  /** Why the role and the task a host is running exist (`e` on the provisioning screen). */
  task(spec: ClusterSpec, host: string, role: string, task: string | undefined): Promise<RunningTaskExplanation>;
}

/** Thrown by an action this build cannot perform yet (e.g. a module not shipped). */
export class NotAvailableError extends Error {
  constructor(what: string, detail?: string) {
    super(`${what} is not available in this build yet${detail ? ` (${detail})` : ''}`);
    this.name = 'NotAvailableError';
  }
}
