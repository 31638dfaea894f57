/** `kcore-wizard render`: write the workspace files (Vagrantfile, inventory.ini) from kcore.yaml. */
import { loadSpec } from '../spec/load.js';
import { writeWorkspace } from '../render/workspace.js';
import { outputFormat, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions } from './workspace.js';

export const renderCommand: CommandDef = {
  name: 'render',
  summary: 'Write the workspace files (Vagrantfile, inventory.ini) from kcore.yaml; reports which changed.',
  usage: 'kcore-wizard render [DIR] [--config FILE] [--output json]',
  options: {
    ...workspaceOptions,
    output: { type: 'string', short: 'o', valueName: 'format', description: 'text (default) or json' },
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const { spec, warnings } = await loadSpec(workspace);
    const results = await writeWorkspace(workspace, spec);
    if (outputFormat(ctx.values) === 'json') {
      ctx.stdout.write(JSON.stringify({ workspace, files: results, warnings }) + '\n');
      return 0;
    }
    for (const w of warnings) ctx.stderr.write(`warning: ${w.field}: ${w.message}\n`);
    for (const r of results) ctx.stdout.write(`${r.changed ? 'changed  ' : 'unchanged'} ${displayPath(ctx, `${workspace}/${r.path}`)}\n`);
    return 0;
  },
};
