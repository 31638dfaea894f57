/**
 * converge / test / plan: load the workspace's hosts, open the SSH pool (workspace known_hosts, host
 * keys reported), run the roles, write a per-host command log, close everything.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterSpec, GroupName } from '../spec/schema.js';
import { UsageError } from '../spec/errors.js';
import { pkiPaths } from '../pki/paths.js';
import { SshPool } from '../ssh/pool.js';
import { ROLES } from '../roles/index.js';
import { createArtifactStore } from '../engine/artifacts.js';
import type { EventSink } from '../engine/events.js';
import { resolveHosts } from './inventory.js';
import { limitHosts, runRoles, type RunSummary } from '../engine/runner.js';
import type { Role, RunContext } from '../engine/task.js';

export const KNOWN_HOSTS_FILE = 'known_hosts';
export const LOG_DIR = path.join('.kcore', 'logs');

export interface ConvergeOptions {
  workspace: string;
  spec: ClusterSpec;
  tags?: string[];
  skipTags?: string[];
  limit?: string[];
  dryRun?: boolean;
  /** Overrides the spec's artifacts.source for this run. */
  artifacts?: string;
  acceptChangedHostKeys?: boolean | string[];
  /** Use this OpenSSH config instead of the workspace's ssh.config. */
  sshConfig?: string;
  roles?: Role[];
  maxHosts?: number;
  signal: AbortSignal;
  emit: EventSink;
}

export type { RunSummary };

/**
 * Appends every command run on a host to `<workspace>/.kcore/logs/<host>.log` (secrets already redacted), in
 * order per host. `flush()` settles once every line written so far is in its file.
 */
export function commandLog(workspace: string) {
  const dir = path.join(workspace, LOG_DIR);
  let ready: Promise<unknown> | undefined;
  const chains = new Map<string, Promise<void>>();
  const write = (host: string, line: string) => {
    ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
    const prev = chains.get(host) ?? Promise.resolve();
    const next = prev
      .then(() => ready)
      .then(() => appendFile(path.join(dir, `${host}.log`), line.endsWith('\n') ? line : `${line}\n`, { mode: 0o600 }))
      .catch(() => undefined);
    chains.set(host, next);
    return next;
  };
  return Object.assign(write, { flush: async () => void (await Promise.all(chains.values())) });
}

/**
 * The SSH pool of a workspace: its known_hosts, host keys told as events and logged, every command
 * written to the host's command log, which is whole once closeAll() returns. Every command that reaches the
 * hosts opens it this way.
 */
export function workspacePool(workspace: string, opts: { emit: EventSink; acceptChangedHostKeys?: boolean | string[]; maxHosts?: number }): SshPool {
  const log = commandLog(workspace);
  return new SshPool({
    knownHostsPath: path.join(workspace, KNOWN_HOSTS_FILE),
    acceptChangedHostKeys: opts.acceptChangedHostKeys,
    maxHosts: opts.maxHosts,
    onHostKey: (e) => {
      opts.emit({ type: 'host-key', at: Date.now(), host: e.host, kind: e.kind, fingerprint: e.fingerprint, keyType: e.keyType });
      void log(e.host, `${new Date().toISOString()} host key ${e.kind}: ${e.keyType} ${e.fingerprint}`);
    },
    onCommand: (host, c) => {
      void log(host, `${new Date().toISOString()} ${c.sudo ? '[sudo] ' : ''}exit=${c.exitCode ?? 'signal'} ${c.durationMs}ms: ${c.command.replace(/\n/g, '\n    ')}`);
    },
    // Whoever reads .kcore/logs after the run (a script, the benchmark, a test) sees every line.
    onClosed: log.flush,
  });
}

export async function runConverge(opts: ConvergeOptions): Promise<RunSummary> {
  const { workspace, spec, emit } = opts;
  const hosts = await resolveHosts(workspace, spec, { sshConfig: opts.sshConfig, limit: opts.limit });
  const { unknown } = limitHosts(hosts, opts.limit);
  if (unknown.length)
    throw new UsageError(`--limit ${unknown.join(',')}: no such host or group (hosts: ${hosts.map((h) => h.name).join(', ')}; groups: etcd, kube-master, kube-worker)`);
  const pool = workspacePool(workspace, { emit, acceptChangedHostKeys: opts.acceptChangedHostKeys, maxHosts: opts.maxHosts });
  const run: RunContext = {
    spec,
    workspace,
    hosts,
    pki: pkiPaths(workspace),
    artifacts: createArtifactStore(workspace, opts.artifacts ?? spec.artifacts.source),
    dryRun: !!opts.dryRun,
    signal: opts.signal,
    facts: new Map(),
    hostsOf: (g: GroupName) => hosts.filter((h) => h.group === g),
  };
  const roles = opts.roles ?? ROLES;
  try {
    // Every host's handshake starts now, in parallel, not when the first role that needs it comes; a failure
    // is reported by that role (the pool keeps it for it). Its first event (a host key) comes after a turn
    // of the event loop at least, so after runRoles' synchronous run-start.
    const selected = new Set(limitHosts(hosts, opts.limit).hosts.map((h) => h.name));
    const needed = new Map(roles.filter((r) => !r.local).flatMap((r) => r.hosts(run)).filter((h) => selected.has(h.name)).map((h) => [h.name, h.target]));
    pool.warm([...needed.values()], opts.signal);
    return await runRoles({
      roles,
      run,
      connector: pool,
      emit,
      tags: opts.tags,
      skipTags: opts.skipTags,
      limit: opts.limit,
      maxHosts: opts.maxHosts,
    });
  } finally {
    // The run is over: its results are in; the hosts' side of each close is not waited for (its command log is).
    await pool.closeAll({ linger: false });
  }
}
