/**
 * The question a command asks before it does something that cannot be undone (destroy, restore,
 * certs renew, upgrade): on a terminal "This will …. Continue? [y/N]"; elsewhere --yes is required,
 * and its absence is a usage error that says what would have happened (exit 2).
 */
import { createInterface } from 'node:readline/promises';
import { UsageError } from '../spec/errors.js';
import type { CommandContext } from './args.js';

export async function confirmAction(ctx: CommandContext, command: string, what: string, opts: { question?: string; offTerminal?: string } = {}): Promise<boolean> {
  if (ctx.values.yes) return true;
  if (!(ctx.stdin.isTTY && ctx.stdout.isTTY)) throw new UsageError(`${command} would ${what}: pass --yes to confirm (no terminal to ask on)${opts.offTerminal ?? ''}`);
  const rl = createInterface({ input: ctx.stdin as NodeJS.ReadStream, output: ctx.stdout as NodeJS.WriteStream });
  try {
    const answer = await rl.question(opts.question ?? `This will ${what}. Continue? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
