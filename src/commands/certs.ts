/**
 * `kcore-wizard certs`: every certificate with its expiry in days (within 30 days: a warning, exit 1).
 * `kcore-wizard certs renew`: reissue every leaf certificate (the CAs and the service-account key are
 * kept), then roll them out one host at a time: upload, restart that host's affected units, wait
 * healthy (the roles' own verify steps), next host, the smoke tests at the end.
 */
import { ensurePki, formatCertificateTable, listCertificates } from '../pki/index.js';
import { readRotation } from '../pki/rotate.js';
import { rotateCas } from '../converge/ca-rotation.js';
import { plannedHosts } from '../spec/hosts.js';
import { UsageError } from '../spec/errors.js';
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
  usage: 'kcore-wizard certs [renew] [DIR] [--ca] [--yes] [--limit hosts] [--output json]',
  details: [
    `certs: every certificate of the workspace, CAs first, with the days left; within ${WARN_DAYS} days or expired is marked (!)`,
    'and the exit code is 1, so a cron job or CI can watch it.',
    'certs renew: reissues every leaf certificate with the same CA and key (the CAs and the service-account key are kept,',
    'so tokens stay valid), then converges one host at a time: each host gets its new certificates, the units',
    'that use them restart, and the next host starts only when this one is healthy again and passes its smoke',
    'tests; it stops at the first host that does not, and leaves the rest untouched.',
    'certs renew --ca: rotates the cluster CA and the etcd CA in three rolling passes (every host trusts old and',
    'new CA; every certificate reissued by the new CA; the old CA dropped). The phase is recorded in pki/ca-rotation.json:',
    'a rerun after a stop resumes where it stopped. See docs/day2.md, "Rotating the CAs".',
  ].join('\n'),
  options: {
    ...renewOptions,
    yes: { type: 'boolean', short: 'y', description: 'certs renew: do not ask for confirmation (required off a terminal)' },
    ca: { type: 'boolean', description: 'certs renew: rotate the CAs too (every component restarts three times; see the warning)' },
  },
  async run(ctx) {
    if (ctx.positionals[0] === 'renew') return renew({ ...ctx, positionals: ctx.positionals.slice(1) });
    const workspace = resolveWorkspace(ctx);
    const certs = await listCertificates(workspace);
    const rotation = await readRotation(workspace);
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
    if (rotation) ctx.stdout.write(`\na CA rotation is in progress: phase ${rotation.phase} of 3${rotation.rolled ? ' rolled out' : ''}; \`kcore-wizard certs renew --ca\` goes on with it\n`);
    if (expiring.length) ctx.stdout.write(`\nrenew them: kcore-wizard certs renew${ctx.positionals[0] ? ` ${ctx.positionals[0]}` : ''}\n`);
    return expiring.length ? 1 : 0;
  },
};

async function renew(ctx: CommandContext): Promise<number> {
  const workspace = resolveWorkspace(ctx);
  const { spec } = await loadSpec(workspace);
  const rotation = await readRotation(workspace);
  if (ctx.values.ca) return rotate(ctx, workspace, spec);
  if (rotation) throw new UsageError(`a CA rotation is in progress (phase ${rotation.phase} of 3, pki/ca-rotation.json): finish it with \`kcore-wizard certs renew --ca\` before renewing leaves alone`);
  const what = `reissue every leaf certificate of cluster "${spec.name}" (CAs kept) and restart the units that use them, one host at a time`;
  if (!(await confirmAction(ctx, 'certs renew', what))) {
    ctx.stderr.write('kcore-wizard: nothing renewed\n');
    return 1;
  }
  const r = await ensurePki(workspace, pkiInput(spec), { renewLeaves: true });
  if (outputFormat(ctx.values) !== 'json') ctx.stdout.write(`reissued ${r.changed.length} certificates (CAs kept); rolling them out one host at a time\n`);
  return rollingConverge(ctx, { what: 'renew certificates' });
}

/** What a CA rotation means, said before it starts (the confirmation question and the --yes refusal). */
export function caRotationWarning(cluster: string): string {
  return [
    `rotate the cluster CA and the etcd CA of cluster "${cluster}" in three rolling passes, one host at a time, each waiting until the host is healthy:`,
    '(1) every host trusts the old and the new CA, (2) every certificate is reissued by the new CA, (3) the old CA is trusted no more and is archived in pki/archive/.',
    'Every component restarts in each pass (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, flanneld).',
    'Every kubeconfig kcore-wizard writes is reissued. Kubeconfigs handed out earlier (`kcore-wizard kubeconfig`, copies) stop working from pass 2 on:',
    'they trust only the old CA and their client certificate is signed by it; fetch them again afterwards.',
    'Service-account tokens stay valid: they are signed with the service-account key (pki/sa.key), which is kept, not with a CA.',
    'Pods that read the cluster CA when they start (in-cluster clients such as CoreDNS) keep the old CA until restarted: kcore-wizard does not restart pods,',
    'so restart them after pass 1 (kubectl rollout restart) or they lose the API server in pass 2.',
    'A stop (a host that does not come back healthy) leaves the cluster working in the recorded pass; run this again to resume',
  ].join('\n');
}

async function rotate(ctx: CommandContext, workspace: string, spec: Awaited<ReturnType<typeof loadSpec>>['spec']): Promise<number> {
  if (!(await confirmAction(ctx, 'certs renew --ca', caRotationWarning(spec.name)))) {
    ctx.stderr.write('kcore-wizard: nothing rotated\n');
    return 1;
  }
  const json = outputFormat(ctx.values) === 'json';
  const say = (message: string) => ctx.stdout.write(json ? `${JSON.stringify({ type: 'ca-rotation', message })}\n` : `${message}\n`);
  const limit = typeof ctx.values.limit === 'string' ? ctx.values.limit.split(',').map((x) => x.trim()) : null;
  if (limit) {
    const outside = plannedHosts(spec).filter((h) => !limit.includes(h.name) && !limit.includes(h.group)).map((h) => h.name);
    if (outside.length) say(`warning: --limit: ${outside.join(', ')} are not rolled out; from phase 2 on they cannot reach the rest until converged (kcore-wizard converge)`);
  }
  const r = await rotateCas(workspace, pkiInput(spec), { say, roll: (_phase, title) => rollingConverge(ctx, { what: title }) });
  return r.code;
}
