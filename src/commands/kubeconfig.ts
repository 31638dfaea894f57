/**
 * `kcore-wizard kubeconfig [DIR] [--merge [--use-context]]`: print the path of the cluster's admin
 * kubeconfig, or merge its cluster, user and context into your own kubeconfig ($KUBECONFIG's first
 * file, else ~/.kube/config). Only our own named entries are replaced; current-context changes only
 * with --use-context (or when the file did not exist). The write is atomic and the file mode 0600.
 */
import { mkdir } from 'node:fs/promises';
import { InputFileError, readInputFile } from '../util/fs.js';
import { homedir } from 'node:os';
import path from 'node:path';
import { UsageError } from '../spec/errors.js';
import { loadSpec } from '../spec/load.js';
import { adminKubeconfigPath, writeSecretFile } from '../roles/kubectl/index.js';
import { clusterName, mergeKubeconfig } from '../roles/kube-common/index.js';
import { outputFormat, type CommandContext, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions } from './workspace.js';

/** The kubeconfig kubectl would use: $KUBECONFIG's first entry, else ~/.kube/config. */
export function userKubeconfigPath(env: NodeJS.ProcessEnv, cwd: string): string {
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((p) => p.trim() !== '');
  if (first) return path.resolve(cwd, first);
  return path.join(env.HOME || homedir(), '.kube', 'config');
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readInputFile(file, { what: 'a kubeconfig', maxBytes: 16 * 1024 * 1024 });
  } catch (e) {
    if (e instanceof InputFileError && e.code === 'ENOENT') return null;
    throw e;
  }
}

export const kubeconfigCommand: CommandDef = {
  name: 'kubeconfig',
  summary: "Print the path of the cluster's admin kubeconfig, or merge it into your own kubeconfig.",
  usage: 'kcore-wizard kubeconfig [DIR] [--merge [--use-context]]',
  details: [
    'Without flags: prints the path, e.g. for `export KUBECONFIG=$(kcore-wizard kubeconfig)`.',
    "--merge: adds the cluster, user and context kcore-<name> to $KUBECONFIG's first file (or ~/.kube/config).",
    'Entries with other names are kept as they are; the current context stays unless --use-context.',
  ].join('\n'),
  options: {
    ...workspaceOptions,
    merge: { type: 'boolean', description: "merge into your kubeconfig ($KUBECONFIG's first file, else ~/.kube/config)" },
    'use-context': { type: 'boolean', description: 'with --merge: also make kcore-<name> the current context' },
    output: { type: 'string', short: 'o', valueName: 'format', description: 'text (default) or json' },
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  },
  async run(ctx: CommandContext) {
    const workspace = resolveWorkspace(ctx);
    const { spec } = await loadSpec(workspace);
    const json = outputFormat(ctx.values) === 'json';
    const ours = adminKubeconfigPath(workspace);
    const text = await readOrNull(ours);
    if (text === null) throw new UsageError(`no kubeconfig in ${displayPath(ctx, workspace)} yet: \`kcore-wizard converge\` writes it once the cluster is up (or \`kcore-wizard converge --tags kubectl\`)`);
    if (ctx.values['use-context'] && !ctx.values.merge) throw new UsageError('--use-context goes with --merge');
    if (!ctx.values.merge) {
      ctx.stdout.write(json ? JSON.stringify({ path: ours, context: clusterName(spec) }) + '\n' : `${ours}\n`);
      return 0;
    }
    const target = userKubeconfigPath(ctx.env, ctx.cwd);
    const existing = await readOrNull(target);
    let merged;
    try {
      merged = mergeKubeconfig(existing, text, { useContext: !!ctx.values['use-context'], file: target });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}: not changed; fix it or point KUBECONFIG at another file`);
    }
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await writeSecretFile(target, merged.text);
    if (json) {
      ctx.stdout.write(JSON.stringify({ path: target, context: clusterName(spec), added: merged.added, replaced: merged.replaced, currentContext: merged.currentContext ?? null }) + '\n');
      return 0;
    }
    const what = [merged.added.length ? `added ${merged.added.join(', ')}` : '', merged.replaced.length ? `replaced ${merged.replaced.join(', ')}` : ''].filter(Boolean).join('; ');
    ctx.stdout.write(`${displayPath(ctx, target)}: ${what}\n`);
    ctx.stdout.write(
      merged.currentContext === clusterName(spec)
        ? `current context: ${clusterName(spec)}\n`
        : `current context unchanged (${merged.currentContext ?? 'none'}); use it with: kubectl --context ${clusterName(spec)} get nodes\n`,
    );
    return 0;
  },
};
