/**
 * `kcore-wizard selftest [DIR] [--keep]`: the seed's `make test` (Molecule's default sequence) on the
 * workspace's own cluster, one command:
 *
 *   1 create       the machines (`up --machines-only`: render, preflight, vagrant up, ssh.config)
 *   2 syntax       render the workspace, then the real validators on what the roles would write:
 *                  `ruby -c` on the Vagrantfile, `systemd-analyze verify` on every unit (binaries
 *                  stubbed), `kubectl annotate --local` (kubectl's own decoder, offline) on the add-ons
 *   3 converge     every role, each with its smoke tests
 *   4 idempotence  a second converge's plan (a dry run) must be empty; whatever would change is listed
 *   5 verify       the smoke tests (`test`)
 *   6 destroy      `destroy`, unless --keep
 *
 * Provider `existing`: create and destroy are skipped (the machines are not ours). A failed step
 * skips the later ones, except destroy (as Molecule destroys always). Exit code: 0 when every step
 * passed or was skipped; otherwise 10 + the number of the first failed step (create 11 … destroy 16);
 * 2 for bad input, 130 when cancelled.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { EngineEvent } from '../engine/events.js';
import { createJsonRenderer, createPlainRenderer } from '../output/plain.js';
import { writeWorkspace } from '../render/workspace.js';
import { etcdDropIn, etcdUnit } from '../roles/etcd/index.js';
import {
  apiserverUnit,
  containerdUnit,
  controllerManagerUnit,
  corednsManifest,
  dashboardManifest,
  flannelUnit,
  kubeletUnit,
  kubeProxyUnit,
  schedulerUnit,
} from '../roles/kube-common/index.js';
import { UsageError } from '../spec/errors.js';
import { hostsOf, plannedHosts } from '../spec/hosts.js';
import { loadSpec } from '../spec/load.js';
import type { ClusterSpec } from '../spec/schema.js';
import { outputFormat, stringFlag, type CommandContext, type CommandDef } from './args.js';
import { runDestroy } from './destroy.js';
import { artifactsFlag, knownTags, runFromFlags, runOptions } from './run-common.js';
import { runUp } from './up.js';
import { resolveWorkspace } from './workspace.js';

const exec = promisify(execFile);

export const SELFTEST_STEPS = ['create', 'syntax', 'converge', 'idempotence', 'verify', 'destroy'] as const;
export type SelftestStep = (typeof SELFTEST_STEPS)[number];

/** The exit code naming a failed step: 11 create, 12 syntax, 13 converge, 14 idempotence, 15 verify, 16 destroy. */
export function stepExitCode(step: SelftestStep): number {
  return 11 + SELFTEST_STEPS.indexOf(step);
}

export interface StepResult {
  step: SelftestStep;
  status: 'passed' | 'failed' | 'skipped';
  /** One line: what happened. */
  detail: string;
  /** What failed or would change, one line each. */
  lines: string[];
  ms: number;
}

type Outcome = Omit<StepResult, 'step' | 'ms'>;

// ---------------------------------------------------------------------------------------------
// syntax: the real validators on what the roles would write

