/** `kcore-wizard backup`: an etcd snapshot from a healthy member into the workspace's backups/ folder. */
import { workspacePool } from '../converge/run.js';
import { resolveHosts } from '../converge/inventory.js';
import { backupEtcd } from '../roles/etcd/backup.js';
import { loadSpec } from '../spec/load.js';
import { commandFailed } from './failure.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption, outputOption, sshConfigOption } from './workspace.js';

export const backupCommand: CommandDef = {
  name: 'backup',
  summary: "Take an etcd snapshot from a healthy member into the workspace's backups/ folder (0600), checked.",
  usage: 'kcore-wizard backup [DIR] [--output json]',
  details:
    'The first healthy member in spec order saves the snapshot over TLS; its hash, revision and key count\n' +
    'are read back (etcdutl snapshot status) and the copy here must have the SHA-256 the member reports.\n' +
    'Exit 0 with the path printed; 1 when no member could take one (each member says why).',
  options: {
    ...workspaceOptions,
    'ssh-config': sshConfigOption,
    output: outputOption,
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const json = outputFormat(ctx.values) === 'json';
    const { spec } = await loadSpec(workspace);
    const hosts = await resolveHosts(workspace, spec, { sshConfig: stringFlag(ctx.values, 'ssh-config') });
    const pool = workspacePool(workspace, { emit: () => undefined });
    try {
      const r = await backupEtcd({ workspace, spec, hosts, connect: (t, signal) => pool.connection(t, signal), signal: ctx.signal });
      if (json) ctx.stdout.write(JSON.stringify({ type: 'backup', ...r }) + '\n');
      else {
        for (const s of r.skipped) ctx.stdout.write(`skipped ${s.member}: ${s.why}\n`);
        ctx.stdout.write(
          `etcd snapshot from ${r.member}: revision ${r.status.revision}, ${r.status.totalKey} keys, ${formatBytes(r.bytes)}, sha256 ${r.sha256.slice(0, 16)}…\n` +
            `${displayPath(ctx, r.file)}\n`,
        );
      }
      return 0;
    } catch (e) {
      return commandFailed(ctx, json, 'backup', e);
    } finally {
      await pool.closeAll();
    }
  },
};

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
