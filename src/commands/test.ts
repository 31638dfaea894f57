/** `kcore-wizard test`: run the smoke tests only (tag `test`); exit 1 when any fails. */
import type { CommandDef } from './args.js';
import { exitCode, runFromFlags, runOptions } from './run-common.js';

const { tags: _tags, 'skip-tags': _skip, ...options } = runOptions;

export const testCommand: CommandDef = {
  name: 'test',
  summary: 'Run the smoke tests (every task tagged `test`) and print a table per host; exit 1 on any failure.',
  usage: 'kcore-wizard test [DIR] [--limit host|group]',
  options,
  async run(ctx) {
    const { summary, events } = await runFromFlags(ctx, { tags: ['test'] });
    if (ctx.values.output !== 'json') {
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
    }
    return exitCode(summary);
  },
};
