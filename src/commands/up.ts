/**
 * `kcore-wizard up`: the whole way from kcore.yaml to a converged cluster, as the seed's `make up`:
 *   render (Vagrantfile, inventory) → preflight → `vagrant up --no-provision` → `vagrant ssh-config`
 *   → converge (every role, each followed by its smoke tests) → summary.
 * Each step is idempotent: on a running cluster vagrant leaves the machines alone and converge
 * changes nothing; after `vagrant halt`, up starts them again and converges. Provider `existing`
 * skips vagrant and converges the machines listed in the spec.
 *
 * `runUp` is the reusable core (the wizard calls it); `upCommand` adds flags, confirmation and output.
 */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { runConverge, type RunSummary } from '../converge/run.js';
import { fanOut, type EngineEvent, type EventSink, type Phase } from '../engine/events.js';
import { prefetchPkiKeys } from '../pki/ensure.js';
import { pkiInput } from '../roles/pki/index.js';
import { recordSmokeResults } from '../health/smoke.js';
import { createJsonRenderer, createPlainRenderer } from '../output/plain.js';
import { writeWorkspace } from '../render/workspace.js';
import { UsageError } from '../spec/errors.js';
import { plannedHosts, totals } from '../spec/hosts.js';
import { loadSpec } from '../spec/load.js';
import type { ClusterSpec } from '../spec/schema.js';
import { PROVIDERS } from '../spec/names.js';
import { addFlatcarBox } from '../vagrant/box.js';
import { ensureLxcBridge } from '../vagrant/lxc-bridge.js';
import type { MachineStatus } from '../vagrant/parse.js';
import { formatPreflight, runPreflight, type PreflightCheck, type PreflightProbes } from '../vagrant/preflight.js';
import * as vagrant from '../vagrant/vagrant.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { artifactsFlag } from './run-common.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption } from './workspace.js';
import { pathExists } from '../util/fs.js';

export interface RunUpOptions {
  workspace: string;
  spec: ClusterSpec;
  emit: EventSink;
  signal: AbortSignal;
  /** Accepted for the wizard's and the CLI's symmetry: up itself never asks anything. */
  yes?: boolean;
  /** Artifact source for this run (overrides spec.artifacts.source). */
  artifacts?: string;
  acceptChangedHostKeys?: boolean | string[];
  /** Stop after ssh.config: machines only, no configuration (the seed's `make vagrant`). */
  machinesOnly?: boolean;
  /** Environment for vagrant (e.g. VAGRANT_HOME). */
  env?: NodeJS.ProcessEnv;
  /** Injected probes for preflight (tests). */
  probes?: PreflightProbes;
  /**
   * Asked once preflight has passed and before any machine is created or started (the CLI's
   * "Create … machines? [y/N]"): false stops up with status `declined`, nothing created.
   */
  confirm?: (checks: PreflightCheck[]) => Promise<boolean>;
}

export interface UpHost {
  name: string;
  group: string;
  ip: string;
  state: string;
}

export interface RunUpResult {
  ok: boolean;
  status: 'ok' | 'failed' | 'cancelled' | 'preflight-failed' | 'declined';
  /** Why it did not finish, in words a person can act on. */
  message?: string;
  preflight: PreflightCheck[];
  hosts: UpHost[];
  /** The engine's run summary (absent when up stopped before converge, or with machinesOnly). */
  summary?: RunSummary;
  /** The admin kubeconfig, once the Kubernetes roles have written it. */
  kubeconfig?: string;
  sshConfig?: string;
  /** Milliseconds per phase. */
  timings: Partial<Record<Phase, number>>;
}

const KUBECONFIG_CANDIDATES = ['kubeconfig', 'admin.kubeconfig', path.join('pki', 'admin.kubeconfig')];


