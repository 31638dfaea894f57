/**
 * `kcore-wizard kubeconfig [DIR] [--healthy] [--merge [--use-context]]`: print the path of the cluster's
 * admin kubeconfig, or merge its cluster, user and context into your own kubeconfig ($KUBECONFIG's first
 * file, else ~/.kube/config). Only our own named entries are replaced; current-context changes only
 * with --use-context (or when the file did not exist). The write is atomic and the file mode 0600.
 * --healthy first asks every master's /readyz from this machine (TLS with the file's own CA and admin
 * certificate, in the spec's order) and makes the first that answers the workspace kubeconfig's
 * current context, so plain kubectl with `<workspace>/kubeconfig` keeps working while
 * master-01 is down.
 */
import { mkdir } from 'node:fs/promises';
import { InputFileError, readInputFile } from '../util/fs.js';
import { homedir } from 'node:os';
import path from 'node:path';
import { UsageError } from '../spec/errors.js';
import { loadSpec } from '../spec/load.js';
import YAML from 'yaml';
import { adminContexts, adminKubeconfigPath, writeSecretFile } from '../roles/kubectl/index.js';
import { clusterName, mergeKubeconfig, parseKubeconfig } from '../roles/kube-common/index.js';
import { hostsOf } from '../spec/hosts.js';
import type { ClusterSpec } from '../spec/schema.js';
import { chooseMaster, readyzFromHere, type MasterChoice, type MasterRef, type TlsClient } from '../health/api-master.js';
import { outputFormat, type CommandContext, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption, outputOption } from './workspace.js';

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

type Entry = { name: string; [k: string]: unknown };
const field = (list: unknown, name: string, key: string): Record<string, unknown> | undefined =>
  ((list as Entry[] | undefined) ?? []).find((e) => e.name === name)?.[key] as Record<string, unknown> | undefined;
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : '', 'base64');

/**
 * The admin kubeconfig's contexts, one per master in the spec's order: the master, its context, the
 * server and the TLS material the context uses (read from the file itself). Throws naming what is missing.
 */
