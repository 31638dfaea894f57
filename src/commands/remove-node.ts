/**
 * `kcore-wizard remove-node [DIR] NAME`: take a Kubernetes node out of the cluster for good.
 *  1. cordon, drain and delete its Node, with the admin kubeconfig on another master whose /readyz answers;
 *  2. stop and disable its units (the node's, and a master's control-plane units);
 *  3. vagrant providers: `vagrant destroy -f NAME`;
 *  4. remove it from kcore.yaml (and re-render the Vagrantfile and inventory), forget its ssh.config
 *     entry and its known_hosts entries.
 * Its certificates are archived by the PKI (pki/archive/<UTC time>/), as for every node the spec no longer has.
 * Which NAME may go: vagrant providers number a group's machines 01..N from groups.<group>.count, so only
 * the highest-numbered one; provider `existing` lists machines by name, so any. Never the last master or
 * the last worker (a group has 1 to 9 machines), never an etcd member (that is etcd scale-down: lower
 * groups.etcd.count and converge).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import SSHConfig from 'ssh-config';
import { type Role, task } from '../engine/task.js';
import { UsageError } from '../spec/errors.js';
import { hostName, plannedHosts } from '../spec/hosts.js';
import { loadSpec } from '../spec/load.js';
import { checkSpec, saveSpec } from '../spec/parse.js';
import type { ClusterSpec } from '../spec/schema.js';
import { unitsOf } from '../roles/index.js';
import { writeWorkspace } from '../render/workspace.js';
import { ensurePki } from '../pki/ensure.js';
import { pkiInput } from '../roles/pki/index.js';
import { forgetKnownHosts, sshConfigHosts } from '../vagrant/known-hosts.js';
import * as vagrant from '../vagrant/vagrant.js';
import { writeFileAtomic, pathExists } from '../util/fs.js';
import { outputFormat, type CommandContext, type CommandDef } from './args.js';
import { confirmAction } from './confirm.js';
import { nodeOpsRole, runFromFlags, runOptions } from './run-common.js';
import { resolveWorkspace } from './workspace.js';

const { tags: _tags, 'skip-tags': _skip, limit: _limit, ...options } = runOptions;

/** Why `name` cannot be removed from this spec (what to do instead), or null. Pure. */
export function removeNodeProblem(spec: ClusterSpec, name: string): string | null {
  const hosts = plannedHosts(spec);
  const h = hosts.find((x) => x.name === name);
  if (!h) return `remove-node ${name}: no such machine in kcore.yaml (machines: ${hosts.map((x) => x.name).join(', ')})`;
  if (h.group === 'etcd')
    return `remove-node ${name}: ${name} is an etcd member, not a Kubernetes node. To remove an etcd member, lower groups.etcd.count in kcore.yaml and run \`kcore-wizard converge\` (the member leaves the cluster before it stops; quorum is kept)`;
  const count = spec.groups[h.group].count;
  if (count <= 1)
    return `remove-node ${name}: it is the cluster's only ${h.group === 'kube-master' ? 'master' : 'worker'} (groups.${h.group}.count is 1, at least 1 is needed); add another one first (raise the count and run \`kcore-wizard up\`)`;
  if (spec.provider !== 'existing') {
    const last = hostName(h.group, count);
    if (name !== last)
      return `remove-node ${name}: with provider ${spec.provider} the ${h.group} machines are numbered 01 to ${String(count).padStart(2, '0')} by groups.${h.group}.count, so only the highest-numbered one can go: remove ${last} instead (drain ${name} by hand if it is the one that is broken, then remove ${last})`;
  }
  return null;
}

/** The spec without `name`: one machine fewer in its group (and, for `existing`, out of machines). Pure. */
export function specWithout(spec: ClusterSpec, name: string): ClusterSpec {
  const h = plannedHosts(spec).find((x) => x.name === name)!;
  const next: ClusterSpec = structuredClone(spec);
  next.groups[h.group].count -= 1;
  if (spec.provider === 'existing') next.machines = spec.machines.filter((m) => m.name !== name);
  return checkSpec(next).spec;
}

/** The ssh.config text without NAME's Host block (other blocks kept as they are). Pure. */
export function sshConfigWithout(text: string, name: string): string {
  const c = SSHConfig.parse(text);
  c.remove({ Host: name });
  return SSHConfig.stringify(c).replace(/\n{2,}$/, '\n');
}

/** Stops and disables `units` on the node itself. */
function stopUnitsRole(name: string, units: string[]): Role {
  return {
    name: 'remove-node',
    hosts: (run) => run.hosts.filter((h) => h.name === name),
    tasks: [
      task({
        name: `stop and disable ${units.join(', ')}`,
        async gather(ctx) {
          const r = await ctx.conn.exec(`for u in ${units.join(' ')}; do echo "$u $(systemctl is-enabled $u 2>/dev/null || true) $(systemctl is-active $u 2>/dev/null || true)"; done`, { signal: ctx.signal });
          return r.stdout
            .split('\n')
            .map((l) => l.trim().split(/\s+/))
            .filter((p) => p[0] && (p[1] === 'enabled' || p[2] === 'active' || p[2] === 'activating'))
            .map((p) => p[0]!);
        },
        plan: (_ctx, running) => running.map((u) => `stop and disable ${u}`),
        async apply(ctx, running) {
          await ctx.conn.run(`systemctl disable --now ${running.join(' ')}`, { sudo: true, signal: ctx.signal });
        },
      }),
    ],
  };
}

