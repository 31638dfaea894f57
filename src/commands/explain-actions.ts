/**
 * The teaching view's answers for the wizard's and the dashboard's `e` key, from src/explain (offline:
 * the spec, the roles' own whys and the PKI; no SSH). Loaded when `e` is first pressed, so neither
 * screen pays for the roles at start-up. The UI only draws what comes back.
 */
import type { HostExplanation } from '../explain/types.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { RunningTaskExplanation } from '../ui/components/Explain.js';
import type { WizardExplainActions } from '../ui/wizard/actions.js';

const load = () => import('../explain/index.js');

/** The role and task a host runs, with their whys; a task the role does not list comes back without one. */
export async function explainRunningTask(spec: ClusterSpec, host: string, role: string, task: string | undefined): Promise<RunningTaskExplanation> {
  const m = await load();
  const r = m.explainRole(spec, role);
  return { host, role, roleWhy: r.why, roleDocs: r.docs, task, explanation: r.tasks.find((t) => t.name === task) ?? null };
}

export const wizardExplain: WizardExplainActions = {
  host: async (dir, spec, host) => (await load()).explainHost(spec, host, { workspace: dir, files: true }),
  task: explainRunningTask,
};

/** The dashboard's `e`: a host of the workspace with its units and checks (no files). */
export function dashboardExplain(workspace: string, spec: ClusterSpec): (host: string) => Promise<HostExplanation> {
  return async (host) => (await load()).explainHost(spec, host, { workspace });
}
