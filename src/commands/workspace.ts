/** The workspace flags every command shares: `--dir DIR` (default: current folder) or `--config FILE`. */
import path from 'node:path';
import { UsageError } from '../spec/errors.js';
import { SPEC_FILE } from '../spec/load.js';
import type { CommandContext, OptionSpec } from './args.js';

export const workspaceOptions: Record<string, OptionSpec> = {
  dir: { type: 'string', short: 'C', valueName: 'dir', description: 'cluster workspace folder (default: the current folder)' },
  config: { type: 'string', valueName: 'file', description: `path of the workspace's ${SPEC_FILE} (its folder is the workspace)` },
};

export function resolveWorkspace(ctx: CommandContext): string {
  const dir = ctx.values.dir;
  const config = ctx.values.config;
  const positional = ctx.positionals[0];
  if (typeof config === 'string') {
    if (path.basename(config) !== SPEC_FILE)
      throw new UsageError(`--config must name a ${SPEC_FILE} file (the workspace is its folder), got ${config}`);
    if (typeof dir === 'string' || positional) throw new UsageError('give either --config or a workspace folder, not both');
    return path.resolve(ctx.cwd, path.dirname(config));
  }
  if (typeof dir === 'string' && positional) throw new UsageError('give the workspace folder once: either as an argument or with --dir');
  return path.resolve(ctx.cwd, typeof dir === 'string' ? dir : (positional ?? '.'));
}

/** Show a path relative to where the user is, when that is shorter. */
export function displayPath(ctx: CommandContext, p: string): string {
  const rel = path.relative(ctx.cwd, p);
  return rel && !rel.startsWith('..') && rel.length < p.length ? rel : p;
}
