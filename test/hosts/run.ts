// Small, bounded wrappers around the system commands the test hosts are built with.
// Every command has a timeout: nothing here can hang a test run forever.
import { execa } from 'execa';
import fs from 'node:fs';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Runs a command (no shell) and returns its output whatever the exit code; throws only if it could not run or timed out. */
export async function runSoft(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await execa(file, args, {
    reject: false,
    input: opts.input ?? '',
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: opts.env,
    extendEnv: opts.env === undefined,
    stripFinalNewline: false,
  });
  if (r.timedOut) throw new Error(`timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms: ${file} ${args.join(' ')}`);
  if (r.exitCode === undefined) throw new Error(`could not run ${file}: ${r.message}`);
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode };
}

/** Runs a command and throws (with its stderr) unless it exits 0. */
export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await runSoft(file, args, opts);
  if (r.exitCode !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Phase timings on stderr when KCORE_HOSTS_DEBUG is set (e.g. to see where boot time goes). */
export function debug(message: string): void {
  if (process.env.KCORE_HOSTS_DEBUG) process.stderr.write(`[test-hosts ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

/** The end of a log file, for error messages. */
export function readTail(file: string, bytes = 4_000): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '(no log)';
  }
}
