// The sudo check folded into the first sudo command (src/ssh/scripts.ts wrapCommand with sudoCheck), run by
// this machine's /bin/sh as sshd's login shell would run it, with a stand-in `sudo` first on PATH: the real
// sudo cannot be made to ask for a password here (we are root). The same text against real sshd hosts whose
// sudo needs a password: test/integration/ssh.test.ts ("the check folded into the first sudo command …").
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SUDO_REFUSED_EXIT, sudoRefusal, wrapCommand } from '../../src/ssh/scripts.js';

const root = mkdtempSync(join(tmpdir(), 'kcore-sudo-check-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A PATH whose `sudo` refuses like sudo -n without NOPASSWD, or runs its command like sudo -n -- … */
function fakeSudo(mode: 'refuse' | 'allow'): string {
  const dir = mkdtempSync(join(root, `${mode}-`));
  const body =
    mode === 'refuse'
      ? '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n'
      : '#!/bin/sh\n[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n';
  writeFileSync(join(dir, 'sudo'), body);
  chmodSync(join(dir, 'sudo'), 0o755);
  return `${dir}:${process.env.PATH}`;
}

function run(mode: 'refuse' | 'allow', command: string, marker = 'm4rker_x') {
  const r = spawnSync('/bin/sh', ['-c', wrapCommand(command, { sudo: true, marker, sudoCheck: true })], { env: { PATH: fakeSudo(mode) }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, refused: sudoRefusal(r.stderr, r.status, marker) };
}

describe('the sudo check folded into the first sudo command', () => {
  it('refused: the command does not run, the session exits 97 and says what sudo said', () => {
    const flag = join(root, 'ran');
    const r = run('refuse', `touch ${flag}; echo out`);
    expect(r.code).toBe(SUDO_REFUSED_EXIT);
    expect(r.stdout).toBe('');
    expect(r.refused).toBe('a password is required');
    expect(existsSync(flag)).toBe(false);
  });

  it('allowed: the command runs with its own output and exit status, and nothing reads as a refusal', () => {
    expect(run('allow', 'echo out; echo err >&2; exit 3')).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n', refused: undefined });
    // The command's own exit 97, even with text that looks like the refusal line, is the command's.
    const own = run('allow', 'echo "KCORE_SUDO_REFUSED=other x" >&2; exit 97');
    expect(own.code).toBe(97);
    expect(own.refused).toBeUndefined();
  });

  it('without the check the command line is the plain sudo wrapper', () => {
    expect(wrapCommand('id -u', { sudo: true, marker: 'm' })).toBe("KCORE_EXEC=m; export KCORE_EXEC; exec sudo -n -- env KCORE_EXEC=m sh -c 'id -u'");
    expect(wrapCommand('id -u', { sudo: false, marker: 'm', sudoCheck: true })).toBe("KCORE_EXEC=m; export KCORE_EXEC; exec sh -c 'id -u'");
  });
});
