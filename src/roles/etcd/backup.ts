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
import { waitFor } from '../../engine/ops.js';
import { BIN_DIR, ETCD_DATA, etcdctl } from './index.js';

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

/**
 * bbolt's meta page: a 16-byte page header, then the magic 0xED0CDAED (little-endian); an etcd snapshot
 * is a bbolt file (etcdctl appends its SHA-256). Checked before anything is stopped, so a wrong file
 * is refused while the cluster still runs. (go.etcd.io/bbolt db.go: `magic uint32 = 0xED0CDAED`.)
 */
export function looksLikeSnapshot(head: Buffer): boolean {
  return head.length >= 20 && head.readUInt32LE(16) === 0xed0cdaed;
}

export const REMOTE_RESTORE_FILE = `${REMOTE_SNAPSHOT_DIR}/kcore-etcd-restore.db`;

/**
 * On one stopped member: rebuild its data dir from the snapshot beside the live one, then swap them;
 * the old data dir is kept as `<data>.before-restore-<stamp>` (never deleted). One round trip.
 * Upstream: https://etcd.io/docs/v3.6/op-guide/recovery/#restoring-a-cluster (snapshot restore with
 * --name, --initial-cluster, --initial-cluster-token, --initial-advertise-peer-urls per member).
 */
export function restoreScript(opts: { name: string; ip: string; initialCluster: string; token: string; dataDir: string; stamp: string; file?: string }): string {
  const file = shellQuote(opts.file ?? REMOTE_RESTORE_FILE);
  const fresh = shellQuote(`${opts.dataDir}.restore-${opts.stamp}`);
  const kept = shellQuote(`${opts.dataDir}.before-restore-${opts.stamp}`);
  const data = shellQuote(opts.dataDir);
  const flags = `--name ${shellQuote(opts.name)} --initial-cluster ${shellQuote(opts.initialCluster)} --initial-cluster-token ${shellQuote(opts.token)} --initial-advertise-peer-urls ${shellQuote(`https://${opts.ip}:2380`)} --data-dir ${fresh}`;
  return [
    `set -e`,
    `rm -rf ${fresh}`,
    `if [ -x ${BIN_DIR}/etcdutl ]; then ${BIN_DIR}/etcdutl snapshot restore ${file} ${flags}; else ETCDCTL_API=3 ${BIN_DIR}/etcdctl snapshot restore ${file} ${flags}; fi`,
    `chown -R etcd:etcd ${fresh}`,
    `chmod 700 ${fresh}`,
    `if [ -e ${data} ]; then mv ${data} ${kept}; fi`,
    `mv ${fresh} ${data}`,
  ].join('\n');
}

export interface RestoreResult {
  members: string[];
  /** Where each member's previous data dir was kept. */
  kept: Record<string, string>;
  token: string;
  revision: number;
}

export interface RestoreOptions extends Omit<BackupOptions, 'now'> {
  /** The snapshot's content (already checked by looksLikeSnapshot). */
  snapshot: Buffer;
  now?: Date;
  /** How long each member may take to answer healthy after the start. Default 90 s. */
  healthTimeoutMs?: number;
}

/**
 * Restore the whole cluster from a snapshot: every member must be reachable; the snapshot is uploaded
 * and checked on each before anything stops; then every member stops, each data dir is rebuilt from the
 * snapshot with the spec's member list and a new cluster token (a new cluster id: a member that missed
 * the restore cannot rejoin with old data), every member starts, and each must answer healthy.
 */