export async function runUp(opts: RunUpOptions): Promise<RunUpResult> {
  const { workspace, spec, signal } = opts;
  const emit = opts.emit;
  const timings: RunUpResult['timings'] = {};
  const planned = plannedHosts(spec);
  const hosts: UpHost[] = planned.map((h) => ({ name: h.name, group: h.group, ip: h.ip, state: 'unknown' }));
  const result: RunUpResult = { ok: false, status: 'failed', preflight: [], hosts, timings };
  const phaseEvent = (phase: Phase, status: 'start' | 'end' | 'failed' | 'skipped', message?: string) =>
    emit({ type: 'phase', at: Date.now(), phase, status, ...(message ? { message } : {}) });
  const log = (message: string, level: 'info' | 'warn' | 'error' = 'info') => emit({ type: 'log', at: Date.now(), level, message });

  /** Run one phase: timing, start/end/failed events, cancellation. */
  async function phase<T>(name: Phase, fn: () => Promise<T>, endMessage?: (v: T) => string | undefined): Promise<T> {
    const t0 = performance.now();
    phaseEvent(name, 'start');
    try {
      const v = await fn();
      timings[name] = Math.round(performance.now() - t0);
      phaseEvent(name, 'end', endMessage?.(v));
      return v;
    } catch (e) {
      timings[name] = Math.round(performance.now() - t0);
      phaseEvent(name, 'failed', signal.aborted ? 'cancelled' : (e as Error).message.split('\n')[0]);
      throw e;
    }
  }
  const cancelled = (): RunUpResult => ({ ...result, ok: false, status: 'cancelled', message: 'cancelled' });

  try {
    // 1. render
    const files = await phase('render', () => writeWorkspace(workspace, spec), (r) => {
      const changed = r.filter((f) => f.changed).map((f) => f.path);
      return changed.length ? `wrote ${changed.join(', ')}` : 'files unchanged';
    });
    void files;

    // 2. preflight
    const checks = await phase('preflight', () => runPreflight(spec, { workspace, probes: opts.probes, env: opts.env }), (c) => `${c.filter((x) => x.ok).length}/${c.length} checks passed`);
    result.preflight = checks;
    for (const c of checks) {
      if (!c.ok) log(`${c.check}: ${c.detail}${c.fix ? `\n  fix: ${c.fix}` : ''}`, 'error');
      else if (c.warning) log(`${c.check}: ${c.detail}`, 'warn');
    }
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      return { ...result, status: 'preflight-failed', message: `preflight failed: ${failed.map((c) => `${c.check}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`).join('; ')}` };
    }
    if (signal.aborted) return cancelled();
    if (opts.confirm && !(await opts.confirm(checks))) return { ...result, status: 'declined', message: 'nothing done: no machine was created or started' };
    if (signal.aborted) return cancelled();

    // 3. machines
    if (spec.provider === 'existing') {
      phaseEvent('vagrant-up', 'skipped', 'provider existing: the machines listed in kcore.yaml are used as they are');
      phaseEvent('ssh-config', 'skipped');
      for (const h of hosts) h.state = 'existing';
    } else {
      const provider = spec.provider;
      const vopts = { emit, signal, env: opts.env, machines: planned.map((h) => h.name) };
      // The keys of what the cluster's PKI lacks are made meanwhile (on a first up: every CA, certificate and the
      // service-account key, seconds of prime searches on two cores), so that converge's pki role, later in this
      // process, issues with ready keys. Its own run decides and reports what it issues, as without this.
      if (!opts.machinesOnly) prefetchPkiKeys(workspace, pkiInput(spec)).catch(() => undefined);
      await phase(
        'vagrant-up',
        async () => {
          if (provider === 'lxc') {
            const b = await ensureLxcBridge(workspace, spec);
            log(`${b.created ? 'created' : 'using'} the private network bridge ${b.name} (${spec.network.prefix}.254/24, no NAT, no route out)`);
          } else if (spec.box.url && !(await vagrant.boxList({ env: opts.env })).some((b) => b.name === spec.box.name && b.provider === provider)) {
            await addFlatcarBox({ name: spec.box.name, url: spec.box.url, provider, emit, signal, env: opts.env });
          }
          const before = await vagrant.status(workspace, vopts);
          const running = before.filter((m) => m.state === 'running').map((m) => m.name);
          if (running.length === planned.length) {
            // Nothing for vagrant to do: `vagrant up` would only confirm it, at several seconds a machine.
            log(`all ${running.length} machines already running`);
            setStates(hosts, before);
            return { created: 0 };
          }
          if (running.length) log(`${running.length} of ${planned.length} machines already running`);
          await vagrant.up(workspace, { ...vopts, provider });
          const after = await vagrant.status(workspace, vopts);
          setStates(hosts, after);
          const notUp = after.filter((m) => m.state !== 'running' && planned.some((h) => h.name === m.name));
          if (notUp.length) throw new Error(`vagrant up finished but ${notUp.map((m) => `${m.name} is ${m.state}`).join(', ')}`);
          return { created: planned.length - running.length };
        },
        (r) => (r.created ? `${r.created} machines started` : 'all machines were already running'),
      );
      if (signal.aborted) return cancelled();
      const cfg = await phase('ssh-config', () => vagrant.sshConfig(workspace, { signal, env: opts.env }), (r) => `${path.basename(r.file)} ${r.changed ? 'written' : 'unchanged'}`);
      result.sshConfig = cfg.file;
    }
    if (signal.aborted) return cancelled();

    // 4. converge (every role with its smoke tests)
    if (opts.machinesOnly) {
      phaseEvent('converge', 'skipped', 'machines only (--machines-only)');
      phaseEvent('summary', 'end');
      return { ...result, ok: true, status: 'ok' };
    }
    const convergeEvents: EngineEvent[] = [];
    const summary = await phase(
      'converge',
      () =>
        runConverge({
          workspace,
          spec,
          artifacts: opts.artifacts,
          acceptChangedHostKeys: opts.acceptChangedHostKeys,
          signal,
          emit: fanOut(emit, (e) => convergeEvents.push(e)),
        }),
      (s) => `${s.status}, ${s.changed} changed${s.failedHosts.length ? `, failed on ${s.failedHosts.join(', ')}` : ''}`,
    );
    // The dashboard shows each host's last smoke results: up and the wizard record them as converge does.
    await recordSmokeResults(workspace, convergeEvents);
    result.summary = summary;
    for (const c of KUBECONFIG_CANDIDATES) if (await pathExists(path.join(workspace, c))) result.kubeconfig = path.join(workspace, c);
    phaseEvent('summary', 'end', `${summary.status}: ${summary.changed} changed`);
    if (summary.status === 'cancelled') return { ...cancelled(), summary };
    if (summary.status === 'failed') return { ...result, status: 'failed', message: `converge failed on ${summary.failedHosts.join(', ')}` };
    return { ...result, ok: true, status: 'ok' };
  } catch (e) {
    if (signal.aborted) return cancelled();
    if (e instanceof UsageError) throw e;
    return { ...result, ok: false, status: 'failed', message: (e as Error).message };
  }
}

