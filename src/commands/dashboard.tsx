/**
 * `kcore-wizard dashboard [DIR]`: watch a running cluster, full screen: every host polled every 2 s
 * (its role units, etcd member health, API server /readyz, node Ready), keys to rerun the smoke tests,
 * reconverge a host or read a unit's journal. `--once` prints one snapshot for scripts (exit 1 when
 * anything is unhealthy). This file wires the real side effects (src/health/actions.ts) into the UI
 * (src/ui/dashboard/run.tsx); the UI only sees the stores and the actions. Ink and React are imported
 * only for the full screen: `--once` (text or JSON) never loads them.
 */
import { openDashboard, DEFAULT_INTERVAL_MS } from '../health/actions.js';
import { formatReport, snapshot } from '../health/report.js';
import { UsageError } from '../spec/errors.js';
import { loadSpec } from '../spec/load.js';
import type { ProcessLike } from '../ui/terminal.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { resolveWorkspace, workspaceOptions, helpOption, sshConfigOption } from './workspace.js';

/** "2", "2s", "1.5", "500ms" → milliseconds. */
export function parseSeconds(flag: string, v: string | undefined, fallbackMs: number, min = 0.2, max = 3600): number {
  if (v === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--${flag} takes seconds (e.g. 2, 2s, 500ms), got "${v}"`);
  const ms = m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
  if (ms < min * 1000 || ms > max * 1000) throw new UsageError(`--${flag} must be between ${min} s and ${max} s, got "${v}"`);
  return Math.round(ms);
}

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export const dashboardCommand: CommandDef = {
  name: 'dashboard',
  summary: 'Watch a running cluster: host health every 2 s, keys to rerun smoke tests (--once for scripts)',
  usage: 'kcore-wizard dashboard [DIR] [--interval 2s] [--limit hosts] [--once [--output json]]',
  details:
    'Full screen on a terminal: hosts by role with their units, etcd member health, API server /readyz and node Ready;\n' +
    's reruns the smoke tests of the selected host, S of every host, c reconverges it, l shows a unit\'s journal, ? lists every key.\n' +
    'Off a terminal use --once: one snapshot as a table, or as JSON with --output json; exit 0 when every host is healthy, 1 otherwise.\n' +
    'See docs/dashboard.md for the keys and the JSON shape.',
  options: {
    ...workspaceOptions,
    interval: { type: 'string', short: 'i', valueName: 'seconds', description: `time between polls of a host (default ${DEFAULT_INTERVAL_MS / 1000}s; e.g. 5, 500ms)` },
    timeout: { type: 'string', valueName: 'seconds', description: "a host's answer after this is \"unreachable\" (default: twice the interval, at least 5s)" },
    limit: { type: 'string', short: 'l', valueName: 'hosts', description: 'only these hosts or groups (comma-separated), e.g. etcd or kube-worker-02' },
    'ssh-config': sshConfigOption,
    once: { type: 'boolean', description: 'poll every host once, print a snapshot and exit: 0 all healthy, 1 not' },
    output: { type: 'string', short: 'o', valueName: 'format', description: 'with --once: text (default) or json' },
    help: helpOption,
  },
  async run(ctx) {
    const once = !!ctx.values.once;
    const format = outputFormat(ctx.values);
    if (format === 'json' && !once) throw new UsageError('--output json goes with --once (one snapshot for scripts)');
    const ui = once ? undefined : await import('../ui/dashboard/run.js');
    if (ui && !ui.isInteractive(ctx.stdin, ctx.stdout)) {
      ctx.stderr.write(`${ui.DASHBOARD_NOT_A_TERMINAL}\n`);
      return 2;
    }
    const intervalMs = parseSeconds('interval', stringFlag(ctx.values, 'interval'), DEFAULT_INTERVAL_MS);
    const timeoutMs = stringFlag(ctx.values, 'timeout') === undefined ? undefined : parseSeconds('timeout', stringFlag(ctx.values, 'timeout'), 0, 1);
    const workspace = resolveWorkspace(ctx);
    const { spec } = await loadSpec(workspace);
    const controller = await openDashboard({ workspace, spec, intervalMs, timeoutMs, limit: list(stringFlag(ctx.values, 'limit')), sshConfig: stringFlag(ctx.values, 'ssh-config') });

    if (!ui) {
      try {
        const report = await snapshot(controller);
        ctx.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
        return report.healthy ? 0 : 1;
      } finally {
        await controller.close();
      }
    }

    const real = ctx.stdout === process.stdout;
    try {
      await controller.start();
      const handle = ui.startDashboard({
        store: controller.store,
        runStore: controller.runStore,
        actions: controller.actions,
        explain: async (host) => (await import('./explain-actions.js')).dashboardExplain(workspace, spec)(host),
        stdin: ctx.stdin as NodeJS.ReadStream,
        stdout: ctx.stdout as NodeJS.WriteStream,
        stderr: (ctx.stderr === process.stderr ? process.stderr : ctx.stderr) as NodeJS.WriteStream,
        env: ctx.env,
        process: real ? (process as unknown as ProcessLike) : undefined,
      });
      const onAbort = () => handle.instance.unmount();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await handle.done;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    } finally {
      await controller.close();
    }
  },
};
