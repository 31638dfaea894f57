/** Every role, in the order the runner applies them (a barrier between each). */
import type { Role } from '../engine/task.js';
import { bootstrapRole } from './bootstrap/index.js';
import { etcdRole } from './etcd/index.js';
import { pkiRole } from './pki/index.js';

export const ROLES: Role[] = [bootstrapRole, pkiRole, etcdRole];

export const ROLE_NAMES = ROLES.map((r) => r.name);
