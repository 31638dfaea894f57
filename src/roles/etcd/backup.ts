/**
 * `kcore-wizard backup`: an etcd snapshot from a healthy member, over TLS with kcore-wizard's client
 * certificate, into `<workspace>/backups/etcd-<UTC time>.db` (0600). The member writes the snapshot to a
 * temp file of its own (etcdctl checks the snapshot's integrity hash as it saves), reports its hash,
 * revision and key count (`etcdutl snapshot status`, or etcdctl's on 3.4, which has no etcdutl) and
 * SHA-256; the copy on this machine must have the same SHA-256 before it is renamed into place. The
 * member's temp file is removed in every case, and one left by a backup that was killed is swept first.
 * Upstream: https://etcd.io/docs/v3.5/op-guide/recovery/ (snapshot save, snapshot status).
 */
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EventSink } from '../../engine/events.js';
import type { HostInfo } from '../../engine/task.js';
import { TaskFailure } from '../../engine/task.js';
import { hostsOf } from '../../spec/hosts.js';
import type { ClusterSpec } from '../../spec/schema.js';
import type { HostConnection } from '../../ssh/types.js';
import { shellQuote } from '../../ssh/quote.js';
import { writeFileAtomic } from '../../util/fs.js';
import { BIN_DIR, etcdctl } from './index.js';

export const BACKUP_DIR = 'backups';
/** Where a member writes the snapshot before it is copied off: beside nothing of etcd's, swept by name. */
export const REMOTE_SNAPSHOT_DIR = '/var/tmp';
const REMOTE_PREFIX = 'kcore-etcd-snapshot.';

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

export interface BackupResult {
  file: string;
  bytes: number;
  sha256: string;
  member: string;
  status: SnapshotStatus;
  /** Members asked before one answered healthy, with why each was passed over. */
  skipped: Array<{ member: string; why: string }>;
}

/** `etcd-2026-12-02T01-02-03Z.db`: sortable, no colons (they trouble scp and Windows shares). */
export function backupFileName(at: Date): string {
  return `etcd-${at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-')}.db`;
}

/** The status line etcdutl/etcdctl print with `-w json`; a clear failure when it is not one. */
export function parseSnapshotStatus(stdout: string): SnapshotStatus {
  const line = stdout.split('\n').find((l) => l.trim().startsWith('{'));
  let data: Partial<SnapshotStatus> | undefined;
  try {
    data = line ? (JSON.parse(line) as Partial<SnapshotStatus>) : undefined;
  } catch {
    data = undefined;
  }
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!data || !ok(data.hash) || !ok(data.revision) || !ok(data.totalKey) || !ok(data.totalSize))
    throw new TaskFailure(`the snapshot's status could not be read (got ${JSON.stringify(stdout.trim().slice(0, 200))})`, 'the snapshot may be damaged: take another backup');
  return { hash: data.hash, revision: data.revision, totalKey: data.totalKey, totalSize: data.totalSize };
}

/**
 * One round trip on the member: sweep snapshots a killed backup left, save a new one to a temp file,
 * print its status and SHA-256. The temp file stays for the copy (removed by `removeScript`).
 */
export function saveScript(ip: string, tmp: string): string {
  const status = `if [ -x ${BIN_DIR}/etcdutl ]; then ${BIN_DIR}/etcdutl snapshot status -w json ${shellQuote(tmp)}; else ETCDCTL_API=3 ${BIN_DIR}/etcdctl snapshot status -w json ${shellQuote(tmp)}; fi`;
  return [
    `find ${REMOTE_SNAPSHOT_DIR} -maxdepth 1 -name '${REMOTE_PREFIX}*' -type f -delete 2>/dev/null`,
    `umask 077`,
    `${etcdctl(ip, `snapshot save ${shellQuote(tmp)}`)} >/dev/null || { rm -f ${shellQuote(tmp)} ${shellQuote(`${tmp}.part`)}; exit 3; }`,
    `${status} || { rm -f ${shellQuote(tmp)}; exit 4; }`,
    `sha256sum ${shellQuote(tmp)} | cut -d' ' -f1`,
  ].join('\n');
}

