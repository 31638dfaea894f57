/** Every role, in the order the runner applies them (a barrier between each). */
import type { Role } from '../engine/task.js';
import { addonsRole } from './addons/index.js';
import { bootstrapRole } from './bootstrap/index.js';
import { etcdRole } from './etcd/index.js';
import { kubeMasterRole } from './kube-master/index.js';
import { kubeWorkerRole } from './kube-worker/index.js';
import { kubectlRole } from './kubectl/index.js';
import { pkiRole } from './pki/index.js';

export const ROLES: Role[] = [bootstrapRole, pkiRole, etcdRole, kubeMasterRole, kubeWorkerRole, kubectlRole, addonsRole];

export const ROLE_NAMES = ROLES.map((r) => r.name);