export function masterContexts(text: string, spec: ClusterSpec, file: string): Array<{ master: MasterRef; context: string; tls: TlsClient }> {
  const doc = parseKubeconfig(text, file);
  const masters = hostsOf(spec, 'kube-master');
  return adminContexts(spec).map((name, i) => {
    const ctx = field(doc.contexts, name, 'context');
    if (!ctx) throw new Error(`${file} has no context ${name}: \`kcore-wizard converge --tags kubectl\` writes it`);
    const cluster = field(doc.clusters, String(ctx.cluster), 'cluster');
    const user = field(doc.users, String(ctx.user), 'user');
    if (!cluster?.server || !user) throw new Error(`${file}: context ${name} names a cluster or user the file does not have`);
    const m = masters[i]!;
    return {
      master: { name: m.name, ip: m.ip, server: String(cluster.server) },
      context: name,
      tls: { ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']) },
    };
  });
}

/** Make the context of the first master whose /readyz answers current in `text`; the choice and the new text. */
export async function switchToHealthy(text: string, spec: ClusterSpec, file: string, timeoutMs?: number): Promise<{ choice: MasterChoice; context: string | null; text: string; changed: boolean }> {
  const entries = masterContexts(text, spec, file);
  const choice = await chooseMaster(
    entries.map((e) => e.master),
    (m) => readyzFromHere(m.server, entries.find((e) => e.master.name === m.name)!.tls, timeoutMs),
  );
  if (!choice.chosen) return { choice, context: null, text, changed: false };
  const context = entries.find((e) => e.master.name === choice.chosen!.name)!.context;
  // The file as it is, in its own key order, with only current-context changed (converge writes the
  // same bytes when it keeps the choice, so it plans no change).
  const doc = YAML.parse(text) as Record<string, unknown>;
  if (doc['current-context'] === context) return { choice, context, text, changed: false };
  doc['current-context'] = context;
  return { choice, context, text: YAML.stringify(doc, { lineWidth: 0 }), changed: true };
}

export const kubeconfigCommand: CommandDef = {
  name: 'kubeconfig',
  summary: "Print the path of the cluster's admin kubeconfig, or merge it into your own kubeconfig.",
  usage: 'kcore-wizard kubeconfig [DIR] [--healthy] [--merge [--use-context]]',
  details: [
    'Without flags: prints the path, e.g. for `export KUBECONFIG=$(kcore-wizard kubeconfig)`.',
    "--healthy: asks every master's /readyz from this machine, in order, and makes the first that answers the",
    "workspace kubeconfig's current context (kcore-<name>, or kcore-<name>-kube-master-02 … while master-01 is down);",
    'exit 1 when none answers. converge keeps that choice.',
    "--merge: adds the cluster, user and context kcore-<name> to $KUBECONFIG's first file (or ~/.kube/config).",
    'Entries with other names are kept as they are; the current context stays unless --use-context.',
  ].join('\n'),
  options: {
    ...workspaceOptions,
    healthy: { type: 'boolean', description: "make the first master whose /readyz answers the workspace kubeconfig's current context" },
    merge: { type: 'boolean', description: "merge into your kubeconfig ($KUBECONFIG's first file, else ~/.kube/config)" },
    'use-context': { type: 'boolean', description: 'with --merge: also make kcore-<name> the current context' },
    output: outputOption,
    help: helpOption,
  },
  async run(ctx: CommandContext) {
    const workspace = resolveWorkspace(ctx);
    const { spec } = await loadSpec(workspace);
    const json = outputFormat(ctx.values) === 'json';
    const ours = adminKubeconfigPath(workspace);
    let text = await readOrNull(ours);
    if (text === null) throw new UsageError(`no kubeconfig in ${displayPath(ctx, workspace)} yet: \`kcore-wizard converge\` writes it once the cluster is up (or \`kcore-wizard converge --tags kubectl\`)`);
    if (ctx.values['use-context'] && !ctx.values.merge) throw new UsageError('--use-context goes with --merge');
    let current = clusterName(spec);
    let healthy: Record<string, unknown> | undefined;
    if (ctx.values.healthy) {
      let r;
      try {
        r = await switchToHealthy(text, spec, ours);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const passed = r.choice.passed.map((p) => `${p.name}: ${p.problem}`);
      if (!r.context) {
        if (json) ctx.stdout.write(JSON.stringify({ path: ours, context: null, master: null, passed: r.choice.passed }) + '\n');
        ctx.stderr.write(`kcore-wizard: no master's API server answers /readyz from this machine (${passed.join('; ')}); ${displayPath(ctx, ours)} not changed\n`);
        return 1;
      }
      if (r.changed) await writeSecretFile(ours, r.text);
      text = r.text;
      current = r.context;
      healthy = { master: r.choice.chosen!.name, server: r.choice.chosen!.server, passed: r.choice.passed, changed: r.changed };
      if (!json)
        ctx.stderr.write(
          `${r.changed ? 'current context now' : 'current context stays'} ${r.context}: ${r.choice.chosen!.name} (${r.choice.chosen!.server}) answers /readyz${passed.length ? `; passed over ${passed.join('; ')}` : ''}\n`,
        );
    }
    if (!ctx.values.merge) {
      ctx.stdout.write(json ? JSON.stringify({ path: ours, context: current, ...healthy }) + '\n' : `${ours}\n`);
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
      ctx.stdout.write(JSON.stringify({ path: target, context: current, added: merged.added, replaced: merged.replaced, currentContext: merged.currentContext ?? null, ...healthy }) + '\n');
      return 0;
    }
    const what = [merged.added.length ? `added ${merged.added.join(', ')}` : '', merged.replaced.length ? `replaced ${merged.replaced.join(', ')}` : ''].filter(Boolean).join('; ');
    ctx.stdout.write(`${displayPath(ctx, target)}: ${what}\n`);
    ctx.stdout.write(
      merged.currentContext === current
        ? `current context: ${current}\n`
        : `current context unchanged (${merged.currentContext ?? 'none'}); use it with: kubectl --context ${current} get nodes\n`,
    );
    return 0;
  },
};
