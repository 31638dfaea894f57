/**
 * `kcore-wizard` with no command (or `kcore-wizard wizard [DIR]`): the full-screen wizard. This file
 * wires the real side effects into the UI; preflight and `up` come from their own modules, loaded
 * when first used, and until those modules exist the wizard says so instead of pretending.
 */
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EngineEvent } from '../engine/events.js';
import { writeWorkspace } from '../render/workspace.js';
import { loadSpec, saveSpec, specPath } from '../spec/load.js';
import type { ClusterSpec } from '../spec/schema.js';
import { NotAvailableError, type PreflightCheck, type UpResult, type WizardActions } from '../ui/wizard/actions.js';
import { NOT_A_TERMINAL, isInteractive, runWizard } from '../ui/wizard/run.js';
import type { CommandContext, CommandDef } from './args.js';
import { resolveWorkspace, workspaceOptions } from './workspace.js';

/** The modules the wizard expects (built by others); documented in the README's architecture notes. */
export const PREFLIGHT_MODULE = '../vagrant/preflight.js';
export const UP_MODULE = './up.js';

type PreflightFn = (spec: ClusterSpec, opts: { signal: AbortSignal }) => Promise<PreflightCheck[]>;
type UpFn = (opts: { dir: string; spec: ClusterSpec; emit: (e: EngineEvent) => void; signal: AbortSignal }) => Promise<UpResult>;

/** Import `specifier` (relative to this file) and pick `name`; NotAvailableError when either is missing. */
async function lazyFunction<T>(what: string, specifier: string, name: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const target = path.basename(specifier, '.js');
    if ((err.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to load url|does not exist/i.test(err.message)) && err.message.includes(target))
      throw new NotAvailableError(what, `${specifier.replace(/^\.\.?\//, 'src/').replace(/\.js$/, '.ts')} is missing`);
    throw e;
  }
  const fn = mod[name];
  if (typeof fn !== 'function') throw new NotAvailableError(what, `${specifier} has no ${name}()`);
  return fn as T;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The real actions: files and specs now; preflight and up from their modules when they exist. */
export function realActions(): WizardActions {
  return {
    hostResources: () => ({ memoryMb: Math.floor(os.totalmem() / 1024 / 1024), cpus: os.availableParallelism() }),
    async loadExisting(dir) {
      if (!(await exists(specPath(dir)))) return null;
      const loaded = await loadSpec(dir);
      return { spec: loaded.spec, file: loaded.file, warnings: loaded.warnings };
    },
    async preflight(spec, signal) {
      const run = await lazyFunction<PreflightFn>('preflight', PREFLIGHT_MODULE, 'runPreflight');
      return run(spec, { signal });
    },
    async writeFiles(dir, spec) {
      const saved = await saveSpec(dir, spec);
      const files = await writeWorkspace(dir, spec);
      return [{ path: path.basename(saved.file), changed: saved.changed }, ...files];
    },
    async up(dir, spec, emit, signal) {
      const run = await lazyFunction<UpFn>('`up` (vagrant and provisioning)', UP_MODULE, 'runUp');
      return run({ dir, spec, emit, signal });
    },
  };
}

/** Run the wizard with the given actions on the context's terminal (the test entry passes fakes). */
export async function runWizardCommand(ctx: CommandContext, actions: WizardActions): Promise<number> {
  if (!isInteractive(ctx.stdin, ctx.stdout)) {
    ctx.stderr.write(`${NOT_A_TERMINAL}\n`);
    return 2;
  }
  const given = ctx.positionals[0] !== undefined || ctx.values.dir !== undefined || ctx.values.config !== undefined;
  const real = ctx.stdout === process.stdout;
  return runWizard({
    actions,
    stdin: ctx.stdin as NodeJS.ReadStream,
    stdout: ctx.stdout as NodeJS.WriteStream,
    stderr: (ctx.stderr === process.stderr ? process.stderr : ctx.stderr) as NodeJS.WriteStream,
    env: ctx.env,
    cwd: ctx.cwd,
    dir: given ? resolveWorkspace(ctx) : undefined,
    process: real ? (process as unknown as Parameters<typeof runWizard>[0]['process']) : undefined,
    // Second Ctrl+C: the terminal is restored by now; leave even if a child process lingers.
    hardExit: real ? (code) => process.exit(code) : undefined,
  });
}

export const wizardCommand: CommandDef = {
  name: 'wizard',
  summary: 'Open the full-screen wizard (what `kcore-wizard` with no command runs)',
  usage: 'kcore-wizard [wizard [DIR]]',
  details:
    'Steps: workspace, preflight, sizing, options, review, then it writes the files, runs vagrant up and configures the cluster with live per-host panels.\n' +
    'Needs a terminal; without one run `kcore-wizard init` then `kcore-wizard up --config kcore.yaml --yes`.',
  options: {
    ...workspaceOptions,
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  },
  run: (ctx) => runWizardCommand(ctx, realActions()),
};
