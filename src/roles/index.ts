/** Every role, in the order the runner applies them (a barrier between each). */
import type { Role } from '../engine/task.js';
import type { GroupName } from '../spec/schema.js';
import { addonsRole } from './addons/index.js';
import { bootstrapRole } from './bootstrap/index.js';
import { etcdRole, etcdServices } from './etcd/index.js';
import { kubeMasterRole, kubeMasterServices } from './kube-master/index.js';
import { kubeWorkerRole, kubeWorkerServices } from './kube-worker/index.js';
import { kubectlRole } from './kubectl/index.js';
import { pkiRole } from './pki/index.js';

export const ROLES: Role[] = [bootstrapRole, pkiRole, etcdRole, kubeMasterRole, kubeWorkerRole, kubectlRole, addonsRole];

/**
 * The systemd services a role keeps enabled and running, and the groups of hosts it runs them on. Each
 * role declares its own in its folder; the dashboard's health probe reads them from here, so a new role
 * edits only its folder and this list.
 */
export interface RoleServices {
  role: string;
  groups: readonly GroupName[];
  units: readonly string[];
}

export const SERVICES: readonly RoleServices[] = [etcdServices, kubeMasterServices, kubeWorkerServices];

/** The units every host of `group` runs, in role order (the control plane first on a master, then the node's). */
export function unitsOf(group: GroupName): string[] {
  return SERVICES.filter((s) => s.groups.includes(group)).flatMap((s) => s.units);
}

export const ROLE_NAMES = ROLES.map((r) => r.name);
