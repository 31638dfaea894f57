/**
 * `kcore-wizard destroy`: the seed's `make clean`, done carefully.
 *  - `vagrant destroy -f` (provider existing: the machines are not ours, nothing is destroyed there);
 *  - the lxc provider's bridge, if kcore-wizard created it and no container is attached any more;
 *  - runtime files: ssh.config, and the destroyed machines' entries in `<ws>/known_hosts` (a new
 *    machine on the same address will have a new host key);
 *  - kept by default: kcore.yaml, pki/ (the CA and certificates are reused by the next `up`), logs.
 *  - `--purge` also removes pki/, .kcore/ (logs, run records, artifact cache), the generated
 *    Vagrantfile and inventory.ini, .vagrant/ and known_hosts. kcore.yaml is never removed: it is the
 *    user's own description of the cluster, not a generated file (delete it yourself if you mean to).
 * Asks on a terminal unless --yes; off a terminal without --yes it refuses (exit 2).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fanOut, type EngineEvent, type EventSink } from '../engine/events.js';
import { createJsonRenderer, createPlainRenderer } from '../output/plain.js';
import { confirmAction } from './confirm.js';
import { plannedHosts } from '../spec/hosts.js';
import { loadSpec } from '../spec/load.js';
import type { ClusterSpec } from '../spec/schema.js';
import { forgetKnownHosts, sshConfigHosts } from '../vagrant/known-hosts.js';
import { removeLxcBridge } from '../vagrant/lxc-bridge.js';
import * as vagrant from '../vagrant/vagrant.js';
import { outputFormat, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption, outputOption } from './workspace.js';
import { pathExists, readInputFile } from '../util/fs.js';

export const KNOWN_HOSTS = 'known_hosts';
/** Removed by --purge (relative to the workspace). kcore.yaml is deliberately not in this list. */
export const PURGE_PATHS = ['pki', '.kcore', 'Vagrantfile', 'inventory.ini', '.vagrant', KNOWN_HOSTS, 'kubeconfig', 'admin.kubeconfig'] as const;

