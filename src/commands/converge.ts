/** `kcore-wizard converge`: apply every role (or --tags/--limit), each followed by its smoke tests. */
import type { CommandDef } from './args.js';
import { exitCode, runFromFlags, runOptions } from './run-common.js';

export const convergeCommand: CommandDef = {
  name: 'converge',
  summary: 'Configure the machines: bootstrap, PKI, etcd … each role followed by its smoke tests.',
  usage: 'kcore-wizard converge [DIR] [--tags t1,t2] [--skip-tags t] [--limit host|group] [--artifacts src]',
  details: 'Roles run in order with a barrier between them; hosts of a role in parallel. A second converge changes nothing.',
  options: runOptions,
  async run(ctx) {
    const { summary } = await runFromFlags(ctx, {});
    if (ctx.values.output !== 'json')
      ctx.stdout.write(`\n${summary.status === 'ok' ? `converged: ${summary.changed} changed` : summary.status === 'cancelled' ? 'cancelled' : `failed on ${summary.failedHosts.join(', ')}`}\n`);
    return exitCode(summary);
  },
};
