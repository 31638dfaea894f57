/**
 * `kcore-wizard explain [DIR] [ROLE|HOST|PATH] [--host H] [--files] [--output json]`: how the cluster is
 * put together and why, offline (the spec, the workspace PKI and the roles' own whys; no SSH). No
 * argument: the roles in run order; a role: its tasks and the ideas met there; a host: what runs there,
 * with --files every file converge writes on it; a path: that file on a host, annotated. Private keys and
 * tokens are never printed. The data is src/explain's, the same the wizard and the dashboard draw.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { explainHost, explainPath, explainRole, explainRoles, type FileExplanation, type HostExplanation, type RoleExplanation } from '../explain/index.js';
import { ROLE_NAMES } from '../roles/index.js';
import { UsageError } from '../spec/errors.js';
import { plannedHosts } from '../spec/hosts.js';
import { loadSpec, SPEC_FILE } from '../spec/load.js';
import { outputFormat, stringFlag, type CommandContext, type CommandDef } from './args.js';
import { resolveWorkspace, workspaceOptions, helpOption, outputOption } from './workspace.js';

const isWorkspace = (cwd: string, p: string) => {
  try {
    return statSync(path.join(path.resolve(cwd, p), SPEC_FILE)).isFile();
  } catch {
    return false;
  }
};

/** [DIR] [TARGET]: one argument is the workspace when it is a folder with a kcore.yaml, else the target. */
export function splitArgs(ctx: Pick<CommandContext, 'positionals' | 'values' | 'cwd'>): { dirArgs: string[]; target?: string } {
  const p = ctx.positionals;
  if (p.length > 2) throw new UsageError(`explain takes a workspace folder and one role, host or path at most, got ${p.length} arguments: ${p.map((x) => JSON.stringify(x)).join(' ')}`);
  if (p.length === 2) return { dirArgs: [p[0]!], target: p[1] };
  if (p.length === 1 && ctx.values.dir === undefined && ctx.values.config === undefined && !ROLE_NAMES.includes(p[0]!) && isWorkspace(ctx.cwd, p[0]!))
    return { dirArgs: [p[0]!] };
  return { dirArgs: [], target: p[0] };
}

const indent = (text: string, by: string) =>
  text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');

