/** `kcore-wizard render`: write the workspace files (Vagrantfile, inventory.ini) from kcore.yaml. */
import { loadSpec } from '../spec/load.js';
import path from 'node:path';
import { renderWorkspace, writeWorkspace } from '../render/workspace.js';
import { pathExists } from '../util/fs.js';
import { outputFormat, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption, outputOption } from './workspace.js';

export const renderCommand: CommandDef = {
  name: 'render',
  summary: 'Write the workspace files (Vagrantfile, inventory.ini) from kcore.yaml; reports which changed.',
  usage: 'kcore-wizard render [DIR] [--config FILE] [--output json]',
  options: {
    ...workspaceOptions,
    output: outputOption,
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const { spec, warnings } = await loadSpec(workspace);
    const existed = new Set<string>();
    for (const f of renderWorkspace(spec)) if (await pathExists(path.join(workspace, f.path))) existed.add(f.path);
    const results = (await writeWorkspace(workspace, spec)).map((r) => ({ ...r, created: r.changed && !existed.has(r.path) }));
    if (outputFormat(ctx.values) === 'json') {
      ctx.stdout.write(JSON.stringify({ workspace, files: results, warnings }) + '\n');
      return 0;
    }
    for (const w of warnings) ctx.stderr.write(`warning: ${w.field}: ${w.message}\n`);
    for (const r of results) ctx.stdout.write(`${r.created ? 'created  ' : r.changed ? 'changed  ' : 'unchanged'} ${displayPath(ctx, `${workspace}/${r.path}`)}\n`);
    return 0;
  },
};