function setStates(hosts: UpHost[], statuses: MachineStatus[]) {
  for (const h of hosts) h.state = statuses.find((s) => s.name === h.name)?.state ?? 'unknown';
}

/** The summary a person reads at the end of `up`. */
export function formatUpSummary(r: RunUpResult, spec: ClusterSpec, workspace: string, show: (p: string) => string = (p) => p): string {
  const lines: string[] = [''];
  const conv = r.summary;
  const head =
    r.status === 'ok'
      ? `cluster "${spec.name}" is up: ${r.hosts.length} machines (${spec.provider})${conv ? `, converged, ${conv.changed} changed` : ', not configured (--machines-only)'}`
      : r.status === 'cancelled'
        ? `up was cancelled; run it again to continue where it stopped`
        : r.status === 'preflight-failed'
          ? `this machine cannot create the cluster yet: ${r.preflight.filter((c) => !c.ok).length} of ${r.preflight.length} preflight checks failed (${r.preflight.filter((c) => !c.ok).map((c) => c.check).join(', ')}, each with its fix above); run up again once they are fixed`
          : r.status === 'declined'
            ? 'nothing done: no machine was created or started'
            : `up failed: ${r.message ?? 'see above'}`;
  lines.push(head);
  // A failed preflight's checks were printed once, as they were found (the error lines above).
  if (r.status !== 'preflight-failed' && r.status !== 'declined') {
    const w = Math.max(...r.hosts.map((h) => h.name.length));
    for (const h of r.hosts) {
      const rec = conv?.recap[h.name];
      const state = rec ? `${rec.state} (changed ${rec.changed}, failed ${rec.failed})` : h.state;
      lines.push(`  ${h.name.padEnd(w)}  ${h.ip.padEnd(15)}  ${h.group.padEnd(11)}  ${state}`);
    }
    if (r.kubeconfig && r.status === 'ok') lines.push(`kubeconfig: ${show(r.kubeconfig)}   (export KUBECONFIG=${show(r.kubeconfig)}; kubectl get nodes)`);
    else if (r.kubeconfig) lines.push(`kubeconfig: ${show(r.kubeconfig)} is written, but the cluster did not converge: fix the failures above first`);
    else if (conv) lines.push('kubeconfig: not written (the Kubernetes roles have not completed)');
    const times = Object.entries(r.timings).map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)} s`);
    if (times.length) lines.push(`times: ${times.join(', ')}`);
    const dir = show(workspace);
    const dirArg = dir === '.' || dir === '' ? '' : ` ${dir}`;
    lines.push('next:');
    if (r.sshConfig) lines.push(`  ssh -F ${show(r.sshConfig)} ${r.hosts[0]?.name ?? ''}        log into a machine`);
    lines.push(`  kcore-wizard test${dirArg}          run the smoke tests again`);
    lines.push(`  kcore-wizard up${dirArg}            again: changes nothing on a healthy cluster`);
    if (spec.provider !== 'existing') lines.push(`  kcore-wizard destroy${dirArg} --yes  remove the machines`);
  }
  return lines.join('\n') + '\n';
}

export function upExitCode(r: RunUpResult): number {
  switch (r.status) {
    case 'ok':
      return 0;
    case 'preflight-failed':
      return 2;
    case 'cancelled':
      return 130;
    case 'declined':
      return 1;
    default:
      return 1;
  }
}

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export const upCommand: CommandDef = {
  name: 'up',
  summary: 'Create the machines (vagrant up) and configure the cluster: render, preflight, up, ssh-config, converge, smoke tests.',
  usage: 'kcore-wizard up [DIR] [--yes] [--artifacts folder|url] [--output json] [--machines-only]',
  details: [
    'Idempotent: on a running cluster nothing changes; after `vagrant halt`, up starts the machines and converges.',
    'Preflight failures (vagrant, provider, box, memory, network) stop it with exit 2 and say what to install or change.',
    '--provider only confirms the spec: it must equal kcore.yaml\'s provider (change the spec to switch providers).',
    'Provider "existing" skips vagrant and configures the machines listed in kcore.yaml.',
    'On a terminal, up shows the preflight checks and asks before creating machines unless --yes is given; a failed preflight asks nothing.',
  ].join('\n'),
  options: {
    ...workspaceOptions,
    provider: { type: 'string', valueName: 'provider', description: `must match kcore.yaml's provider (${PROVIDERS.join(', ')}); a safety check for scripts` },
    yes: { type: 'boolean', short: 'y', description: 'do not ask before creating machines' },
    artifacts: { type: 'string', valueName: 'folder|url', description: "artifact source for this run (overrides the spec's artifacts.source)" },
    'accept-changed-host-keys': { type: 'string', valueName: 'hosts', description: 'accept a CHANGED host key for these hosts (comma-separated, or "all")' },
    'machines-only': { type: 'boolean', description: 'stop after vagrant up and ssh.config (configure later with `kcore-wizard converge`)' },
    output: { type: 'string', short: 'o', valueName: 'format', description: 'text (default) or json (one event per line, then the result)' },
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const format = outputFormat(ctx.values);
    const { spec, warnings } = await loadSpec(workspace);
    const provider = stringFlag(ctx.values, 'provider');
    if (provider !== undefined && provider !== spec.provider)
      throw new UsageError(
        `--provider ${provider} does not match kcore.yaml's provider "${spec.provider}": change \`provider:\` in ${displayPath(ctx, path.join(workspace, 'kcore.yaml'))} (and \`kcore-wizard destroy\` machines made with the old one first)`,
      );
    const write = (s: string) => void ctx.stdout.write(s);
    if (format === 'text') for (const w of warnings) ctx.stderr.write(`warning: ${w.field}: ${w.message}\n`);

    // Asked only once preflight (render, then the checks that need no machine) has passed and been shown:
    // a machine that cannot run the cluster gets the fixes, not a question first.
    const ask = !ctx.values.yes && ctx.stdin.isTTY && ctx.stdout.isTTY && format === 'text' && spec.provider !== 'existing';
    const confirm = async (checks: PreflightCheck[]) => {
      write(`\n${formatPreflight(checks)}\n\n`);
      const t = totals(spec);
      const rl = createInterface({ input: ctx.stdin as NodeJS.ReadStream, output: ctx.stdout as NodeJS.WriteStream });
      try {
        const answer = await rl.question(`Create or start ${t.machines} ${spec.provider} machines (${t.memory} MB, ${t.cpus} CPUs) for cluster "${spec.name}"? [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    };

    const events: EngineEvent[] = [];
    const renderer: EventSink = format === 'json' ? createJsonRenderer(write) : createPlainRenderer(write);
    const accept = stringFlag(ctx.values, 'accept-changed-host-keys');
    const result = await runUp({
      workspace,
      spec,
      emit: fanOut(renderer, format === 'json' ? undefined : (e) => events.push(e)),
      signal: ctx.signal,
      yes: !!ctx.values.yes,
      artifacts: await artifactsFlag(ctx),
      acceptChangedHostKeys: accept === 'all' ? true : list(accept),
      machinesOnly: !!ctx.values['machines-only'],
      env: ctx.env,
      confirm: ask ? confirm : undefined,
    });
    if (result.status === 'declined') {
      ctx.stderr.write('kcore-wizard: nothing done\n');
      return upExitCode(result);
    }
    if (format === 'json') {
      const { summary, ...rest } = result;
      write(JSON.stringify({ type: 'up-result', ...rest, summary: summary && { status: summary.status, changed: summary.changed, failedHosts: summary.failedHosts, recap: summary.recap } }) + '\n');
    } else {
      write(formatUpSummary(result, spec, workspace, (p) => displayPath(ctx, p)));
    }
    return upExitCode(result);
  },
};
