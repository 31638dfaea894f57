/**
 * Bookkeeping for the lxc end-to-end test: every container and the bridge are recorded by exact name
 * (in memory and in /run/kcore-wizard-e2e/<id>.json) before they exist, and teardown acts only on
 * those names. A later run cleans up after a run that was killed before its own teardown.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const E2E_STATE_DIR = '/run/kcore-wizard-e2e';

export interface E2eState {
  id: string;
  /** PID of the test process that owns the run. */
  owner: number;
  workspace: string;
  containers: string[];
  bridge: string;
}

function sh(file: string, args: string[], timeout = 120_000): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync(file, args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

export function saveE2eState(s: E2eState): void {
  fs.mkdirSync(E2E_STATE_DIR, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(E2E_STATE_DIR, `${s.id}.json`), JSON.stringify(s, null, 2), { mode: 0o600 });
}

export function lxcContainers(): string[] {
  return sh('lxc-ls', ['-1']).out.split(/\s+/).filter(Boolean);
}

export function linkExists(name: string): boolean {
  return sh('ip', ['link', 'show', 'dev', name]).ok;
}

/** What is still there of a run: containers (lxc-ls, /var/lib/lxc), the bridge, cgroups. */
export function leftovers(s: E2eState): string[] {
  const out: string[] = [];
  const live = new Set(lxcContainers());
  for (const c of s.containers) {
    if (live.has(c)) out.push(`container ${c}`);
    else if (fs.existsSync(path.join('/var/lib/lxc', c))) out.push(`container folder /var/lib/lxc/${c}`);
    for (const ctl of ['memory', 'cpu', 'pids', 'systemd', 'unified'])
      if (fs.existsSync(`/sys/fs/cgroup/${ctl}/lxc.payload.${c}`)) out.push(`cgroup ${ctl}/lxc.payload.${c}`);
  }
  if (linkExists(s.bridge)) out.push(`bridge ${s.bridge}`);
  return out;
}

/** Remove whatever of a run is left, by exact recorded names only. Returns what could not be removed. */
export function teardownE2e(s: E2eState): string[] {
  const live = new Set(lxcContainers());
  for (const c of s.containers) {
    if (live.has(c)) {
      sh('lxc-stop', ['-k', '-n', c], 60_000);
      sh('lxc-destroy', ['-n', c], 120_000);
    } else if (fs.existsSync(path.join('/var/lib/lxc', c))) {
      sh('lxc-destroy', ['-n', c], 120_000);
    }
  }
  if (linkExists(s.bridge)) sh('ip', ['link', 'del', 'dev', s.bridge]);
  const left = leftovers(s);
  if (left.length === 0) fs.rmSync(path.join(E2E_STATE_DIR, `${s.id}.json`), { force: true });
  return left;
}

/** Clean up after earlier runs whose owner process is gone. */
export function reapStaleE2eRuns(): void {
  let files: string[];
  try {
    files = fs.readdirSync(E2E_STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const f of files) {
    try {
      const s = JSON.parse(fs.readFileSync(path.join(E2E_STATE_DIR, f), 'utf8')) as E2eState;
      let alive = true;
      try {
        process.kill(s.owner, 0);
      } catch {
        alive = false;
      }
      if (!alive && teardownE2e(s).length === 0) {
        // The run's temporary folder (kcore-e2e-XXXX/cluster): vagrant state of machines now gone.
        const root = path.dirname(s.workspace);
        if (/\/kcore-e2e-[^/]+$/.test(root)) fs.rmSync(root, { recursive: true, force: true });
      }
    } catch {
      // unreadable record: leave it for a person to look at
    }
  }
}
