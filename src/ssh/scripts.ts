// The shell text the engine sends. POSIX sh + coreutils only (Flatcar has no Python).

import { shellQuote } from './quote.js';

/** Environment marker carried by every process of one command, so a timeout can kill them all. */
export const MARKER_VAR = 'KCORE_EXEC';

/**
 * The command line sent to sshd (run by the login shell, `$SHELL -c`). The user's command runs in `sh -c`,
 * tagged with a per-command marker in its environment (inherited by every child, kept across exec).
 * `exec` keeps the pid, so `$$` is the session's process and signals that kill it are reported as such.
 * The marker is exported rather than set with `env`: one program fewer to start for every command.
 * With sudo: `sudo -n -- env KCORE_EXEC=… sh -c '<quoted>'` (sudo resets the environment).
 * With `sudoCheck` (the first sudo command on a connection) there is still one sudo: the command's shell, as
 * root, first prints `SUDO_RAN_TAG<marker>` on stderr. A session without that line that exits non-zero was
 * refused by sudo (or found none) before anything ran: what it printed is sudo's answer. The check costs no
 * round trip and no process of its own (a `sudo -n true` before the command cost ~8 ms per host, another sudo).
 */
export function wrapCommand(command: string, opts: { sudo: boolean; marker: string; sudoCheck?: boolean }): string {
  const tag = `${MARKER_VAR}=${opts.marker}`;
  // On the printf's line: the command's own line numbers (in sh's error messages) stay what they were.
  const body = opts.sudo && opts.sudoCheck ? `printf '%s\\n' ${SUDO_RAN_TAG}${opts.marker} >&2; ${command}` : command;
  const run = `exec ${opts.sudo ? `sudo -n -- env ${tag} ` : ''}sh -c ${shellQuote(body)}`;
  return `${tag}; export ${MARKER_VAR}; ${run}`;
}

/** The line the command's shell prints first on stderr when the folded sudo check let it run (then the marker). */
export const SUDO_RAN_TAG = 'KCORE_SUDO_RAN=';

/**
 * What sudo said when the folded check refused (its last line, `sudo: ` removed), or undefined when the
 * command ran, or when the session ended without an exit status (pure; exported for tests).
 */
export function sudoRefusal(stderr: string, exitCode: number | null, marker: string): string | undefined {
  if (exitCode === null || exitCode === 0 || withoutRanLine(stderr, marker) !== undefined) return undefined;
  const said = stderr.trim().split('\n').slice(-1)[0] ?? '';
  return said.replace(/^sudo:\s*/, '');
}

/** stderr without the line the command's shell prints once sudo let it run, or undefined when it has none. */
export function withoutRanLine(stderr: string, marker: string): string | undefined {
  const line = `${SUDO_RAN_TAG}${marker}\n`;
  // Where the line starts in stderr, at the start of a line (the newline put in front is that offset's).
  const at = `\n${stderr}`.indexOf(`\n${line}`);
  return at < 0 ? undefined : stderr.slice(0, at) + stderr.slice(at + line.length);
}

/**
 * Kill every process carrying the marker: TERM, up to 2 s of grace, then KILL. Reads /proc/<pid>/environ,
 * so it must run as the same user as the command (through sudo for sudo commands).
 */
export function killScript(marker: string): string {
  const m = shellQuote(`${MARKER_VAR}=${marker}`);
  return [
    `m=${m}`,
    // The marker ends with a NUL in environ; -F keeps it literal. Our own processes do not carry it.
    // One grep over every environ file (a process per pid would take seconds on a busy machine).
    `pids() { grep -lsaF -- "$m" /proc/[0-9]*/environ 2>/dev/null | sed -n 's#^/proc/\\([0-9]*\\)/environ$#\\1#p'; }`,
    'p=$(pids); [ -n "$p" ] && kill -s TERM $p 2>/dev/null',
    'i=0; while [ $i -lt 10 ]; do p=$(pids); [ -z "$p" ] && exit 0; sleep 0.2; i=$((i+1)); done',
    'kill -s KILL $p 2>/dev/null; exit 0',
  ].join('\n');
}

