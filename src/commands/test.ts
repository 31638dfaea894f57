/**
 * `kcore-wizard test`: run the smoke tests only (tag `test`); exit 1 when any fails. A certificate that
 * expires within 30 days is a warning line (and a `warning` line in --output json) that leaves the exit
 * code alone: the cluster works today, and `certs` (exit 1) is the check to watch for renewals. An
 * expired certificate fails the pki role's smoke test, so the exit code is 1.
 */
import { expiryWarningLine, expiryWarningsOf, listCertificates } from '../pki/index.js';
import { listedThisRun } from '../roles/pki/index.js';
import { outputFormat, type CommandDef } from './args.js';
import { exitCode, runFromFlags, runOptions } from './run-common.js';

const { tags: _tags, 'skip-tags': _skip, ...options } = runOptions;

export const testCommand: CommandDef = {
  name: 'test',
  summary: 'Run the smoke tests (every task tagged `test`) and print a table per host; exit 1 on any failure.',
  usage: 'kcore-wizard test [DIR] [--limit host|group]',
  options,
  async run(ctx) {
    const { summary, events, workspace } = await runFromFlags(ctx, { tags: ['test'] });
    // The certificates the pki role's smoke test listed a moment ago (nothing in a test run writes them).
    const expiring = expiryWarningsOf(listedThisRun(workspace) ?? (await listCertificates(workspace)));
    if (outputFormat(ctx.values) === 'json') {
      for (const w of expiring) ctx.stdout.write(JSON.stringify({ type: 'warning', kind: 'certificate-expiry', file: w.file, daysLeft: w.daysLeft, notAfter: w.notAfter, expired: w.expired, message: w.message }) + '\n');
    } else {
      const rows = events.flatMap((e) => (e.type === 'task-end' && (e.tags.includes('test') || e.status === 'unreachable') ? [e] : []));
      const hw = Math.max(4, ...rows.map((r) => r.host.length));
      const tw = Math.max(4, ...rows.map((r) => r.task.length));
      ctx.stdout.write(`\n== smoke tests\n   ${'HOST'.padEnd(hw)}  ${'TEST'.padEnd(tw)}  RESULT\n`);
      for (const r of rows) {
        const result = r.status === 'ok' ? 'pass' : r.status === 'skipped' ? 'skipped' : 'FAIL';
        ctx.stdout.write(`   ${r.host.padEnd(hw)}  ${r.task.padEnd(tw)}  ${result}${r.message && r.status !== 'ok' ? `: ${r.message.split('\n')[0]}` : ''}\n`);
      }
      const failed = rows.filter((r) => r.status === 'failed' || r.status === 'unreachable').length;
      ctx.stdout.write(`\n${rows.length - failed} passed, ${failed} failed\n`.replace(/^\n(\d+) passed/, '\nsmoke: $1 passed'));
      if (expiring.length) ctx.stdout.write(`${expiryWarningLine(expiring.map((w) => w.message))}\n`);
    }
    return exitCode(summary);
  },
};

