/** Flags and output shared by converge, test and plan: one engine run, rendered for where it runs. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadSpec } from '../spec/load.js';
import { plannedHosts } from '../spec/hosts.js';
import { UsageError } from '../spec/errors.js';
import { ROLES } from '../roles/index.js';
import type { Role, Task } from '../engine/task.js';
import { runConverge, type RunSummary } from '../converge/run.js';
import { fanOut, type EngineEvent, type EventSink } from '../engine/events.js';
import { createJsonRenderer, createPlainRenderer } from '../output/plain.js';
import { outputFormat, stringFlag, type CommandContext, type OptionSpec } from './args.js';
import { workspaceOptions, resolveWorkspace } from './workspace.js';
import { recordSmokeResults } from '../health/smoke.js';

export const runOptions: Record<string, OptionSpec> = {
  ...workspaceOptions,
  tags: { type: 'string', valueName: 'tags', description: 'only tasks with these tags or roles (comma-separated), e.g. etcd,test' },
  'skip-tags': { type: 'string', valueName: 'tags', description: 'skip tasks with these tags or roles' },
  limit: { type: 'string', short: 'l', valueName: 'hosts', description: 'only these hosts or groups (comma-separated), e.g. etcd-02 or kube-worker' },
  artifacts: { type: 'string', valueName: 'folder|url', description: "artifact source for this run (overrides the spec's artifacts.source)" },
  'ssh-config': { type: 'string', valueName: 'file', description: "OpenSSH config to reach the hosts (default: the workspace's ssh.config)" },
  'accept-changed-host-keys': { type: 'string', valueName: 'hosts', description: 'accept a CHANGED host key for these hosts (comma-separated, or "all"); only after you checked why it changed' },
  output: { type: 'string', short: 'o', valueName: 'format', description: 'text (default) or json (one event per line)' },
  quiet: { type: 'boolean', short: 'q', description: 'text output: only changed, failed and skipped tasks' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export interface EngineRun {
  summary: RunSummary;
  events: EngineEvent[];
  workspace: string;
}

export async function runFromFlags(ctx: CommandContext, mode: { dryRun?: boolean; tags?: string[]; /** hosts of a role at a time (1: rolling) */ maxHosts?: number; /** instead of --limit */ limit?: string[] }): Promise<EngineRun> {
  const workspace = resolveWorkspace(ctx);
  const tags = mode.tags ?? list(stringFlag(ctx.values, 'tags'));
  const skipTags = list(stringFlag(ctx.values, 'skip-tags'));
  if (!mode.tags) checkTags('--tags', tags);
  checkTags('--skip-tags', skipTags);
  const artifacts = await artifactsFlag(ctx);
  const { spec, warnings } = await loadSpec(workspace);
  const format = outputFormat(ctx.values);
  const write = (s: string) => void ctx.stdout.write(s);
  const events: EngineEvent[] = [];
  const renderer: EventSink = format === 'json' ? createJsonRenderer(write) : createPlainRenderer(write, { verbose: !ctx.values.quiet });
  if (format === 'text') for (const w of warnings) ctx.stderr.write(`warning: ${w.field}: ${w.message}\n`);
  const accept = stringFlag(ctx.values, 'accept-changed-host-keys');
  const summary = await runConverge({
    workspace,
    spec,
    tags,
    skipTags,
    limit: mode.limit ?? list(stringFlag(ctx.values, 'limit')),
    dryRun: mode.dryRun,
    maxHosts: mode.maxHosts,
    artifacts,
    sshConfig: stringFlag(ctx.values, 'ssh-config'),
    acceptChangedHostKeys: accept === 'all' ? true : list(accept),
    signal: ctx.signal,
    emit: fanOut(renderer, (e) => events.push(e)),
  });
  // The dashboard shows each host's last smoke results, whichever command ran them.
  await recordSmokeResults(workspace, events);
  return { summary, events, workspace };
}

