/** `kcore-wizard pki`: list every certificate of the workspace: subject, SANs, expiry, why it exists. */
import { expiryWarningLine, expiryWarningsOf, formatCertificateTable, listCertificates } from '../pki/index.js';
import { outputFormat, type CommandDef } from './args.js';
import { resolveWorkspace, workspaceOptions, helpOption, outputOption } from './workspace.js';

export const pkiCommand: CommandDef = {
  name: 'pki',
  summary: 'List every certificate of the cluster: subject, SANs, expiry and why it exists.',
  usage: 'kcore-wizard pki [DIR] [--output json]',
  options: {
    ...workspaceOptions,
    output: outputOption,
    wide: { type: 'boolean', short: 'w', description: 'show every SAN' },
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const certs = await listCertificates(workspace);
    const expiring = expiryWarningsOf(certs);
    if (outputFormat(ctx.values) === 'json') {
      ctx.stdout.write(JSON.stringify(certs.map((c) => ({ ...c, expiring: expiring.some((w) => w.file === c.file) }))) + '\n');
      return 0;
    }
    if (certs.length === 0) {
      ctx.stdout.write('no certificates yet: `kcore-wizard converge --tags pki` creates them\n');
      return 0;
    }
    ctx.stdout.write(formatCertificateTable(certs, { wide: !!ctx.values.wide }) + '\n');
    // A listing, not a check: the exit code stays 0 (`certs` exits 1 for cron jobs and CI).
    if (expiring.length) ctx.stdout.write(`\n${expiryWarningLine(expiring.map((w) => w.message))}\n`);
    return 0;
  },
};