async function tool(cmd: string): Promise<boolean> {
  return exec('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );
}

const complaintsOf = (e: unknown) => {
  const x = e as { stderr?: string; stdout?: string; message?: string };
  return `${x.stderr ?? ''}${x.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 20).join('; ') || (x.message ?? String(e));
};

/** Every unit a role uploads for this spec, per host, with the binaries they start. */
function unitsOf(spec: ClusterSpec): Array<{ host: string; files: Record<string, string> }> {
  const out: Array<{ host: string; files: Record<string, string> }> = [];
  for (const h of hostsOf(spec, 'etcd')) out.push({ host: h.name, files: { 'etcd.service': etcdUnit({ spec }), 'etcd.service.d/10-kcore.conf': etcdDropIn({ spec }, h) } });
  for (const h of hostsOf(spec, 'kube-master'))
    out.push({ host: h.name, files: { 'kube-apiserver.service': apiserverUnit(spec, h), 'kube-controller-manager.service': controllerManagerUnit(spec, h), 'kube-scheduler.service': schedulerUnit(spec, h) } });
  for (const h of hostsOf(spec, 'kube-worker'))
    out.push({
      host: h.name,
      files: { 'kubelet.service': kubeletUnit(spec, h), 'kube-proxy.service': kubeProxyUnit(spec, h), 'flanneld.service': flannelUnit(spec, h, { iface: 'eth1' }), 'containerd.service': containerdUnit(spec) },
    });
  return out;
}

export async function syntaxStep(workspace: string, spec: ClusterSpec): Promise<Outcome> {
  const problems: string[] = [];
  const checked: string[] = [];
  const notChecked: string[] = [];
  const files = await writeWorkspace(workspace, spec);
  checked.push(`rendered ${files.map((f) => f.path).join(', ')}`);

  if (files.some((f) => f.path === 'Vagrantfile')) {
    if (await tool('ruby')) {
      await exec('ruby', ['-c', path.join(workspace, 'Vagrantfile')]).then(
        () => checked.push('ruby -c Vagrantfile'),
        (e) => problems.push(`Vagrantfile: ruby -c: ${complaintsOf(e)}`),
      );
    } else notChecked.push('the Vagrantfile (no ruby on PATH)');
  }

  const tmp = await mkdtemp(path.join(tmpdir(), 'kcore-selftest-'));
  try {
    if (await tool('systemd-analyze')) {
      // The units start /opt/bin/…, which this machine lacks: stub those binaries for the check only.
      const stub = path.join(tmp, 'bin');
      await mkdir(stub);
      let n = 0;
      for (const { host, files: units } of unitsOf(spec)) {
        const dir = path.join(tmp, host);
        for (const [name, text] of Object.entries(units)) {
          const file = path.join(dir, name);
          await mkdir(path.dirname(file), { recursive: true });
          for (const m of text.matchAll(/\/opt\/bin\/([\w.-]+)/g)) {
            await writeFile(path.join(stub, m[1]!), '#!/bin/sh\nexit 0\n');
            await chmod(path.join(stub, m[1]!), 0o755);
          }
          await writeFile(file, text.replaceAll('/opt/bin/', `${stub}/`));
        }
        const top = Object.keys(units).filter((u) => !u.includes('/'));
        n += top.length;
        await exec('systemd-analyze', ['verify', ...top.map((u) => path.join(dir, u))], { cwd: dir }).then(
          (r) => {
            const complaints = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
            if (complaints.length) problems.push(`${host}: systemd-analyze verify: ${complaints.join('; ')}`);
          },
          (e) => problems.push(`${host}: systemd-analyze verify: ${complaintsOf(e)}`),
        );
      }
      checked.push(`systemd-analyze verify on ${n} units`);
    } else notChecked.push('the systemd units (no systemd-analyze on PATH)');

    const manifests = [...(spec.addons.dns ? [corednsManifest(spec)] : []), ...(spec.addons.dashboard ? [dashboardManifest()] : [])];
    if (manifests.length) {
      if (await tool('kubectl')) {
        for (const m of manifests) {
          const file = path.join(tmp, `${m.name}.yaml`);
          await writeFile(file, m.text);
          await exec('kubectl', ['annotate', '--local', '-f', file, 'kcore-wizard.io/selftest=1', '-o', 'name'], { env: { ...process.env, KUBECONFIG: path.join(tmp, 'none') } }).then(
            () => checked.push(`kubectl annotate --local ${m.name}`),
            (e) => problems.push(`${m.name} manifest: kubectl: ${complaintsOf(e)}`),
          );
        }
      } else notChecked.push('the add-on manifests (no kubectl on PATH)');
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const tail = notChecked.length ? `; not checked: ${notChecked.join(', ')}` : '';
  return problems.length
    ? { status: 'failed', detail: `${problems.length} problem${problems.length > 1 ? 's' : ''} (${checked.join(', ')}${tail})`, lines: problems }
    : { status: 'passed', detail: `${checked.join(', ')}${tail}`, lines: [] };
}

// ---------------------------------------------------------------------------------------------
// engine steps

const taskEnds = (events: EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: 'task-end' }> => e.type === 'task-end');
const failures = (events: EngineEvent[]) =>
  taskEnds(events)
    .filter((e) => e.status === 'failed' || e.status === 'unreachable')
    .map((e) => `${e.host} ${e.role} › ${e.task}: ${(e.message ?? e.status).split('\n')[0]}`);

/** What a plan would change: one line per change, under its host and task. */
export function wouldChange(events: EngineEvent[]): string[] {
  return taskEnds(events)
    .filter((e) => e.status === 'changed')
    .flatMap((e) => (e.changes.length ? e.changes : ['(changed)']).map((c) => `${e.host} ${e.role} › ${e.task}: ${c}`));
}

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

/** Bad flags are refused before any step runs (exit 2), not half-way through. */
function checkFlags(ctx: CommandContext, spec: ClusterSpec) {
  const names = new Set(plannedHosts(spec).flatMap((h) => [h.name, h.group]));
  const unknown = (list(stringFlag(ctx.values, 'limit')) ?? []).filter((l) => !names.has(l) && l !== 'local');
  if (unknown.length) throw new UsageError(`--limit ${unknown.join(',')}: no such host or group (hosts: ${plannedHosts(spec).map((h) => h.name).join(', ')}; groups: etcd, kube-master, kube-worker)`);
  const known = knownTags();
  for (const flag of ['tags', 'skip-tags']) {
    const bad = (list(stringFlag(ctx.values, flag)) ?? []).filter((t) => !known.includes(t));
    if (bad.length) throw new UsageError(`--${flag} ${bad.join(',')}: no such tag or role; known: ${known.join(', ')}`);
  }
}

export const selftestCommand: CommandDef = {
  name: 'selftest',
  summary: 'Molecule\'s sequence on this cluster: create → syntax → converge → idempotence → verify → destroy.',
  usage: 'kcore-wizard selftest [DIR] [--keep] [--limit host|group] [--tags t] [--artifacts src] [--output json]',
  details: [
    'create: up --machines-only, without asking (skipped for provider existing). syntax: render, then ruby -c on the Vagrantfile,',
    'systemd-analyze verify on every unit the roles write, kubectl annotate --local on the add-on manifests.',
    'converge: every role with its smoke tests. idempotence: a plan after it must be empty (what would change is',
    'listed). verify: the smoke tests. destroy: unless --keep (skipped for provider existing).',
    'A failed step skips the later ones except destroy. Exit 0 when all passed; 10 + the failed step\'s number',
    '(11 create, 12 syntax, 13 converge, 14 idempotence, 15 verify, 16 destroy); 2 bad input; 130 cancelled.',
  ].join('\n'),
  options: {
    ...runOptions,
    keep: { type: 'boolean', description: 'keep the machines: skip the destroy step' },
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const format = outputFormat(ctx.values);
    const { spec } = await loadSpec(workspace);
    checkFlags(ctx, spec);
    const artifacts = await artifactsFlag(ctx);
    const write = (s: string) => void ctx.stdout.write(s);
    const render = format === 'json' ? createJsonRenderer(write) : createPlainRenderer(write, { verbose: false });
    const existing = spec.provider === 'existing';
    const results: StepResult[] = [];
    let failed: SelftestStep | undefined;
    const accept = stringFlag(ctx.values, 'accept-changed-host-keys');

    const steps: Record<SelftestStep, () => Promise<Outcome>> = {
      async create() {
        if (existing) return { status: 'skipped', detail: 'provider existing: the machines listed in kcore.yaml are used as they are', lines: [] };
        const r = await runUp({ workspace, spec, emit: render, signal: ctx.signal, yes: true, machinesOnly: true, artifacts, acceptChangedHostKeys: accept === 'all' ? true : list(accept), env: ctx.env });
        if (r.ok) return { status: 'passed', detail: `${r.hosts.length} machines up (${spec.provider})`, lines: [] };
        return { status: 'failed', detail: r.message ?? r.status, lines: r.preflight.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`) };
      },
      syntax: () => syntaxStep(workspace, spec),
      async converge() {
        const { summary, events } = await runFromFlags(ctx, {});
        return summary.status === 'ok'
          ? { status: 'passed', detail: `${summary.changed} changed`, lines: [] }
          : { status: 'failed', detail: summary.status === 'cancelled' ? 'cancelled' : `failed on ${summary.failedHosts.join(', ')}`, lines: failures(events) };
      },
      async idempotence() {
        const { summary, events } = await runFromFlags(ctx, { dryRun: true });
        const changes = wouldChange(events);
        if (summary.status !== 'ok') return { status: 'failed', detail: `the plan failed on ${summary.failedHosts.join(', ')}`, lines: [...failures(events), ...changes] };
        return changes.length
          ? { status: 'failed', detail: `a second converge would change ${changes.length} thing${changes.length > 1 ? 's' : ''}`, lines: changes }
          : { status: 'passed', detail: 'a second converge would change nothing', lines: [] };
      },
      async verify() {
        const { summary, events } = await runFromFlags(ctx, { tags: ['test'] });
        const tests = taskEnds(events).filter((e) => e.tags.includes('test'));
        const bad = failures(events);
        return summary.status === 'ok' && bad.length === 0
          ? { status: 'passed', detail: `${tests.length} smoke tests passed`, lines: [] }
          : { status: 'failed', detail: `${bad.length} of ${tests.length} smoke tests failed`, lines: bad };
      },
      async destroy() {
        if (existing) return { status: 'skipped', detail: 'provider existing: the machines are not kcore-wizard\'s to destroy', lines: [] };
        if (ctx.values.keep) return { status: 'skipped', detail: 'kept (--keep)', lines: [] };
        const r = await runDestroy({ workspace, spec, emit: render, signal: ctx.signal, env: ctx.env });
        return r.ok ? { status: 'passed', detail: `${r.machines.length} machines destroyed`, lines: [] } : { status: 'failed', detail: r.message ?? 'destroy failed', lines: [] };
      },
    };

    for (const [i, step] of SELFTEST_STEPS.entries()) {
      const t0 = Date.now();
      let o: Outcome;
      if (ctx.signal.aborted) o = { status: 'skipped', detail: 'cancelled', lines: [] };
      else if (failed && step !== 'destroy') o = { status: 'skipped', detail: `not run: ${failed} failed`, lines: [] };
      else {
        if (format === 'text') write(`\n==== selftest ${i + 1}/${SELFTEST_STEPS.length}: ${step}\n`);
        try {
          o = await steps[step]();
        } catch (e) {
          if (e instanceof UsageError) throw e;
          o = { status: 'failed', detail: (e as Error).message.split('\n')[0] ?? String(e), lines: [] };
        }
      }
      const r: StepResult = { step, ...o, ms: Date.now() - t0 };
      results.push(r);
      if (r.status === 'failed') failed ??= step;
      if (format === 'json') write(JSON.stringify({ type: 'selftest-step', index: i + 1, ...r }) + '\n');
      else if (!(failed && failed !== step && r.status === 'skipped')) {
        write(`---- ${step}: ${r.status === 'failed' ? 'FAILED' : r.status}${r.ms >= 1000 ? ` (${(r.ms / 1000).toFixed(1)} s)` : ''}: ${r.detail}\n`);
        for (const l of r.lines) write(`     - ${l}\n`);
      }
    }

    const code = ctx.signal.aborted ? 130 : failed ? stepExitCode(failed) : 0;
    if (format === 'json') write(JSON.stringify({ type: 'selftest-result', ok: code === 0, failedStep: failed ?? null, exitCode: code, steps: results.map((r) => ({ step: r.step, status: r.status })) }) + '\n');
    else {
      write('\n== selftest\n');
      for (const [i, r] of results.entries()) write(`   ${i + 1} ${r.step.padEnd(12)} ${(r.status === 'failed' ? 'FAILED' : r.status).padEnd(8)} ${r.detail}\n`);
      write(code === 0 ? '\nselftest passed\n' : code === 130 ? '\nselftest cancelled (exit 130)\n' : `\nselftest failed at ${failed} (exit ${code})\n`);
    }
    return code;
  },
};