/** Exit code of a run: 0 ok, 1 a host failed, 130 cancelled. */
export function exitCode(s: RunSummary): number {
  return s.status === 'ok' ? 0 : s.status === 'cancelled' ? 130 : 1;
}

/** Every tag a task carries, and every role name: what --tags and --skip-tags may name. */
export function knownTags(roles: Role[] = ROLES): string[] {
  const out = new Set<string>();
  for (const r of roles) {
    out.add(r.name);
    for (const t of r.tasks as Task[]) for (const tag of t.tags ?? []) out.add(tag);
  }
  return [...out];
}

/** An unknown tag would silently select nothing (or skip nothing), as --limit already refuses. */
function checkTags(flag: string, given: string[] | undefined): void {
  if (!given) return;
  const known = knownTags();
  const unknown = given.filter((t) => !known.includes(t));
  if (unknown.length === 0) return;
  const near = known.filter((k) => unknown.some((u) => k.startsWith(u) || u.startsWith(k) || (Math.abs(k.length - u.length) <= 1 && [...k].filter((c, i) => u[i] !== c).length <= 1)));
  throw new UsageError(
    `${flag} ${unknown.join(',')}: no such tag or role${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}; known: ${known.join(', ')}`,
  );
}

/** `--artifacts`: official, an http(s) URL, or a local folder that must exist now (resolved from where the user is). */
export async function artifactsFlag(ctx: CommandContext): Promise<string | undefined> {
  const v = stringFlag(ctx.values, 'artifacts');
  if (v === undefined || v === 'official' || /^https?:\/\//.test(v)) return v;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new UsageError(`--artifacts ${v}: only http:// and https:// mirrors, "official" or a local folder`);
  const dir = path.resolve(ctx.cwd, v);
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new UsageError(`--artifacts ${v}: no such folder (${dir}); give a folder holding the release files and SHA256SUMS, an http(s) mirror URL, or "official"`);
  }
  if (!st.isDirectory()) throw new UsageError(`--artifacts ${v}: is a file, not a folder; give the folder that holds it and SHA256SUMS`);
  return dir;
}

/**
 * A rolling converge: one host at a time, etcd members first, then masters, then workers (spec order;
 * --limit narrows it), each its own run whose roles verify the host healthy and whose smoke tests pass
 * before the next host starts. Stops at the first host that does not come back healthy, says which
 * and why, and leaves the rest untouched. Returns the exit code.
 */
export async function rollingConverge(ctx: CommandContext, opts: { tags?: string[]; what: string }): Promise<number> {
  const workspace = resolveWorkspace(ctx);
  const { spec } = await loadSpec(workspace);
  const limit = list(stringFlag(ctx.values, 'limit'));
  const order = plannedHosts(spec).filter((h) => !limit || limit.includes(h.name) || limit.includes(h.group));
  if (limit) {
    const unknown = limit.filter((l) => !plannedHosts(spec).some((h) => h.name === l || h.group === l));
    if (unknown.length) throw new UsageError(`--limit ${unknown.join(',')}: no such host or group (hosts: ${plannedHosts(spec).map((h) => h.name).join(', ')}; groups: etcd, kube-master, kube-worker)`);
  }
  const json = outputFormat(ctx.values) === 'json';
  const say = (message: string) => ctx.stdout.write(json ? `${JSON.stringify({ type: 'rolling', message })}\n` : `\n== ${message}\n`);
  for (const [i, h] of order.entries()) {
    if (ctx.signal.aborted) return 130;
    say(`${opts.what}: ${h.name} (${i + 1} of ${order.length})`);
    const { summary } = await runFromFlags(ctx, { limit: [h.name], tags: opts.tags });
    if (summary.status !== 'ok') {
      const rest = order.slice(i + 1).map((x) => x.name);
      say(`${opts.what} stopped at ${h.name}: it did not come back healthy (see above)${rest.length ? `; untouched: ${rest.join(', ')}` : ''}`);
      return exitCode(summary);
    }
  }
  say(`${opts.what}: done on ${order.map((h) => h.name).join(', ')}`);
  return 0;
}
