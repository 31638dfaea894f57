/**
 * Running vagrant: through execa, no shell, no stdin, `VAGRANT_CHECKPOINT_DISABLE=1` (no phone-home),
 * in its own process group so that cancelling kills vagrant and everything it started (ruby, ssh,
 * lxc-*), output streamed line by line as `process-output` events with the machine each line is about.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import type { EventSink } from '../engine/events.js';
import { LineSplitter, parseMachineLine } from './parse.js';

export interface VagrantRunOptions {
  /** The workspace (where the Vagrantfile is); vagrant commands that need none (box, plugin) may omit it. */
  cwd?: string;
  emit?: EventSink;
  signal?: AbortSignal;
  /** Machine names, so that only real machine prefixes are recognised. */
  machines?: readonly string[];
  /** Extra environment (e.g. VAGRANT_HOME for tests). */
  env?: NodeJS.ProcessEnv;
  /** Upper bound; the process group is killed after it. Default: none for up/destroy, set by callers. */
  timeoutMs?: number;
  /** Don't emit the lines (for commands whose stdout is data, e.g. ssh-config, --machine-readable). */
  quiet?: boolean;
  /** The executable; tests point it at a stand-in. Default `vagrant` from PATH (or KCORE_VAGRANT). */
  bin?: string;
}

export interface VagrantResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  cancelled: boolean;
  timedOut: boolean;
}

export class VagrantError extends Error {
  override name = 'VagrantError';
  constructor(
    readonly args: readonly string[],
    readonly result: VagrantResult,
    message?: string,
  ) {
    super(message ?? `vagrant ${args.join(' ')} ${describeEnd(result)}${lastLines(result.stderr || result.stdout)}`);
  }
}

function describeEnd(r: VagrantResult): string {
  if (r.cancelled) return 'was cancelled';
  if (r.timedOut) return 'timed out';
  return `exited ${r.exitCode}`;
}

function lastLines(text: string, n = 8): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.length ? `:\n  ${lines.slice(-n).join('\n  ')}` : '';
}

/** Grace periods after cancel: SIGINT (vagrant cleans up), then SIGTERM, then SIGKILL to the group. */
const GRACE_INT_MS = 15_000;
const GRACE_TERM_MS = 10_000;

export function vagrantEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, VAGRANT_CHECKPOINT_DISABLE: '1', VAGRANT_NO_COLOR: '1', ...extra };
}

export function vagrantBin(opts: { bin?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return opts.bin ?? opts.env?.KCORE_VAGRANT ?? process.env.KCORE_VAGRANT ?? 'vagrant';
}

/**
 * Commands that need no workspace (box, plugin, --version) run in an empty folder of their own:
 * vagrant writes `.vagrant/` into its working folder and looks for a Vagrantfile above it.
 */
function neutralCwd(): string {
  const dir = path.join(tmpdir(), 'kcore-wizard-vagrant');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * Process groups of vagrant runs in flight. If kcore-wizard exits while one runs (a second Ctrl+C),
 * the group gets SIGTERM: vagrant runs in its own group, so no terminal signal would reach it.
 */
const liveGroups = new Set<number>();
let exitHooked = false;
function trackGroup(pid: number | undefined): void {
  if (!pid) return;
  liveGroups.add(pid);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const g of liveGroups) killGroup(g, 'SIGTERM');
    });
  }
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // group already gone
  }
}

/** Run `vagrant <args>`; resolves whatever the exit code (callers decide), rejects only if it cannot start. */
export async function runVagrant(args: readonly string[], opts: VagrantRunOptions = {}): Promise<VagrantResult> {
  if (opts.signal?.aborted) return { exitCode: 130, stdout: '', stderr: '', cancelled: true, timedOut: false };
  const child = execa(vagrantBin(opts), [...args], {
    cwd: opts.cwd ?? neutralCwd(),
    env: vagrantEnv(opts.env),
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    detached: true, // own process group: cancelling reaches ruby, ssh and lxc-* children too
    encoding: 'utf8',
    stripFinalNewline: false,
    buffer: true,
    maxBuffer: 64 * 1024 * 1024,
  });
  const pid = child.pid;
  trackGroup(pid);
  let cancelled = false;
  let timedOut = false;
  const timers: NodeJS.Timeout[] = [];
  const stop = () => {
    killGroup(pid, 'SIGINT');
    timers.push(setTimeout(() => killGroup(pid, 'SIGTERM'), GRACE_INT_MS).unref());
    timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), GRACE_INT_MS + GRACE_TERM_MS).unref());
  };
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // Once vagrant itself is gone after a cancel, whatever it left in its group (an ssh, a sleep) goes
  // too: such orphans would otherwise hold its output pipes open.
  child.on('exit', () => {
    if (cancelled || timedOut) killGroup(pid, 'SIGKILL');
  });
  if (opts.timeoutMs)
    timers.push(
      setTimeout(() => {
        timedOut = true;
        stop();
      }, opts.timeoutMs).unref(),
    );

  const emitLines = (stream: 'stdout' | 'stderr', lines: string[]) => {
    if (!opts.emit || opts.quiet) return;
    for (const raw of lines) {
      if (!raw.trim()) continue;
      const { machine } = parseMachineLine(raw, opts.machines);
      opts.emit({ type: 'process-output', at: Date.now(), source: 'vagrant', ...(machine ? { machine } : {}), stream, line: raw });
    }
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    const splitter = new LineSplitter();
    const decoder = new StringDecoder('utf8');
    const s = child[stream];
    s?.on('data', (chunk: Buffer | string) => emitLines(stream, splitter.push(typeof chunk === 'string' ? chunk : decoder.write(chunk))));
    s?.on('end', () => emitLines(stream, [...splitter.push(decoder.end()), ...splitter.flush()]));
  }
  try {
    const r = await child;
    if (r.failed && r.exitCode === undefined && !r.isTerminated && !cancelled && !timedOut)
      throw new Error(`could not run ${vagrantBin(opts)}: ${r.shortMessage}`);
    return {
      exitCode: r.exitCode ?? (cancelled ? 130 : 1),
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      cancelled,
      timedOut,
    };
  } finally {
    if (pid) liveGroups.delete(pid);
    opts.signal?.removeEventListener('abort', onAbort);
    for (const t of timers) clearTimeout(t);
    // Anything of the group still alive after vagrant itself exited (an orphaned ssh) goes too.
    if (cancelled || timedOut) killGroup(pid, 'SIGKILL');
  }
}

/** Like runVagrant, but throws VagrantError unless it exits 0. */
export async function runVagrantOk(args: readonly string[], opts: VagrantRunOptions = {}): Promise<VagrantResult> {
  const r = await runVagrant(args, opts);
  if (r.exitCode !== 0 || r.cancelled || r.timedOut) throw new VagrantError(args, r);
  return r;
}
