/** The workspace flags every command shares: `--dir DIR` (default: current folder) or `--config FILE`. */
import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../spec/errors.js';
import { SPEC_FILE } from '../spec/load.js';
import type { CommandContext, OptionSpec } from './args.js';

export const workspaceOptions: Record<string, OptionSpec> = {
  dir: { type: 'string', short: 'C', valueName: 'dir', description: 'cluster workspace folder (default: the current folder)' },
  config: { type: 'string', valueName: 'file', description: `path of the workspace's ${SPEC_FILE} (its folder is the workspace)` },
};

/** Flags many commands share, spelt once. */
export const helpOption: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };
export const outputOption: OptionSpec = { type: 'string', short: 'o', valueName: 'format', description: 'text (default) or json' };
export const sshConfigOption: OptionSpec = { type: 'string', valueName: 'file', description: "OpenSSH config to reach the hosts (default: the workspace's ssh.config)" };

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
  if (ctx.positionals.length > 1)
    throw new UsageError(`one workspace folder at most, got ${ctx.positionals.length} arguments: ${ctx.positionals.map((p) => JSON.stringify(p)).join(' ')} (quote a folder name that has spaces)`);
  if (typeof dir === 'string' && positional) throw new UsageError('give the workspace folder once: either as an argument or with --dir');
  const given = typeof dir === 'string' ? dir : positional;
  const workspace = path.resolve(ctx.cwd, given ?? '.');
  if (given !== undefined) notAFile(workspace, given);
  return workspace;
}

/** `render kcore.yaml`: the workspace is a folder; a file given in its place says what to type instead. */
function notAFile(workspace: string, given: string): void {
  let st;
  try {
    st = statSync(workspace);
  } catch {
    return; // absent (init creates it; the others say there is no spec) or unreadable: reported where it is read
  }
  if (st.isDirectory()) return;
  const hint = path.basename(workspace) === SPEC_FILE ? `: give its folder (${path.dirname(given) || '.'}) or --config ${given}` : ': give the workspace folder';
  throw new UsageError(`${given} is a file, not a folder${hint}`);
}

/** Show a path relative to where the user is, when that is shorter. */
export function displayPath(ctx: CommandContext, p: string): string {
  const rel = path.relative(ctx.cwd, p);
  return rel && !rel.startsWith('..') && rel.length < p.length ? rel : p;
}