export interface RunDestroyOptions {
  workspace: string;
  spec: ClusterSpec;
  emit: EventSink;
  signal: AbortSignal;
  purge?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface RunDestroyResult {
  ok: boolean;
  /** Machines vagrant destroyed (names), or none for provider existing. */
  machines: string[];
  bridge?: 'removed' | 'absent' | 'not-ours' | 'in-use';
  knownHostsRemoved: number;
  /** Workspace-relative paths removed. */
  removed: string[];
  message?: string;
  durationMs: number;
}


export async function runDestroy(opts: RunDestroyOptions): Promise<RunDestroyResult> {
  const { workspace, spec, emit, signal } = opts;
  const t0 = Date.now();
  const log = (message: string, level: 'info' | 'warn' | 'error' = 'info') => emit({ type: 'log', at: Date.now(), level, message });
  emit({ type: 'phase', at: Date.now(), phase: 'destroy', status: 'start' });
  const result: RunDestroyResult = { ok: false, machines: [], knownHostsRemoved: 0, removed: [], durationMs: 0 };
  const planned = plannedHosts(spec);
  try {
    // Addresses to forget, read before ssh.config goes: the planned IPs, and what ssh.config says.
    const forget: Array<{ host: string; port?: number }> = planned.flatMap((h) => [{ host: h.ip }, { host: h.name }]);
    const sshCfg = path.join(workspace, vagrant.SSH_CONFIG_FILE);
    try {
      for (const h of sshConfigHosts(await readInputFile(sshCfg, { what: 'ssh.config' }))) {
        forget.push({ host: h.name });
        if (h.hostName) forget.push({ host: h.hostName, port: h.port });
      }
    } catch {
      // no ssh.config (or not a readable file; never a blocking read of a FIFO): the planned addresses are enough
    }

    if (spec.provider === 'existing') {
      log('provider "existing": the machines are not kcore-wizard\'s to destroy; only local runtime files are removed');
    } else if (await pathExists(path.join(workspace, 'Vagrantfile'))) {
      const machines = planned.map((h) => h.name);
      const before = (await pathExists(path.join(workspace, '.vagrant')))
        ? await vagrant.status(workspace, { env: opts.env, signal }).catch(() => [])
        : [];
      const created = before.filter((m) => m.state !== 'not_created').map((m) => m.name);
      if (created.length) {
        await vagrant.destroy(workspace, { emit, signal, env: opts.env, machines, parallel: vagrant.providerIsParallel(spec.provider) });
        result.machines = created;
      } else log('no machine of this workspace exists');
    } else log('no Vagrantfile here: nothing for vagrant to destroy');

    if (spec.provider === 'lxc') {
      result.bridge = await removeLxcBridge(workspace, spec);
      if (result.bridge === 'in-use') log(`the bridge was kept: interfaces are still attached to it`, 'warn');
      else if (result.bridge === 'not-ours') log('the bridge was kept: kcore-wizard did not create it', 'warn');
    }

    result.knownHostsRemoved = await forgetKnownHosts(path.join(workspace, KNOWN_HOSTS), forget);
    if (await pathExists(sshCfg)) {
      await rm(sshCfg, { force: true });
      result.removed.push(vagrant.SSH_CONFIG_FILE);
    }
    if (opts.purge) {
      for (const p of PURGE_PATHS) {
        const abs = path.join(workspace, p);
        if (await pathExists(abs)) {
          await rm(abs, { recursive: true, force: true });
          result.removed.push(p);
        }
      }
    }
    result.ok = true;
    result.durationMs = Date.now() - t0;
    emit({
      type: 'phase',
      at: Date.now(),
      phase: 'destroy',
      status: 'end',
      message: `${result.machines.length} machines destroyed${result.removed.length ? `, removed ${result.removed.join(', ')}` : ''}${result.knownHostsRemoved ? `, ${result.knownHostsRemoved} known_hosts entries forgotten` : ''}`,
    });
    return result;
  } catch (e) {
    result.durationMs = Date.now() - t0;
    result.message = signal.aborted ? 'cancelled' : (e as Error).message;
    emit({ type: 'phase', at: Date.now(), phase: 'destroy', status: 'failed', message: result.message.split('\n')[0] });
    return result;
  }
}

export const destroyCommand: CommandDef = {
  name: 'destroy',
  summary: 'Destroy the machines (vagrant destroy) and forget them: ssh.config, known_hosts entries, the lxc bridge.',
  usage: 'kcore-wizard destroy [DIR] [--yes] [--purge] [--output json]',
  details: [
    'Keeps kcore.yaml, pki/ and the logs, so the next `up` reuses the same CA and certificates.',
    '--purge also removes pki/, .kcore/ (logs, artifact cache), Vagrantfile, inventory.ini, .vagrant/ and known_hosts.',
    'kcore.yaml is never removed: it is your description of the cluster, not a generated file.',
    'Asks for confirmation on a terminal; elsewhere --yes is required.',
  ].join('\n'),
  options: {
    ...workspaceOptions,
    yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required off a terminal)' },
    purge: { type: 'boolean', description: 'also remove pki/, logs and every generated file (never kcore.yaml)' },
    output: outputOption,
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const format = outputFormat(ctx.values);
    const { spec } = await loadSpec(workspace);
    const n = plannedHosts(spec).length;
    // No vagrant state and no ssh.config: vagrant has no machine of this workspace to destroy.
    const none = spec.provider !== 'existing' && !(await pathExists(path.join(workspace, '.vagrant'))) && !(await pathExists(path.join(workspace, vagrant.SSH_CONFIG_FILE)));
    const what = none
      ? `forget cluster "${spec.name}" in ${displayPath(ctx, workspace)} (no machine of it is up: no .vagrant/ nor ssh.config)${ctx.values.purge ? ', and purge pki/, logs and generated files' : ''}`
      : `${spec.provider === 'existing' ? 'forget' : 'destroy'} the ${n} machine${n === 1 ? '' : 's'} of cluster "${spec.name}" in ${displayPath(ctx, workspace)}${ctx.values.purge ? ', and purge pki/, logs and generated files' : ''}`;
    if (!(await confirmAction(ctx, 'destroy', what))) {
      ctx.stderr.write('kcore-wizard: nothing destroyed\n');
      return 1;
    }
    const write = (s: string) => void ctx.stdout.write(s);
    const events: EngineEvent[] = [];
    const renderer = format === 'json' ? createJsonRenderer(write) : createPlainRenderer(write);
    const r = await runDestroy({ workspace, spec, emit: fanOut(renderer, (e) => events.push(e)), signal: ctx.signal, purge: !!ctx.values.purge, env: ctx.env });
    if (format === 'json') write(JSON.stringify({ type: 'destroy-result', ...r }) + '\n');
    else if (r.ok)
      write(
        `\ndestroyed ${r.machines.length} machines in ${(r.durationMs / 1000).toFixed(1)} s${r.bridge === 'removed' ? ', removed the bridge' : ''}; ` +
          `kept ${ctx.values.purge ? 'kcore.yaml' : 'kcore.yaml, pki/ and logs'}\nnext: kcore-wizard up${workspace === ctx.cwd ? '' : ` ${displayPath(ctx, workspace)}`}   (a new cluster from the same spec)\n`,
      );
    else write(`\ndestroy failed: ${r.message}\n`);
    return r.ok ? 0 : ctx.signal.aborted ? 130 : 1;
  },
};
