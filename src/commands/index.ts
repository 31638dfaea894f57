/** Every command, in the order `--help` lists them. */
import type { CommandDef } from './args.js';
import { initCommand } from './init.js';
import { renderCommand } from './render.js';
import { convergeCommand } from './converge.js';
import { planCommand } from './plan.js';
import { testCommand } from './test.js';
import { pkiCommand } from './pki.js';
import { wizardCommand } from './wizard.js';
import { kubeconfigCommand } from './kubeconfig.js';
import { upCommand } from './up.js';
import { destroyCommand } from './destroy.js';
import { boxCommand } from './box.js';
import { dashboardCommand } from './dashboard.js';
import { backupCommand } from './backup.js';
import { restoreCommand } from './restore.js';
import { selftestCommand } from './selftest.js';
import { certsCommand } from './certs.js';

export const commands: CommandDef[] = [wizardCommand, initCommand, renderCommand, upCommand, planCommand, convergeCommand, testCommand, selftestCommand, dashboardCommand, backupCommand, restoreCommand, destroyCommand, pkiCommand, certsCommand, kubeconfigCommand, boxCommand];

export function findCommand(name: string): CommandDef | undefined {
  return commands.find((c) => c.name === name);
}
