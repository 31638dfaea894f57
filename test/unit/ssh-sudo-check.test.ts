// The sudo check folded into the first sudo command (src/ssh/scripts.ts wrapCommand with sudoCheck), run by
// this machine's /bin/sh as sshd's login shell would run it, with a stand-in `sudo` first on PATH: the real
// sudo cannot be made to ask for a password here (we are root). The same text against real sshd hosts whose
// sudo needs a password: test/integration/ssh.test.ts ("the check folded into the first sudo command …").
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SUDO_RAN_TAG, sudoRefusal, wrapCommand } from '../../src/ssh/scripts.js';

const root = mkdtempSync(join(tmpdir(), 'kcore-sudo-check-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A PATH whose `sudo` refuses like sudo -n without NOPASSWD, or runs its command like sudo -n -- … (and counts its runs) */
function fakeSudo(mode: 'refuse' | 'allow'): string {
  const dir = mkdtempSync(join(root, `${mode}-`));
  const body =
    mode === 'refuse'
      ? '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n'
      : `#!/bin/sh\necho x >> ${join(root, 'sudo-runs')}\n[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n`;
  writeFileSync(join(dir, 'sudo'), body);
  chmodSync(join(dir, 'sudo'), 0o755);
  return `${dir}:${process.env.PATH}`;
}

function run(mode: 'refuse' | 'allow', command: string, marker = 'm4rker_x') {
  const r = spawnSync('/bin/sh', ['-c', wrapCommand(command, { sudo: true, marker, sudoCheck: true })], { env: { PATH: fakeSudo(mode) }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, refused: sudoRefusal(r.stderr, r.status, marker) };
}

describe('the sudo check folded into the first sudo command', () => {
  it('refused: the command does not run, the session exits non-zero and what sudo said is the refusal', () => {
    const flag = join(root, 'ran');
    const r = run('refuse', `touch ${flag}; echo out`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.refused).toBe('a password is required');
    expect(existsSync(flag)).toBe(false);
  });

  it('allowed: one sudo; the command runs with its own output and exit status after the line that says it runs', () => {
    rmSync(join(root, 'sudo-runs'), { force: true });
    const r = run('allow', 'echo out; echo err >&2; exit 3');
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: `${SUDO_RAN_TAG}m4rker_x\nerr\n`, refused: undefined });
    expect(readFileSync(join(root, 'sudo-runs'), 'utf8')).toBe('x\n');
    // A command that fails at once, or prints a line like the refusal's, is still the command's own.
    expect(run('allow', 'echo "sudo: a password is required" >&2; exit 1').refused).toBeUndefined();
    // Its line numbers are its own: the check shares the command's first line.
    expect(run('allow', 'true\nnosuchcmd_x').stderr).toMatch(/^KCORE_SUDO_RAN=m4rker_x\n.*2: nosuchcmd_x: not found\n$/);
    // Another command's line (another marker) does not pass for this one's.
    expect(sudoRefusal(`${SUDO_RAN_TAG}other\nsudo: a password is required\n`, 1, 'm4rker_x')).toBe('a password is required');
    expect(sudoRefusal('sudo: a password is required\n', null, 'm4rker_x')).toBeUndefined();
  });

  it('without the check the command line is the plain sudo wrapper', () => {
    expect(wrapCommand('id -u', { sudo: true, marker: 'm' })).toBe("KCORE_EXEC=m; export KCORE_EXEC; exec sudo -n -- env KCORE_EXEC=m sh -c 'id -u'");
    expect(wrapCommand('id -u', { sudo: false, marker: 'm', sudoCheck: true })).toBe("KCORE_EXEC=m; export KCORE_EXEC; exec sh -c 'id -u'");
    expect(wrapCommand('id -u', { sudo: true, marker: 'm', sudoCheck: true })).toBe(
      "KCORE_EXEC=m; export KCORE_EXEC; exec sudo -n -- env KCORE_EXEC=m sh -c 'printf '\\''%s\\n'\\'' KCORE_SUDO_RAN=m >&2; id -u'",
    );
  });
});