export const removeNodeCommand: CommandDef = {
  name: 'remove-node',
  summary: 'Remove a Kubernetes node: drain and delete its Node, stop its units, take it out of kcore.yaml (vagrant: destroy it).',
  usage: 'kcore-wizard remove-node [DIR] NAME [--yes]',
  details: [
    'Cordons and drains the node and deletes its Node object (admin kubeconfig, on another master whose /readyz',
    'answers), stops and disables its units, destroys its machine for vagrant providers (vagrant destroy -f NAME),',
    'removes it from kcore.yaml, forgets its ssh.config and known_hosts entries and archives its certificates in pki/archive/.',
    'Vagrant providers number machines 01..N per group, so only the highest-numbered one of a group can go;',
    'with provider existing, any. Never the last master or worker, never an etcd member (lower groups.etcd.count',
    'and run converge for that). After removing a master, run converge: the other nodes still list it.',
  ].join('\n'),
  options: {
    ...options,
    yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required off a terminal)' },
  },
  async run(ctx) {
    if (ctx.positionals.length === 0 || ctx.positionals.length > 2) throw new UsageError('remove-node needs the name of the node: kcore-wizard remove-node [DIR] NAME (e.g. remove-node kube-worker-03)');
    const name = ctx.positionals.at(-1)!;
    const wctx: CommandContext = { ...ctx, positionals: ctx.positionals.slice(0, -1) };
    const workspace = resolveWorkspace(wctx);
    const { spec } = await loadSpec(workspace);
    const bad = removeNodeProblem(spec, name);
    if (bad) throw new UsageError(bad);
    const host = plannedHosts(spec).find((h) => h.name === name)!;
    const next = specWithout(spec, name);
    const json = outputFormat(ctx.values) === 'json';
    const say = (message: string) => ctx.stdout.write(json ? `${JSON.stringify({ type: 'remove-node', message })}\n` : `\n== ${message}\n`);
    const machine = spec.provider !== 'existing';
    if (!(await confirmAction(wctx, 'remove-node', `drain ${name} and delete its Node, stop its units${machine ? `, destroy its machine (vagrant destroy -f ${name})` : ''} and remove it from kcore.yaml`))) {
      ctx.stderr.write('kcore-wizard: nothing removed\n');
      return 1;
    }
    const masters = plannedHosts(spec).filter((h) => h.group === 'kube-master' && h.name !== name).map((h) => h.name);
    say(`${name}: cordon, drain and delete its Node`);
    const drained = await runFromFlags(wctx, { roles: [nodeOpsRole(name, ['cordon', 'drain', 'delete'], { missingOk: true })], limit: masters });
    if (drained.summary.status !== 'ok') {
      say(`remove-node stopped: ${name} could not be drained and deleted (see above); kcore.yaml is unchanged, run the same command again once it is fixed`);
      return drained.summary.status === 'cancelled' ? 130 : 1;
    }
    const units = unitsOf(host.group);
    say(`${name}: stop and disable its units`);
    const stopped = await runFromFlags(wctx, { roles: [stopUnitsRole(name, units)], limit: [name] });
    if (stopped.summary.status !== 'ok') {
      say(`remove-node stopped: ${name}'s units could not be stopped (see above); its Node is deleted, kcore.yaml is unchanged: run the same command again once ${name} answers${machine ? '' : ', or stop them yourself and remove it from kcore.yaml'}`);
      return stopped.summary.status === 'cancelled' ? 130 : 1;
    }
    if (machine) {
      if (await pathExists(path.join(workspace, 'Vagrantfile'))) {
        say(`${name}: vagrant destroy -f ${name}`);
        await vagrant.destroy(workspace, { only: [name], env: ctx.env, signal: ctx.signal });
      } else say(`${name}: no Vagrantfile here, so no machine to destroy`);
    }
    await forgetNode(workspace, spec, name);
    await saveSpec(workspace, next);
    await writeWorkspace(workspace, next);
    // Its certificates go where the PKI puts every removed node's: moved into pki/archive/, never deleted.
    const pki = await ensurePki(workspace, pkiInput(next));
    const certs = pki.archived.length > 0 ? `its certificates are archived in pki/${pki.archiveDir}/` : 'no certificates of it were in pki/';
    say(`${name} removed: ${host.group === 'kube-master' ? 'groups.kube-master' : 'groups.kube-worker'}.count is ${next.groups[host.group].count}${spec.provider === 'existing' ? `, ${name} is out of machines` : ''}; its ssh.config and known_hosts entries are forgotten; ${certs}`);
    if (host.group === 'kube-master') say(`run \`kcore-wizard converge\`: the other nodes' API load balancer and the admin kubeconfig still name ${name}`);
    return 0;
  },
};

/** Forget a node's ssh.config block and known_hosts entries (its planned address, its name, what ssh.config said). */
export async function forgetNode(workspace: string, spec: ClusterSpec, name: string): Promise<number> {
  const host = plannedHosts(spec).find((h) => h.name === name)!;
  const forget: Array<{ host: string; port?: number }> = [{ host: host.sshAddress, port: host.sshPort }, { host: host.ip }, { host: name }];
  const file = path.join(workspace, vagrant.SSH_CONFIG_FILE);
  if (await pathExists(file)) {
    const text = await readFile(file, 'utf8');
    for (const h of sshConfigHosts(text).filter((x) => x.name === name)) if (h.hostName) forget.push({ host: h.hostName, port: h.port });
    const without = sshConfigWithout(text, name);
    if (without !== text) await writeFileAtomic(file, without, 0o600);
  }
  return forgetKnownHosts(path.join(workspace, 'known_hosts'), forget);
}
