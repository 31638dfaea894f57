/**
 * How a command that works on the hosts outside the engine (backup, restore) ends on a failure the
 * user can act on (a TaskFailure or an SSH error): one line on stderr, or a JSON error line with
 * --output json, exit 1; cancelled is 130; anything else is an internal error and propagates.
 */
import { TaskFailure } from '../engine/task.js';
import { isSshError } from '../ssh/errors.js';
import type { CommandContext } from './args.js';

export function commandFailed(ctx: CommandContext, json: boolean, what: string, e: unknown): number {
  if (ctx.signal.aborted) return 130;
  if (!(e instanceof TaskFailure) && !isSshError(e)) throw e;
  if (json) ctx.stdout.write(JSON.stringify({ type: 'error', exitCode: 1, message: e.message }) + '\n');
  else ctx.stderr.write(`kcore-wizard: ${what} failed: ${e.message}\n`);
  return 1;
}
