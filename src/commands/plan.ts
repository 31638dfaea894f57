/** `kcore-wizard plan`: a dry run — per host, what converge would change. Nothing is changed. */
import { haSummary } from '../spec/ha.js';
import { loadSpec } from '../spec/load.js';
import type { CommandDef } from './args.js';
import { exitCode, runFromFlags, runOptions } from './run-common.js';

export const planCommand: CommandDef = {
  name: 'plan',
  summary: 'Show, per host, what converge would change (dry run: files, units, binaries, certificates).',
  usage: 'kcore-wizard plan [DIR] [--tags …] [--limit …]',
  options: runOptions,
  async run(ctx) {
    const { summary, events, workspace } = await runFromFlags(ctx, { dryRun: true });
    if (ctx.values.output !== 'json') {
      const perHost = new Map<string, string[]>();
      for (const e of events)
        if (e.type === 'task-end' && (e.status === 'changed' || e.wouldFail))
          perHost.set(e.host, [...(perHost.get(e.host) ?? []), ...e.changes, ...(e.wouldFail ? [`WOULD FAIL (${e.task}): ${(e.message ?? '').split('\n')[0]}`] : [])]);
      ctx.stdout.write('\n== plan\n');
      if (perHost.size === 0) ctx.stdout.write('   nothing to change\n');
      for (const [host, changes] of perHost) {
        ctx.stdout.write(`   ${host}: ${changes.length} change${changes.length === 1 ? '' : 's'}\n`);
        for (const c of changes) ctx.stdout.write(`     - ${c}\n`);
      }
      // What the chosen sizes survive: masters and etcd quorum are separate answers.
      ctx.stdout.write('\n== high availability\n');
      for (const l of haSummary((await loadSpec(workspace)).spec)) ctx.stdout.write(`   ${l}\n`);
    }
    return exitCode(summary);
  },
};
