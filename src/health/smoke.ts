/**
 * The last smoke-test results per host (tasks tagged `test`, from the last `test`, `converge` or
 * dashboard rerun that reached the host), kept in `<workspace>/.kcore/last-smoke.json`, and the tail of
 * a host's command log (`<workspace>/.kcore/logs/<host>.log`). Plain files, no React.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LOG_DIR } from '../converge/run.js';
import type { EngineEvent, TaskStatus } from '../engine/events.js';
import { writeFileAtomic } from '../util/fs.js';

export const LAST_SMOKE_FILE = path.join('.kcore', 'last-smoke.json');

export interface SmokeResult {
  task: string;
  role: string;
  status: TaskStatus;
  message?: string;
}

export interface HostSmoke {
  /** When the run that produced these results ended (ms since the epoch). */
  at: number;
  runId?: string;
  results: SmokeResult[];
}

export type SmokeMap = Record<string, HostSmoke>;

export const smokeCounts = (s: HostSmoke) => ({
  passed: s.results.filter((r) => r.status === 'ok').length,
  failed: s.results.filter((r) => r.status === 'failed' || r.status === 'unreachable').length,
  skipped: s.results.filter((r) => r.status === 'skipped').length,
});

/**
 * Collects the smoke results of one run from its events; `finish()` gives the hosts whose smoke tests
 * ran (a host whose run stopped before its smoke tests keeps its previous results).
 */
export function smokeCollector() {
  let runId: string | undefined;
  const byHost = new Map<string, SmokeResult[]>();
  return {
    add(e: EngineEvent): void {
      if (e.type === 'run-start') runId = e.runId;
      if (e.type !== 'task-end' || !e.tags.includes('test')) return;
      const list = byHost.get(e.host) ?? [];
      list.push({ task: e.task, role: e.role, status: e.status, message: e.message });
      byHost.set(e.host, list);
    },
    /** The results so far of one host (live view during a run). */
    of(host: string): SmokeResult[] | undefined {
      return byHost.get(host);
    },
    finish(at: number): SmokeMap {
      const out: SmokeMap = {};
      for (const [host, results] of byHost) out[host] = { at, runId, results };
      return out;
    },
  };
}

/** The smoke results of a finished run's events, per host. */
export function smokeFromEvents(events: EngineEvent[]): SmokeMap {
  const c = smokeCollector();
  let at = Date.now();
  for (const e of events) {
    c.add(e);
    if (e.type === 'run-end') at = e.at;
  }
  return c.finish(at);
}

export async function loadLastSmoke(workspace: string): Promise<SmokeMap> {
  try {
    const data = JSON.parse(await readFile(path.join(workspace, LAST_SMOKE_FILE), 'utf8')) as { hosts?: SmokeMap };
    return data && typeof data.hosts === 'object' && data.hosts ? data.hosts : {};
  } catch {
    return {};
  }
}

/** Merge a run's results into the file (hosts the run did not test keep theirs). Returns the merged map. */
export async function saveLastSmoke(workspace: string, update: SmokeMap): Promise<SmokeMap> {
  const merged = { ...(await loadLastSmoke(workspace)), ...update };
  const file = path.join(workspace, LAST_SMOKE_FILE);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify({ version: 1, hosts: merged }, null, 2)}\n`, 0o600);
  return merged;
}

/**
 * For `test` and `converge`: record the smoke results of a finished run (what the dashboard shows as
 * "last smoke"). Never throws: a read-only workspace must not fail the run.
 */
export async function recordSmokeResults(workspace: string, events: EngineEvent[]): Promise<void> {
  const update = smokeFromEvents(events);
  if (!Object.keys(update).length) return;
  try {
    await saveLastSmoke(workspace, update);
  } catch {
    /* the results are a convenience; the run's own output has them */
  }
}

/** One command of a host's log: when, sudo or not, exit status, duration and the command's first line. */
export interface LoggedCommand {
  at: string;
  text: string;
}

/** The last `n` commands run on a host by kcore-wizard (first line of each; host-key lines included). */
export async function readLastCommands(workspace: string, host: string, n = 10): Promise<LoggedCommand[]> {
  let text: string;
  try {
    text = await readFile(path.join(workspace, LOG_DIR, `${host}.log`), 'utf8');
  } catch {
    return [];
  }
  const out: LoggedCommand[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(line);
    if (m) out.push({ at: m[1]!, text: m[2]! });
  }
  return out.slice(-n);
}
