// Bookkeeping and teardown of everything a set of test hosts creates on this machine.
//
// Every resource is recorded (by exact name or by PID plus the kernel's start time of that PID)
// before or right as it is created, in memory and in a small state file under /run. Teardown
// only ever acts on recorded resources: no name-pattern matching, no "kill everything called
// sshd". The state file lets a later run clean up after a run that was killed with SIGKILL.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from './run.js';

export const STATE_DIR = '/run/kcore-wizard-test-hosts';

export interface ProcRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a PID we started from a later reuse of the same number. */
  start: string;
  /** 'leader' is PID 1 of an nspawn machine: SIGKILL to it ends every process of that machine. */
  role: 'sshd' | 'nspawn' | 'leader';
}

export interface RunState {
  id: string;
  owner: { pid: number; start: string };
  workdir: string;
  bridge?: string;
  /** Network namespaces created with `ip netns add` (light hosts). */
  netns: string[];
  /** Host-side veth names created by the module (light hosts); normally gone with their namespace. */
  veths: string[];
  procs: ProcRecord[];
  /** Mount points in the root mount namespace (nspawn overlays), unmounted in reverse order. */
  mounts: string[];
  /** Cgroup directories made for nspawn machines (each with the subtree the machine made in it). */
  cgroups?: string[];
}

/** Reads the start time of a live, non-zombie process; undefined if it is gone. */
export function procStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Is this recorded process still the one we started? */
export function isAlive(p: { pid: number; start: string }): boolean {
  return procStart(p.pid) === p.start;
}

function signal(p: { pid: number; start: string }, sig: NodeJS.Signals): void {
  if (!isAlive(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // Already gone between the check and the signal.
  }
}

export function stateFile(id: string): string {
  return path.join(STATE_DIR, `${id}.json`);
}

export function saveState(state: RunState): void {
  fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const tmp = `${stateFile(state.id)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, stateFile(state.id));
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  const info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)));
  return points.sort((a, b) => b.length - a.length);
}

/** Removes a cgroup directory and the sub-cgroups in it, deepest first (rmdir: only empty cgroups go). */
function removeCgroupTree(dir: string): boolean {
  if (!fs.existsSync(dir)) return true;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(path.join(dir, entry.name));
  }
  try {
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Bounded wait until none of `procs` is alive. */
async function waitGone(procs: ProcRecord[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!procs.some(isAlive)) return true;
    await sleep(25);
  }
  return !procs.some(isAlive);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function waitGoneSync(procs: ProcRecord[], ms: number): boolean {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && procs.some(isAlive)) sleepSync(25);
  return !procs.some(isAlive);
}

/** PIDs of every process whose network namespace is `ns` (whatever started them, e.g. exec()). */
function netnsPidsSync(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killNetnsMembers(ns: string): void {
  for (const pid of netnsPidsSync(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

function quiet(file: string, args: string[]): void {
  try {
    execFileSync(file, args, { timeout: 15_000, stdio: 'ignore' });
  } catch {
    // Teardown is best effort per resource; leftovers are reported by the caller's checks.
  }
}

/**
 * Tears a run down. `graceful` gives processes SIGTERM and a few seconds first (nspawn then powers
 * the machine off cleanly); otherwise everything gets SIGKILL at once (exit/signal backstop).
 * Synchronous so that it can run from a process 'exit' handler.
 */
export function teardownSync(state: RunState, graceful: boolean): string[] {
  const problems: string[] = [];
  const roots = state.procs.filter((p) => p.role !== 'leader');
  if (graceful) {
    roots.forEach((p) => signal(p, 'SIGTERM'));
    waitGoneSync(roots, 10_000);
  }
  // Killing a machine's leader (PID 1 of its PID namespace) kills every process of that machine.
  state.procs.forEach((p) => signal(p, 'SIGKILL'));
  // Processes that entered a light host's namespace later (exec(), a daemon started by a test).
  state.netns.forEach(killNetnsMembers);
  if (!waitGoneSync(state.procs, 5_000)) {
    problems.push(`processes still alive: ${state.procs.filter(isAlive).map((p) => p.pid).join(', ')}`);
  }
  for (const m of [...state.mounts].reverse()) {
    if (mountsUnder(m).length > 0) quiet('umount', ['--recursive', m]);
    if (mountsUnder(m).length > 0) quiet('umount', ['--recursive', '--lazy', m]);
  }
  for (const dir of state.cgroups ?? []) {
    if (!removeCgroupTree(dir)) problems.push(`cgroup ${dir} still in use`);
  }
  for (const ns of state.netns) quiet('ip', ['netns', 'delete', ns]);
  for (const veth of state.veths) {
    if (fs.existsSync(`/sys/class/net/${veth}`)) quiet('ip', ['link', 'delete', veth]);
  }
  if (state.bridge && fs.existsSync(`/sys/class/net/${state.bridge}`)) quiet('ip', ['link', 'delete', state.bridge]);
  // Never delete through a mount that is still there.
  const left = fs.existsSync(state.workdir) ? mountsUnder(state.workdir) : [];
  if (left.length > 0) problems.push(`still mounted, workdir kept: ${left.join(', ')}`);
  else fs.rmSync(state.workdir, { recursive: true, force: true });
  for (const ns of state.netns) if (fs.existsSync(`/run/netns/${ns}`)) problems.push(`netns ${ns} still present`);
  if (state.bridge && fs.existsSync(`/sys/class/net/${state.bridge}`)) problems.push(`bridge ${state.bridge} still present`);
  if (problems.length === 0) fs.rmSync(stateFile(state.id), { force: true });
  return problems;
}

/** The async teardown used by TestHosts.teardown(): same steps, without blocking the event loop while waiting. */
export async function teardown(state: RunState): Promise<string[]> {
  const roots = state.procs.filter((p) => p.role !== 'leader');
  roots.forEach((p) => signal(p, 'SIGTERM'));
  await waitGone(roots, 10_000);
  // What is left is quick and synchronous.
  const problems = teardownSync(state, false);
  // Let node reap its children so no zombie lingers in the process table.
  await sleep(0);
  return problems;
}

// ---- backstop: clean up on exit and on fatal signals -------------------------------------------

const live = new Map<string, RunState>();
let hooked = false;

function backstop(): void {
  for (const state of live.values()) {
    try {
      teardownSync(state, false);
    } catch {
      // Nothing more can be done while exiting.
    }
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  backstop();
  // Only restore the default behaviour (exit by the signal) if nobody else handles it.
  if (process.listenerCount(sig) === 1) {
    process.removeAllListeners(sig);
    process.kill(process.pid, sig);
  }
}

export function track(state: RunState): void {
  live.set(state.id, state);
  saveState(state);
  if (!hooked) {
    hooked = true;
    process.on('exit', backstop);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  }
}

export function untrack(state: RunState): void {
  live.delete(state.id);
}

export function ownerIdentity(): { pid: number; start: string } {
  return { pid: process.pid, start: procStart(process.pid) ?? '' };
}

/**
 * Tears down what runs killed without a chance to clean up left behind: state files whose owner
 * process is gone. Only the resources recorded in those files are touched.
 */
export function reapStale(): void {
  let files: string[];
  try {
    files = fs.readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const f of files) {
    let state: RunState;
    try {
      state = JSON.parse(fs.readFileSync(path.join(STATE_DIR, f), 'utf8')) as RunState;
    } catch {
      continue;
    }
    if (live.has(state.id) || isAlive(state.owner)) continue;
    teardownSync(state, false);
  }
}
