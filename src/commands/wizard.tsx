/**
 * `kcore-wizard` with no command (or `kcore-wizard wizard [DIR]`): the full-screen wizard. This file
 * wires the real side effects into the UI (src/vagrant/preflight.ts runPreflight, src/commands/up.ts
 * runUp); the UI itself only sees the WizardActions interface.
 */
import os from 'node:os';
import path from 'node:path';
import { loadSpec, specPath } from '../spec/load.js';
import { saveSpec } from '../spec/parse.js';
import type { WizardActions } from '../ui/wizard/actions.js';
import { NOT_A_TERMINAL, isInteractive, runWizard } from '../ui/wizard/run.js';
import type { CommandContext, CommandDef } from './args.js';
import { resolveWorkspace, workspaceOptions, helpOption } from './workspace.js';
import { pathExists } from '../util/fs.js';


/**
 * The real actions. Preflight, `up` (vagrant, SSH, the engine) and the workspace renderer (nunjucks) are
 * imported when first used, so the wizard opens at once and a problem in those modules shows up as an
 * error on screen, not a crash.
 */
export function realActions(env: NodeJS.ProcessEnv = process.env): WizardActions {
  return {
    hostResources: () => ({ memoryMb: Math.floor(os.totalmem() / 1024 / 1024), cpus: os.availableParallelism() }),
    async loadExisting(dir) {
      if (!(await pathExists(specPath(dir)))) return null;
      const loaded = await loadSpec(dir);
      return { spec: loaded.spec, file: loaded.file, warnings: loaded.warnings };
    },
    async preflight(dir, spec) {
      const { runPreflight } = await import('../vagrant/preflight.js');
      return runPreflight(spec, { workspace: dir, env });
    },
    async writeFiles(dir, spec) {
      const saved = await saveSpec(dir, spec);
      const { writeWorkspace } = await import('../render/workspace.js');
      const files = await writeWorkspace(dir, spec);
      return [{ path: path.basename(saved.file), changed: saved.changed }, ...files];
    },
    async up(dir, spec, emit, signal) {
      const { runUp } = await import('./up.js');
      const r = await runUp({ workspace: dir, spec, emit, signal, env });
      return { ok: r.ok, kubeconfig: r.kubeconfig, message: r.message };
    },
    explain: async () => (await import('./explain-actions.js')).wizardExplain,
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
    help: helpOption,
  },
  run: (ctx) => runWizardCommand(ctx, realActions(ctx.env)),
};
