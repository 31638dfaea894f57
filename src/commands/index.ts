/**
 * Every command, in the order `--help` lists them: its name and one-line summary here, its flags, help and
 * code in its own module, loaded with import() only when that command runs or shows its help. `--version`
 * and `--help` therefore load none of them (no Ink, React, ssh2 or engine): start-up costs what Node costs.
 * A unit test (test/unit/cli-startup.test.ts) checks both that the summaries match the modules and that
 * cli.ts reaches no heavy module through static imports.
 */
import type { CommandDef } from './args.js';

export interface CommandEntry {
  name: string;
  summary: string;
  /** The command's module, loaded on demand. */
  load(): Promise<CommandDef>;
}

export const commands: CommandEntry[] = [
  { name: 'wizard', summary: 'Open the full-screen wizard (what `kcore-wizard` with no command runs)', load: async () => (await import('./wizard.js')).wizardCommand },
  { name: 'init', summary: 'Write a cluster spec (kcore.yaml) into a workspace folder: the seed defaults, changed by flags.', load: async () => (await import('./init.js')).initCommand },
  { name: 'render', summary: 'Write the workspace files (Vagrantfile, inventory.ini) from kcore.yaml; reports which changed.', load: async () => (await import('./render.js')).renderCommand },
  {
    name: 'up',
    summary: 'Create the machines (vagrant up) and configure the cluster: render, preflight, up, ssh-config, converge, smoke tests.',
    load: async () => (await import('./up.js')).upCommand,
  },
  { name: 'plan', summary: 'Show, per host, what converge would change (dry run: files, units, binaries, certificates).', load: async () => (await import('./plan.js')).planCommand },
  { name: 'converge', summary: 'Configure the machines: bootstrap, PKI, etcd … each role followed by its smoke tests.', load: async () => (await import('./converge.js')).convergeCommand },
  { name: 'test', summary: 'Run the smoke tests (every task tagged `test`) and print a table per host; exit 1 on any failure.', load: async () => (await import('./test.js')).testCommand },
  { name: 'selftest', summary: "Molecule's sequence on this cluster: create → syntax → converge → idempotence → verify → destroy.", load: async () => (await import('./selftest.js')).selftestCommand },
  { name: 'dashboard', summary: 'Watch a running cluster: host health every 2 s, keys to rerun smoke tests (--once for scripts)', load: async () => (await import('./dashboard.js')).dashboardCommand },
  { name: 'backup', summary: "Take an etcd snapshot from a healthy member into the workspace's backups/ folder (0600), checked.", load: async () => (await import('./backup.js')).backupCommand },
  { name: 'restore', summary: 'Restore the whole etcd cluster from a snapshot (backups/etcd-….db); old data dirs are kept aside.', load: async () => (await import('./restore.js')).restoreCommand },
  {
    name: 'upgrade',
    summary: 'Upgrade etcd one member at a time, then Kubernetes: masters, then workers (cordon, drain, uncordon); stops at the first unhealthy host.',
    load: async () => (await import('./upgrade.js')).upgradeCommand,
  },
  {
    name: 'remove-node',
    summary: 'Remove a Kubernetes node: drain and delete its Node, stop its units, take it out of kcore.yaml (vagrant: destroy it).',
    load: async () => (await import('./remove-node.js')).removeNodeCommand,
  },
  {
    name: 'destroy',
    summary: 'Destroy the machines (vagrant destroy) and forget them: ssh.config, known_hosts entries, the lxc bridge.',
    load: async () => (await import('./destroy.js')).destroyCommand,
  },
  {
    name: 'explain',
    summary: 'Explain how the cluster is put together and why: roles, tasks, hosts and every file they get (offline, no SSH).',
    load: async () => (await import('./explain.js')).explainCommand,
  },
  { name: 'pki', summary: 'List every certificate of the cluster: subject, SANs, expiry and why it exists.', load: async () => (await import('./pki.js')).pkiCommand },
  {
    name: 'certs',
    summary: 'Every certificate with its expiry in days (exit 1 when one expires within 30 days); `certs renew` reissues and rolls them out.',
    load: async () => (await import('./certs.js')).certsCommand,
  },
  { name: 'kubeconfig', summary: "Print the path of the cluster's admin kubeconfig, or merge it into your own kubeconfig.", load: async () => (await import('./kubeconfig.js')).kubeconfigCommand },
  {
    name: 'box',
    summary: 'Vagrant boxes: `box build --provider lxc|libvirt` builds a box here; `box add` fetches and verifies the Flatcar box.',
    load: async () => (await import('./box.js')).boxCommand,
  },
];

export function findCommand(name: string): CommandEntry | undefined {
  return commands.find((c) => c.name === name);
}
