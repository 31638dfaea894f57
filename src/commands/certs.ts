/**
 * `kcore-wizard certs`: every certificate with its expiry in days (within 30 days: a warning, exit 1).
 * `kcore-wizard certs renew`: reissue every leaf certificate (the CAs and the service-account key are
 * kept), then roll them out one host at a time: upload, restart that host's affected units, wait
 * healthy (the roles' own verify steps), next host, the smoke tests at the end.
 */
import { ensurePki, formatCertificateTable, listCertificates } from '../pki/index.js';
import { pkiInput } from '../roles/pki/index.js';
import { loadSpec } from '../spec/load.js';
import { outputFormat, type CommandContext, type CommandDef } from './args.js';
import { confirmAction } from './confirm.js';
import { rollingConverge, runOptions } from './run-common.js';
import { resolveWorkspace } from './workspace.js';

export const WARN_DAYS = 30;

const { tags: _tags, 'skip-tags': _skip, ...renewOptions } = runOptions;

export const certsCommand: CommandDef = {
  name: 'certs',
  summary: `Every certificate with its expiry in days (exit 1 when one expires within ${WARN_DAYS} days); \`certs renew\` reissues and rolls them out.`,
  usage: 'kcore-wizard certs [renew] [DIR] [--yes] [--limit hosts] [--output json]',
  details: [
    `certs: every certificate of the workspace, CAs first, with the days left; within ${WARN_DAYS} days or expired is marked (!)`,
    'and the exit code is 1, so a cron job or CI can watch it.',
    'certs renew: reissues every leaf certificate with the same CA and key (the CAs and the service-account key are kept,',
    'so tokens stay valid), then converges one host at a time: each host gets its new certificates, the units',
    'that use them restart, and the next host starts only when this one is healthy again and passes its smoke',
    'tests; it stops at the first host that does not, and leaves the rest untouched.',
    'Renewing a CA is not done by this command: it would need every node to trust both CAs during the change.',
  ].join('\n'),
  options: {
    ...renewOptions,
    yes: { type: 'boolean', short: 'y', description: 'certs renew: do not ask for confirmation (required off a terminal)' },
  },
  async run(ctx) {
    if (ctx.positionals[0] === 'renew') return renew({ ...ctx, positionals: ctx.positionals.slice(1) });
    const workspace = resolveWorkspace(ctx);
    const certs = await listCertificates(workspace);
    const expiring = certs.filter((c) => c.daysLeft < WARN_DAYS);
    if (outputFormat(ctx.values) === 'json') {
      ctx.stdout.write(JSON.stringify(certs.map((c) => ({ file: c.file, subject: c.subject, notAfter: c.notAfter, daysLeft: c.daysLeft, expiring: c.daysLeft < WARN_DAYS }))) + '\n');
      return expiring.length ? 1 : 0;
    }
    if (certs.length === 0) {
      ctx.stdout.write('no certificates yet: `kcore-wizard converge --tags pki` creates them\n');
      return 0;
    }
    ctx.stdout.write(formatCertificateTable(certs, { warnDays: WARN_DAYS }) + '\n');
    if (expiring.length) ctx.stdout.write(`\nrenew them: kcore-wizard certs renew${ctx.positionals[0] ? ` ${ctx.positionals[0]}` : ''}\n`);
    return expiring.length ? 1 : 0;
  },
};

async function renew(ctx: CommandContext): Promise<number> {
  const workspace = resolveWorkspace(ctx);
  const { spec } = await loadSpec(workspace);
  const what = `reissue every leaf certificate of cluster "${spec.name}" (CAs kept) and restart the units that use them, one host at a time`;
  if (!(await confirmAction(ctx, 'certs renew', what))) {
    ctx.stderr.write('kcore-wizard: nothing renewed\n');
    return 1;
  }
  const r = await ensurePki(workspace, pkiInput(spec), { renewLeaves: true });
  if (outputFormat(ctx.values) !== 'json') ctx.stdout.write(`reissued ${r.changed.length} certificates (CAs kept); rolling them out one host at a time\n`);
  return rollingConverge(ctx, { what: 'renew certificates' });
}
