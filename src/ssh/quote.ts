// POSIX shell quoting. Everything that reaches a remote shell goes through here.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quote a string as one POSIX shell word. Plain words stay readable (`/etc/hosts`); everything else
 * is wrapped in single quotes, with embedded single quotes written as `'\''`.
 */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new Error('shellQuote: a shell word cannot contain a NUL byte');
  if (s.length > 0 && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Quote each argument and join with spaces. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(' ');
}