export const MISSING_EXIT = 100;

/** Name of an upload's temp file, next to its target: this prefix and 8 to 64 hex characters. */
export const UPLOAD_TEMP_PREFIX = '.kcore-upload.';

/** Sets `d` to the directory of the path in `$p` (`.` for a bare name, `/` for a file in the root). */
const DIR_OF_P = 'case "$p" in */*) d=${p%/*}; [ -n "$d" ] || d=/ ;; *) d=. ;; esac';

/**
 * Deletes the temp files that interrupted uploads left in `$d` (a host that lost power, a SIGKILL): only
 * regular files named like ours, directly in `$d`, and not modified for `olderThanSec` seconds — the time
 * since this run began, measured here but applied on the host's clock, so a clock skew between the two
 * does not matter, and an upload of this run (or of a run that started later) is never touched. Best effort.
 */
export function sweepTempsLine(olderThanSec: number): string {
  if (!Number.isInteger(olderThanSec) || olderThanSec < 1) throw new Error('sweepTempsLine: olderThanSec must be a positive integer');
  const glob = `${UPLOAD_TEMP_PREFIX}${'[0-9a-f]'.repeat(8)}*`;
  return `[ ! -d "$d" ] || find "$d" -maxdepth 1 -type f -name '${glob}' ! -newermt "@$(($(date +%s) - ${olderThanSec}))" -delete 2>/dev/null || :`;
}

/** Mode, owner, group and SHA-256 of a file, or `missing`; sweeps stale upload temps of its directory first when told. */
export function statScript(path: string, sweepOlderThanSec?: number): string {
  const p = shellQuote(path);
  const sweep = sweepOlderThanSec === undefined ? '' : `${DIR_OF_P}; ${sweepTempsLine(sweepOlderThanSec)}; `;
  return `p=${p}; ${sweep}if [ -e "$p" ]; then stat -c '%a %U %G' -- "$p" && sha256sum -- "$p"; else echo missing; fi`;
}

export function catScript(path: string): string {
  return `p=${shellQuote(path)}; [ -e "$p" ] || exit ${MISSING_EXIT}; exec cat -- "$p"`;
}

export function sha256Script(path: string): string {
  return `p=${shellQuote(path)}; [ -e "$p" ] || exit ${MISSING_EXIT}; sha256sum -- "$p"`;
}

export function ownerSpec(owner?: string, group?: string): string | undefined {
  if (owner && group) return `${owner}:${group}`;
  if (owner) return owner;
  if (group) return `:${group}`;
  return undefined;
}

export const CORRUPT_EXIT = 97;

/**
 * Write stdin to `path` atomically: a temp file in the same directory, created exclusively (noclobber) with
 * the final mode — or 0600 while written when the content is secret or the mode needs more than the
 * shell can create (exec/setuid bits) — checksum verified, chown, chmod, then renamed over the target:
 * a reader sees the old file or the new one, never a partial one.
 * With `checkFirst`, the same session first compares the existing file (content, then mode, owner, group):
 * equal → nothing is written; only mode/owner differ → only those are fixed. The last line of stdout
 * says which: `kcore-upload:unchanged`, `kcore-upload:attrs` or `kcore-upload:written`.
 * However the script is stopped, it removes its temp file: on exit (a failed checksum, a failed chown/mv)
 * and on HUP, INT, TERM and PIPE (a timeout or an abort kills the command with TERM; a client that went away
 * closes the session, so `cat` sees end of input, the checksum fails and writing to the closed stderr raises
 * SIGPIPE). Only SIGKILL or a power cut leave it behind: `sweepOlderThanSec` removes those of earlier runs.
 * Builtins are used where they can be (every program started costs a fork and exec on the host).
 */