export async function restoreEtcd(opts: RestoreOptions): Promise<RestoreResult> {
  const { signal } = opts;
  const members = hostsOf(opts.spec, 'etcd').map((p) => opts.hosts.find((h) => h.name === p.name)!);
  const log = (message: string) => opts.emit?.({ type: 'log', at: Date.now(), level: 'info', message });
  const at = opts.now ?? new Date();
  const stamp = backupFileName(at).replace(/^etcd-|\.db$/g, '');
  const token = `kcore-${opts.spec.name}-etcd-restore-${stamp}`;
  const initialCluster = members.map((m) => `${m.name}=https://${m.ip}:2380`).join(',');
  const conns = new Map<string, HostConnection>();
  const unreachable: string[] = [];
  await Promise.all(
    members.map(async (m) => {
      try {
        conns.set(m.name, await opts.connect(m.target, signal));
      } catch (e) {
        unreachable.push(`${m.name} (${(e as Error).message.split('\n')[0]})`);
      }
    }),
  );
  if (unreachable.length)
    throw new TaskFailure(`every etcd member must be reachable to restore; not reachable: ${unreachable.join(', ')}`, 'nothing was stopped or changed; bring the members up (kcore-wizard up), then restore again');
  const each = <T>(fn: (m: HostInfo, c: HostConnection) => Promise<T>) => Promise.all(members.map((m) => fn(m, conns.get(m.name)!)));
  try {
    log(`uploading the snapshot to ${members.map((m) => m.name).join(', ')}`);
    const statuses = await each(async (m, c) => {
      await c.upload({ path: REMOTE_RESTORE_FILE, content: opts.snapshot, mode: 0o600, owner: 'root', group: 'root', sudo: true }, { signal });
      const r = await c.exec(
        `if [ -x ${BIN_DIR}/etcdutl ]; then ${BIN_DIR}/etcdutl snapshot status -w json ${REMOTE_RESTORE_FILE}; else ETCDCTL_API=3 ${BIN_DIR}/etcdctl snapshot status -w json ${REMOTE_RESTORE_FILE}; fi`,
        { sudo: true, signal },
      );
      if (r.exitCode !== 0) throw new TaskFailure(`${m.name} cannot read the snapshot: ${r.stderr.trim().split('\n').pop() ?? ''}`, 'nothing was stopped or changed; is the file a complete etcd snapshot?');
      return parseSnapshotStatus(r.stdout);
    });
    signal.throwIfAborted();
    log(`stopping etcd on every member`);
    await each((m, c) => c.run('systemctl stop etcd', { sudo: true, signal }));
    const kept: Record<string, string> = {};
    for (const m of members) {
      log(`rebuilding the data dir of ${m.name}`);
      const r = await conns.get(m.name)!.exec(restoreScript({ name: m.name, ip: m.ip, initialCluster, token, dataDir: ETCD_DATA, stamp }), { sudo: true, signal });
      if (r.exitCode !== 0)
        throw new TaskFailure(
          `restoring the data dir of ${m.name} failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`}`,
          `etcd is stopped on every member; members restored so far keep their old data in ${ETCD_DATA}.before-restore-${stamp}; fix the cause and run restore again`,
        );
      kept[m.name] = `${ETCD_DATA}.before-restore-${stamp}`;
    }
    log(`starting etcd on every member`);
    await each((m, c) => c.run('systemctl start --no-block etcd', { sudo: true, signal }));
    await each((m, c) =>
      waitFor(
        `etcd on ${m.name}`,
        async () => {
          const r = await c.exec(etcdctl(m.ip, 'endpoint health', { quick: true }), { sudo: true, signal });
          return r.exitCode === 0 ? null : `${r.stdout}\n${r.stderr}`.trim().split('\n').pop() ?? `exit ${r.exitCode}`;
        },
        { timeoutMs: opts.healthTimeoutMs ?? 90_000, intervalMs: 1000, signal, hint: `see journalctl -u etcd on ${m.name}; its old data dir is ${kept[m.name]}` },
      ),
    );
    return { members: members.map((m) => m.name), kept, token, revision: statuses[0]!.revision };
  } finally {
    await Promise.all([...conns.values()].map((c) => c.exec(`rm -f ${REMOTE_RESTORE_FILE}`, { sudo: true }).catch(() => undefined)));
  }
}
