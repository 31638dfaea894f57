/** Run the CLI in-process with captured output (no TTY), as a user's shell would see it. */
import { main } from '../../src/cli.js';

export async function runCli(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => ((stdout += s), true), isTTY: false },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: { isTTY: false },
    cwd: opts.cwd ?? process.cwd(),
    env: opts.env ?? { ...process.env },
  });
  return { code, stdout, stderr };
}
