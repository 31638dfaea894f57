/**
 * Run kcore-wizard commands in-process as a script would (no TTY, captured output). Commands the CLI
 * already registers go through `main`; up, destroy and box also run directly from their definitions,
 * so the end-to-end test exercises the same code whether or not src/commands/index.ts lists them yet.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { parseCommandArgs, type CommandDef } from '../../src/commands/args.js';
import { boxCommand } from '../../src/commands/box.js';
import { destroyCommand } from '../../src/commands/destroy.js';
import { findCommand } from '../../src/commands/index.js';
import { upCommand } from '../../src/commands/up.js';
import { UsageError } from '../../src/spec/errors.js';

const OWN: Record<string, CommandDef> = { up: upCommand, destroy: destroyCommand, box: boxCommand };

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export async function kcore(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => ((stdout += s), true), isTTY: false },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: { isTTY: false },
    cwd: opts.cwd ?? process.cwd(),
    env: opts.env ?? { ...process.env },
    signal: opts.signal ?? new AbortController().signal,
  };
  const t0 = performance.now();
  const name = argv[0] ?? '';
  let code: number;
  if (findCommand(name) || !OWN[name]) code = await main(argv, io);
  else {
    const cmd = OWN[name]!;
    try {
      const { values, positionals } = parseCommandArgs(cmd, argv.slice(1));
      code = await cmd.run({ ...io, values: values as never, positionals });
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      stderr += `kcore-wizard: ${e.message}\n`;
      code = e.exitCode;
    }
  }
  return { code, stdout, stderr, ms: Math.round(performance.now() - t0) };
}

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/kcore-wizard.js');

/**
 * Run the shipped CLI as a user does: `node bin/kcore-wizard.js`, which loads the esbuild bundle in dist/
 * (`npm test` builds it first). The in-process `kcore` runs the sources; this proves the bundle runs the same
 * commands (vagrant through execa, ssh2, nunjucks templates, the engine) end to end.
 */
export function kcoreBin(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  if (!existsSync(path.resolve(path.dirname(BIN), '../dist/cli/cli.js'))) throw new Error('dist/cli/cli.js is missing: run `npm run build` (npm test does) before the end-to-end test');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: opts.cwd ?? process.cwd(), env: opts.env ?? { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr, ms: Math.round(performance.now() - t0) }));
  });
}

/** The JSON lines of `--output json`. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