/** Wrap plain text to `width` columns (words are never split). */
export function wrap(text: string, width: number, by = ''): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && by.length + line.length + 1 + word.length > width) {
      out.push(by + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(by + line);
  return out.join('\n');
}

function roleText(r: RoleExplanation, width: number, n?: number): string {
  const lines = [`${n === undefined ? '' : `${n}. `}${r.name} (on ${r.hosts.join(', ') || 'no host of this spec'})`, wrap(r.why, width, '   ')];
  if (r.docs) lines.push(`   more: ${r.docs}`);
  lines.push('   tasks:');
  for (const t of r.tasks) lines.push(wrap(`- ${t.name}${t.tags.includes('test') ? ' [smoke test]' : ''}: ${t.why}`, width, '     ').replace(/^ {5}- /, '   - '));
  if (r.concepts.length) {
    lines.push('   ideas you meet here:');
    for (const c of r.concepts) {
      lines.push(wrap(`* ${c.name}: ${c.text}`, width, '     ').replace(/^ {5}\* /, '   * '));
      if (c.docs) lines.push(`     more: ${c.docs}`);
    }
  }
  return lines.join('\n');
}

function fileText(f: FileExplanation & { host?: string }, width: number): string {
  const lines = [`${f.path}  (${f.mode} ${f.owner}; ${f.role} / ${f.task}${f.host ? `; on ${f.host}` : ''})`, wrap(f.why, width, '  ')];
  if (f.servers?.length) lines.push(`  server: ${f.servers.join(', ')}`);
  if (f.note) lines.push(wrap(`(${f.note})`, width, '  '));
  if (f.content !== null) lines.push('  ┌────', indent(f.content.replace(/\n$/, ''), '  │ '), '  └────');
  return lines.join('\n');
}

function hostText(h: HostExplanation, width: number): string {
  const lines = [`${h.name} (${h.group}, ${h.ip})`, wrap(h.why, width, '  '), '', 'roles that configure it:'];
  for (const r of h.roles) lines.push(wrap(`- ${r.name}: ${r.why}`, width, '    ').replace(/^ {4}- /, '  - '));
  if (h.units.length) {
    lines.push('', 'services it runs:');
    for (const u of h.units) lines.push(wrap(`- ${u.unit} (${u.role}): ${u.why}`, width, '    ').replace(/^ {4}- /, '  - '));
  }
  if (h.checks.length) {
    lines.push('', 'checks (smoke tests and the dashboard), with the command each runs:');
    for (const c of h.checks) lines.push(wrap(`- ${c.name} (${c.role}): ${c.why}`, width, '    ').replace(/^ {4}- /, '  - '), indent(c.command, '      $ '));
  }
  if (h.files) {
    lines.push('', `files converge writes on ${h.name} (${h.files.length}), in the order it writes them:`);
    if (h.assumptions?.length) lines.push(wrap(`where a file depends on the machine, this assumes: ${h.assumptions.join('; ')}.`, width, '  '));
    for (const f of h.files) lines.push('', fileText(f, width));
  } else lines.push('', `every file it gets, with its content: kcore-wizard explain ${h.name} --files`);
  return lines.join('\n');
}

export const explainCommand: CommandDef = {
  name: 'explain',
  summary: 'Explain how the cluster is put together and why: roles, tasks, hosts and every file they get (offline, no SSH).',
  usage: 'kcore-wizard explain [DIR] [ROLE|HOST|PATH] [--host H] [--files] [--output json]',
  details: [
    'No argument: the roles in the order converge runs them, each with its why and its tasks.',
    'A role (etcd, kube-worker …): its tasks in order and the ideas you meet there.',
    'A host (kube-worker-01 …): what runs there and why; --files adds every file converge writes on it',
    '(path, mode, owner, role, task, why, content; --output json gives them as an array).',
    'A path (/etc/kubernetes/kubelet-config.yaml …): that file on --host (default: the first host that gets it).',
    'Private keys and tokens are never printed: their content is null, with a note saying where they are.',
  ].join('\n'),
  options: {
    ...workspaceOptions,
    host: { type: 'string', valueName: 'host', description: 'with a PATH: the host whose file to show' },
    files: { type: 'boolean', description: 'with a HOST: every file converge writes on it, with its content' },
    output: outputOption,
    help: helpOption,
  },
  async run(ctx) {
    const format = outputFormat(ctx.values);
    const { dirArgs, target } = splitArgs(ctx);
    const workspace = resolveWorkspace({ ...ctx, positionals: dirArgs });
    const { spec } = await loadSpec(workspace);
    const host = stringFlag(ctx.values, 'host');
    const files = ctx.values.files === true;
    const width = Math.max(60, Math.min(ctx.stdout.columns ?? 100, 120)) - 1;
    const write = (data: unknown, text: () => string) => ctx.stdout.write(format === 'json' ? JSON.stringify(data) + '\n' : text() + '\n');
    const hosts = plannedHosts(spec).map((h) => h.name);
    const isHost = target !== undefined && hosts.includes(target);
    const isPath = target?.startsWith('/') === true;
    if (host !== undefined && !isPath) throw new UsageError(`--host goes with a file path (kcore-wizard explain /etc/kubernetes/kubelet-config.yaml --host ${host}); to explain a host, name it: kcore-wizard explain ${host}`);
    if (host !== undefined && !hosts.includes(host)) throw new UsageError(`--host ${host}: there is no such host in this spec; the hosts are ${hosts.join(', ')}`);
    if (files && !isHost) throw new UsageError(`--files goes with a host: kcore-wizard explain ${hosts.find((h) => h.startsWith('kube-worker')) ?? hosts[0]} --files (the hosts are ${hosts.join(', ')})`);

    if (target === undefined) {
      const roles = explainRoles(spec);
      write(roles, () => ['The roles, in the order converge runs them (a barrier between each):', '', roles.map((r, i) => roleText(r, width, i + 1)).join('\n\n'), '', 'More on one: kcore-wizard explain ROLE | HOST | PATH'].join('\n'));
      return 0;
    }
    if (ROLE_NAMES.includes(target)) {
      const r = explainRole(spec, target);
      write(r, () => roleText(r, width));
      return 0;
    }
    if (isHost) {
      const h = await explainHost(spec, target, { workspace, files });
      // The JSON of --files is the array of files; what was assumed about the machine goes to stderr.
      if (files && format === 'json') for (const a of h.assumptions ?? []) ctx.stderr.write(`note: assumed ${a}\n`);
      write(files ? h.files : h, () => hostText(h, width));
      return 0;
    }
    if (isPath) {
      const f = await explainPath(spec, target, { workspace, host });
      write(f, () => fileText(f, width));
      return 0;
    }
    throw new UsageError(`there is no role or host ${JSON.stringify(target)}, and a file path starts with /: the roles are ${ROLE_NAMES.join(', ')}; the hosts are ${hosts.join(', ')}`);
  },
};
