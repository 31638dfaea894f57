/** `kcore-wizard restore --from FILE`: the whole etcd cluster back to a snapshot taken by `backup`. */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { workspacePool } from '../converge/run.js';
import { resolveHosts } from '../converge/inventory.js';
import { looksLikeSnapshot, restoreEtcd } from '../roles/etcd/backup.js';
import { UsageError } from '../spec/errors.js';
import { hostsOf } from '../spec/hosts.js';
import { loadSpec } from '../spec/load.js';
import { commandFailed } from './failure.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { confirmAction } from './confirm.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption, outputOption, sshConfigOption } from './workspace.js';

export const restoreCommand: CommandDef = {
  name: 'restore',
  summary: 'Restore the whole etcd cluster from a snapshot (backups/etcd-….db); old data dirs are kept aside.',
  usage: 'kcore-wizard restore [DIR] --from FILE [--yes] [--output json]',
  details: [
    'Every member must be reachable. The snapshot is uploaded to every member and read back there before',
    'anything stops; then etcd stops on every member, each data dir is rebuilt from the snapshot with the',
    "spec's member list and a new cluster token, the old one kept as /var/lib/etcd.before-restore-<time>,",
    'and every member starts and must answer healthy. Writes made after the snapshot are gone.',
    'Asks for confirmation on a terminal; elsewhere --yes is required.',
  ].join('\n'),
  options: {
    ...workspaceOptions,
    from: { type: 'string', valueName: 'file', description: 'the snapshot to restore (from `kcore-wizard backup`)' },
    yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required off a terminal)' },
    'ssh-config': sshConfigOption,
    output: outputOption,
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const json = outputFormat(ctx.values) === 'json';
    const from = stringFlag(ctx.values, 'from');
    if (!from) throw new UsageError('restore needs --from FILE: the snapshot to restore (kcore-wizard backup writes them into backups/)');
    const file = path.resolve(ctx.cwd, from);
    const snapshot = await readSnapshot(file, from);
    const { spec } = await loadSpec(workspace);
    const hosts = await resolveHosts(workspace, spec, { sshConfig: stringFlag(ctx.values, 'ssh-config') });
    const members = hostsOf(spec, 'etcd').map((h) => h.name);
    const what = `restore etcd of cluster "${spec.name}" (${members.join(', ')}) from ${displayPath(ctx, file)}: every write made after that snapshot is lost`;
    if (!(await confirmAction(ctx, 'restore', what))) {
      ctx.stderr.write('kcore-wizard: nothing restored\n');
      return 1;
    }
    const pool = workspacePool(workspace, { emit: () => undefined });
    try {
      const r = await restoreEtcd({
        workspace,
        spec,
        hosts,
        snapshot,
        connect: (t, signal) => pool.connection(t, signal),
        signal: ctx.signal,
        emit: json ? undefined : (e) => void (e.type === 'log' && ctx.stdout.write(`${e.message}\n`)),
      });
      if (json) ctx.stdout.write(JSON.stringify({ type: 'restore', file, ...r }) + '\n');
      else
        ctx.stdout.write(
          `restored etcd on ${r.members.join(', ')} to revision ${r.revision}; every member healthy\n` +
            `old data dirs kept: ${Object.entries(r.kept).map(([m, d]) => `${m}:${d}`).join(', ')}\n` +
            'next: kcore-wizard test   (the smoke tests on the restored cluster)\n',
        );
      return 0;
    } catch (e) {
      return commandFailed(ctx, json, 'restore', e);
    } finally {
      await pool.closeAll();
    }
  },
};

/** The snapshot file, refused with a clear message (exit 2) when it is not a readable etcd snapshot. */
async function readSnapshot(file: string, given: string): Promise<Buffer> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `--from ${given}: no such file (${file})` : `--from ${given}: cannot be read (${code})`);
  }
  if (!st.isFile()) throw new UsageError(`--from ${given}: is not a regular file; give a snapshot file written by kcore-wizard backup`);
  let data: Buffer;
  try {
    const fh = await open(file, 'r');
    try {
      data = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new UsageError(`--from ${given}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!looksLikeSnapshot(data))
    throw new UsageError(`--from ${given}: is not an etcd snapshot (no bbolt database header); give a file written by kcore-wizard backup or etcdctl snapshot save`);
  return data;
}
