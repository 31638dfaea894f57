/**
 * argv → command. Usage errors (unknown command or flag, bad input) print one clear message and exit 2;
 * internal errors exit 1. Renderer choice (Ink on a TTY, plain lines or JSON otherwise) is made by each
 * command from its context. Nothing heavy is imported here: see src/commands/index.ts.
 */
import { createRequire } from 'node:module';
import { UsageError } from './spec/errors.js';
import { formatCommandHelp, parseCommandArgs, type CommandContext } from './commands/args.js';
import { commands, findCommand } from './commands/index.js';

const require = createRequire(import.meta.url);

export function version(): string {
  return (require('../package.json') as { version: string }).version;
}

export function globalHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'kcore-wizard: a real multi-node Kubernetes cluster on your own machines.',
    '',
    'Usage: kcore-wizard                      the full-screen wizard',
    '       kcore-wizard <command> [flags]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Flags:',
    '  -h, --help     show help (also: kcore-wizard <command> --help)',
    '  -V, --version  print the version',
    '',
  ].join('\n');
}

export interface MainIO {
  stdout?: CommandContext['stdout'];
  stderr?: CommandContext['stderr'];
  stdin?: CommandContext['stdin'];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
}

export async function main(argv: string[], io: MainIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  if (!io.stdout) quietOnClosedPipe(process.stdout);
  if (!io.stderr) quietOnClosedPipe(process.stderr);
  try {
    // No command: the wizard (it refuses in one line off a terminal and names the plain commands).
    if (argv.length === 0) argv = ['wizard'];
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      if (first === 'help' && rest[0]) {
        const entry = findCommand(rest[0]);
        if (!entry) throw new UsageError(unknownCommand(rest[0]));
        stdout.write(formatCommandHelp(await entry.load()));
        return 0;
      }
      stdout.write(globalHelp());
      return 0;
    }
    if (first === '--version' || first === '-V' || first === '-v') {
      stdout.write(`${version()}\n`);
      return 0;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown flag ${first}: flags come after the command.\n${shortUsage()}`);
    const entry = findCommand(first);
    if (!entry) throw new UsageError(unknownCommand(first));
    // Only the command that runs is loaded (and with it Ink, the engine … if it uses them).
    const cmd = await entry.load();
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values.help) {
      stdout.write(formatCommandHelp(cmd));
      return 0;
    }
    return await cmd.run({
      values: values as CommandContext['values'],
      positionals,
      stdout,
      stderr,
      stdin: io.stdin ?? process.stdin,
      env: io.env ?? process.env,
      cwd: io.cwd ?? process.cwd(),
      signal: io.signal ?? interruptSignal(stderr),
    });
  } catch (e) {
    if (e instanceof UsageError) {
      // With --output json a script reads every line as JSON, the error included.
      if (wantsJson(argv)) stderr.write(JSON.stringify({ type: 'error', exitCode: e.exitCode, message: e.message }) + '\n');
      else stderr.write(`kcore-wizard: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

function wantsJson(argv: string[]): boolean {
  return argv.some((a, i) => a === '--output=json' || a === '-ojson' || ((a === '--output' || a === '-o') && argv[i + 1] === 'json'));
}

/** The process entry point (bin/kcore-wizard.js): main() with its exit code; an internal error exits 1. */
export function runCli(argv: string[]): Promise<void> {
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`kcore-wizard: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

function shortUsage(): string {
  return 'Run `kcore-wizard --help` for the commands.';
}

function unknownCommand(name: string): string {
  const near = commands.map((c) => c.name).filter((n) => editDistance(n, name) <= 2 || n.startsWith(name));
  return `unknown command "${name}"${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}. ${shortUsage()}`;
}

/** Levenshtein distance, for "did you mean" on mistyped commands. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Ctrl+C for plain commands: the first press aborts the run (SSH commands and vagrant are cancelled,
 * hosts marked cancelled); a second press exits at once. The wizard installs its own handling.
 */
let current: AbortController | undefined;
let hooked = false;

function interruptSignal(stderr: { write(s: string): unknown }): AbortSignal {
  const ac = new AbortController();
  current = ac;
  if (!hooked) {
    // One listener for the process, whatever the number of main() calls (tests call it many times).
    hooked = true;
    process.on('SIGINT', () => {
      if (!current || current.signal.aborted) process.exit(130);
      stderr.write('\ncancelling… (press Ctrl+C again to exit at once)\n');
      current.abort(new Error('cancelled by Ctrl+C'));
    });
  }
  return ac.signal;
}

/**
 * `kcore-wizard plan | head -1`: once the reader has gone, a write fails with EPIPE. That is the
 * reader's choice, not an error: exit at once and quietly, as `seq 1 100000 | head -1` does.
 */
const pipeGuarded = new WeakSet<object>();
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  if (pipeGuarded.has(stream)) return;
  pipeGuarded.add(stream);
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}
