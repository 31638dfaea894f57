/**
 * `kcore-wizard upgrade --etcd V`: write the version into kcore.yaml, show the plan, then roll: one
 * etcd member at a time, each restarted on its new binaries, healthy again and passing its smoke tests
 * (put/get needs quorum) before the next; stops at the first member that does not come back healthy.
 */
import { UsageError } from '../spec/errors.js';
import { checkSpec, loadSpec, saveSpec } from '../spec/load.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { confirmAction } from './confirm.js';
import { rollingConverge, runFromFlags, runOptions } from './run-common.js';
import { resolveWorkspace } from './workspace.js';

const { tags: _tags, 'skip-tags': _skip, ...options } = runOptions;

/**
 * etcd upgrades one minor at a time and never downgrades by a binary swap (etcd.io/docs/v3.6/upgrades/).
 * The same version is fine: a rerun after a stopped upgrade resumes it (upgraded members change nothing).
 */
export function checkEtcdUpgrade(from: string, to: string): string | null {
  const parse = (v: string) => /^(\d+)\.(\d+)\.(\d+)$/.exec(v)?.slice(1).map(Number);
  const a = parse(from);
  const b = parse(to);
  if (!b) return `--etcd ${to}: not a version (want MAJOR.MINOR.PATCH, e.g. 3.6.11)`;
  if (!a) return null;
  const cmp = a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  if (cmp > 0) return `--etcd ${to}: etcd ${from} cannot be downgraded by replacing its binaries; restore a backup taken on ${to} instead`;
  if (a[0] !== b[0] || b[1]! - a[1]! > 1) return `--etcd ${to}: etcd upgrades one minor version at a time (${from} → ${a[0]}.${a[1]! + 1}.x first)`;
  return null;
}

export const upgradeCommand: CommandDef = {
  name: 'upgrade',
  summary: 'Upgrade etcd one member at a time, each healthy again before the next; stops at the first that is not.',
  usage: 'kcore-wizard upgrade [DIR] --etcd V [--yes] [--limit hosts] [--artifacts folder|url]',
  details: [
    'Writes the version into kcore.yaml, shows the plan (the binaries and restarts), then converges one etcd',
    "member at a time: its new binaries, a restart, the member healthy again and the etcd smoke tests passing",
    '(a put/get round trip needs quorum) before the next member. Stops at the first member that fails, says why,',
    'and leaves the others on the old version; run the same upgrade again to resume once it is fixed.',
    'etcd upgrades one minor at a time; a downgrade is refused.',
    'The Kubernetes half (masters one at a time, workers with cordon, drain, uncordon) is not built yet:',
    '--kubernetes is refused; change versions.kubernetes in kcore.yaml and converge for a new cluster.',
  ].join('\n'),
  options: {
    ...options,
    etcd: { type: 'string', valueName: 'version', description: 'the etcd version to upgrade to, e.g. 3.6.11' },
    kubernetes: { type: 'string', valueName: 'version', description: 'not built yet: refused with an explanation' },
    yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required off a terminal)' },
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    if (stringFlag(ctx.values, 'kubernetes') !== undefined)
      throw new UsageError('--kubernetes: upgrading Kubernetes (masters one at a time, then workers with cordon, drain and uncordon) is not built yet; only --etcd is');
    const to = stringFlag(ctx.values, 'etcd');
    if (!to) throw new UsageError('upgrade needs --etcd VERSION (e.g. --etcd 3.6.11)');
    const { spec } = await loadSpec(workspace);
    const from = spec.versions.etcd;
    const bad = checkEtcdUpgrade(from, to);
    if (bad) throw new UsageError(bad);
    // The new spec must pass the same checks as a hand-edited one (the versions window of its Kubernetes).
    const next = checkSpec({ ...spec, versions: { ...spec.versions, etcd: to } }).spec;
    const json = outputFormat(ctx.values) === 'json';
    await saveSpec(workspace, next);
    if (!json) ctx.stdout.write(from === to ? `kcore.yaml: versions.etcd is ${to}: resuming the upgrade\n` : `kcore.yaml: versions.etcd ${from} → ${to}\n`);
    const plan = await runFromFlags(ctx, { dryRun: true, tags: ['etcd'], limit: limitOr(ctx, 'etcd') });
    if (plan.summary.status === 'failed') {
      await saveSpec(workspace, spec);
      if (!json) ctx.stdout.write(`upgrade not started: the plan fails (above); kcore.yaml is back on etcd ${from}\n`);
      return 1;
    }
    let yes: boolean;
    try {
      yes = await confirmAction(ctx, 'upgrade', `restart every etcd member on ${to}, one at a time`, { question: `Upgrade etcd ${from} → ${to}, one member at a time? [y/N] `, offTerminal: '; kcore.yaml is unchanged' });
    } catch (e) {
      await saveSpec(workspace, spec);
      throw e;
    }
    if (!yes) {
      await saveSpec(workspace, spec);
      ctx.stderr.write(`kcore-wizard: nothing upgraded; kcore.yaml is back on etcd ${from}\n`);
      return 1;
    }
    return rollingConverge({ ...ctx, values: { ...ctx.values, limit: limitOr(ctx, 'etcd')!.join(',') } }, { tags: ['etcd'], what: `upgrade etcd ${from} → ${to}` });
  },
};

/** The run is about etcd: --limit narrows it to some members; without it, every member. */
function limitOr(ctx: Parameters<CommandDef['run']>[0], group: string): string[] | undefined {
  const l = stringFlag(ctx.values, 'limit');
  return l ? l.split(',').map((s) => s.trim()).filter(Boolean) : [group];
}
