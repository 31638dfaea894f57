/** Off a terminal the wizard refuses in one line that names the non-interactive commands, exit 2. */
import { describe, expect, it } from 'vitest';
import { wizardCommand } from '../../src/commands/wizard.js';
import { NOT_A_TERMINAL } from '../../src/ui/wizard/run.js';

function ctx(stdinTTY: boolean, stdoutTTY: boolean) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    ctx: {
      values: {},
      positionals: [],
      stdout: { isTTY: stdoutTTY, write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      stdin: { isTTY: stdinTTY },
      env: {},
      cwd: '/tmp',
      signal: new AbortController().signal,
    },
  };
}

describe('the wizard without a terminal', () => {
  for (const [stdin, stdout] of [
    [false, true],
    [true, false],
    [false, false],
  ] as const) {
    it(`refuses with stdin ${stdin ? 'a' : 'not a'} TTY and stdout ${stdout ? 'a' : 'not a'} TTY`, async () => {
      const c = ctx(stdin, stdout);
      expect(await wizardCommand.run(c.ctx)).toBe(2);
      expect(c.err.join('')).toBe(
        'kcore-wizard: the wizard needs a terminal; run `kcore-wizard init` then `kcore-wizard up --config kcore.yaml --yes` instead\n',
      );
      expect(c.err.join('')).toBe(`${NOT_A_TERMINAL}\n`);
      expect(c.out).toEqual([]); // nothing drawn, no escape codes
    });
  }
});