export function uploadScript(spec: {
  path: string;
  mode: number;
  owner?: string;
  group?: string;
  sha256: string;
  checkFirst?: boolean;
  secret?: boolean;
  /** Random suffix of the temp file (hex). */
  tempId: string;
  /** Sweep the directory's stale upload temps first (see sweepTempsLine). */
  sweepOlderThanSec?: number;
}): string {
  const own = ownerSpec(spec.owner, spec.group);
  const attrsMatch = [
    `[ "$1" = ${spec.mode.toString(8)} ]`,
    ...(spec.owner ? [`[ "$2" = ${shellQuote(spec.owner)} ]`] : []),
    ...(spec.group ? [`[ "$3" = ${shellQuote(spec.group)} ]`] : []),
  ].join(' && ');
  const fix = [...(own ? [`chown ${shellQuote(own)} -- "$p"`] : []), `chmod ${modeString(spec.mode)} -- "$p"`].join('; ');
  // Create the temp file with its final mode when the umask can express it; otherwise private, chmod later.
  const direct = !spec.secret && (spec.mode & ~0o666) === 0;
  const umask = direct ? (~spec.mode & 0o777).toString(8).padStart(4, '0') : '0077';
  const needChmod = !direct && spec.mode !== 0o600;
  if (!/^[0-9a-f]{8,64}$/.test(spec.tempId)) throw new Error('uploadScript: tempId must be hex');
  return [
    'set -e',
    `p=${shellQuote(spec.path)}`,
    DIR_OF_P,
    ...(spec.sweepOlderThanSec !== undefined ? [sweepTempsLine(spec.sweepOlderThanSec)] : []),
    ...(spec.checkFirst
      ? [
          'if [ -e "$p" ]; then',
          '  s=$(sha256sum -- "$p" 2>/dev/null) || s=\'\'; s=${s%% *}',
          `  if [ "$s" = ${spec.sha256} ]; then`,
          `    a=$(stat -c '%a %U %G' -- "$p" 2>/dev/null) || a=''`,
          '    set -- $a',
          `    if ${attrsMatch}; then echo kcore-upload:unchanged; exit 0; fi`,
          `    ${fix}; echo kcore-upload:attrs; exit 0`,
          '  fi',
          'fi',
        ]
      : []),
    '[ -d "$d" ] || mkdir -p -- "$d"',
    `t="$d/${UPLOAD_TEMP_PREFIX}${spec.tempId}"`,
    `umask ${umask}`,
    // `c` says the EXIT trap removes the temp. It is set before the file is made: a TERM that lands between the
    // creation and the next command (a kill sent as the script starts: an upload aborted while its session
    // opened) would otherwise leave the temp behind. The name is random and ours (UPLOAD_TEMP_PREFIX); set -C
    // still refuses to write through anything already there. A signal runs its trap once the running command
    // ends (cat dies of the same TERM, or sees end of input).
    'c=1',
    `trap '[ -z "$c" ] || rm -f -- "$t"' EXIT`,
    "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM",
    'set -C; : > "$t"; set +C',
    'cat > "$t"',
    's=$(sha256sum < "$t"); s=${s%% *}',
    `if [ "$s" != ${spec.sha256} ]; then echo "upload to $p arrived corrupted (sha256 $s)" >&2; exit ${CORRUPT_EXIT}; fi`,
    ...(own ? [`chown ${shellQuote(own)} -- "$t"`] : []),
    ...(needChmod ? [`chmod ${modeString(spec.mode)} -- "$t"`] : []),
    'mv -f -- "$t" "$p"',
    'trap - EXIT',
    'echo kcore-upload:written',
  ].join('\n');
}

/** Content is already right: only owner and mode. */
export function fixAttrsScript(spec: { path: string; mode: number; owner?: string; group?: string }): string {
  const own = ownerSpec(spec.owner, spec.group);
  return ['set -e', `p=${shellQuote(spec.path)}`, ...(own ? [`chown ${shellQuote(own)} -- "$p"`] : []), `chmod ${modeString(spec.mode)} -- "$p"`].join(
    '\n',
  );
}

export function modeString(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new Error(`Invalid file mode ${mode}`);
  return mode.toString(8).padStart(4, '0');
}