export function removeScript(tmp: string): string {
  return `rm -f ${shellQuote(tmp)} ${shellQuote(`${tmp}.part`)}`;
}

export interface BackupOptions {
  workspace: string;
  spec: ClusterSpec;
  hosts: HostInfo[];
  connect(target: HostInfo['target'], signal: AbortSignal): Promise<HostConnection>;
  signal: AbortSignal;
  emit?: EventSink;
  now?: Date;
}

/** Take a snapshot from the first healthy member (spec order) and keep it in the workspace. */
export async function backupEtcd(opts: BackupOptions): Promise<BackupResult> {
  const members = hostsOf(opts.spec, 'etcd').map((p) => opts.hosts.find((h) => h.name === p.name)!);
  const skipped: BackupResult['skipped'] = [];
  const log = (message: string) => opts.emit?.({ type: 'log', at: Date.now(), level: 'info', message });
  for (const m of members) {
    opts.signal.throwIfAborted();
    let conn: HostConnection;
    try {
      conn = await opts.connect(m.target, opts.signal);
    } catch (e) {
      skipped.push({ member: m.name, why: `unreachable: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    const health = await conn.exec(etcdctl(m.ip, 'endpoint health', { quick: true }), { sudo: true, signal: opts.signal });
    if (health.exitCode !== 0) {
      skipped.push({ member: m.name, why: `not healthy: ${`${health.stdout}\n${health.stderr}`.trim().split('\n').pop()}` });
      continue;
    }
    log(`taking a snapshot from ${m.name}`);
    return await snapshotFrom(conn, m, opts, skipped);
  }
  throw new TaskFailure(
    `no etcd member could take a snapshot: ${skipped.map((s) => `${s.member} ${s.why}`).join('; ')}`,
    'start a member (sudo systemctl start etcd), then run kcore-wizard backup again; kcore-wizard test says what is wrong',
  );
}

async function snapshotFrom(conn: HostConnection, m: HostInfo, opts: BackupOptions, skipped: BackupResult['skipped']): Promise<BackupResult> {
  const tmp = `${REMOTE_SNAPSHOT_DIR}/${REMOTE_PREFIX}${process.pid}.${Date.now()}.db`;
  try {
    const saved = await conn.exec(saveScript(m.ip, tmp), { sudo: true, signal: opts.signal });
    if (saved.exitCode !== 0)
      throw new TaskFailure(
        `etcd on ${m.name} did not save a snapshot (exit ${saved.exitCode}): ${saved.stderr.trim().split('\n').pop() ?? ''}`,
        `free space in ${REMOTE_SNAPSHOT_DIR} on ${m.name}, then try again`,
      );
    const lines = saved.stdout.trim().split('\n');
    const remoteSha = lines.pop()!.trim();
    const status = parseSnapshotStatus(lines.join('\n'));
    const data = await conn.readFile(tmp, { sudo: true, signal: opts.signal });
    if (!data) throw new TaskFailure(`the snapshot on ${m.name} disappeared before it was copied (${tmp})`);
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (sha256 !== remoteSha) throw new TaskFailure(`the copy of the snapshot from ${m.name} has SHA-256 ${sha256}, the member's has ${remoteSha}: the copy is damaged`, 'run kcore-wizard backup again');
    const dir = path.join(opts.workspace, BACKUP_DIR);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, backupFileName(opts.now ?? new Date()));
    await writeFileAtomic(file, data, 0o600, { sync: true });
    return { file, bytes: (await stat(file)).size, sha256, member: m.name, status, skipped };
  } finally {
    // Removed however the backup ended (the signal may be aborted: this last command must still run).
    await conn.exec(removeScript(tmp), { sudo: true }).catch(() => undefined);
  }
}
