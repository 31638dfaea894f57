/**
 * The vagrant commands kcore-wizard uses, each a thin typed wrapper around `runVagrant`. Machines are
 * created with `--no-provision` (the Vagrantfile has no provisioners anyway): configuration is the SSH
 * engine's job, after `vagrant ssh-config` has been written to `<workspace>/ssh.config`.
 */
import path from 'node:path';
import type { Provider } from '../spec/schema.js';
import { writeFileAtomic } from '../util/fs.js';
import { parseBoxList, parsePluginList, parseStatus, parseVagrantVersion, type BoxInfo, type MachineStatus } from './parse.js';
import { runVagrant, runVagrantOk, VagrantError, type VagrantRunOptions } from './process.js';

export type VagrantProvider = Exclude<Provider, 'existing'>;

export const SSH_CONFIG_FILE = 'ssh.config';

/** Short commands (version, status, box list) are bounded; a hung vagrant must not hang the wizard. */
const SHORT_TIMEOUT_MS = 120_000;

/** `vagrant --version` → `2.3.4`, or undefined when vagrant is not installed or does not run. */
export async function vagrantVersion(opts: VagrantRunOptions = {}): Promise<string | undefined> {
  try {
    const r = await runVagrant(['--version'], { timeoutMs: 60_000, ...opts, quiet: true });
    return r.exitCode === 0 ? parseVagrantVersion(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** Per machine: running / poweroff / stopped / not_created … (`vagrant status --machine-readable`). */
export async function status(workspace: string, opts: VagrantRunOptions = {}): Promise<MachineStatus[]> {
  const r = await runVagrantOk(['status', '--machine-readable'], { timeoutMs: SHORT_TIMEOUT_MS, ...opts, cwd: workspace, quiet: true });
  return parseStatus(r.stdout);
}

/** Providers that create machines in parallel safely (VirtualBox does not). */
export function providerIsParallel(provider: VagrantProvider): boolean {
  return provider !== 'virtualbox';
}

export interface UpOptions extends VagrantRunOptions {
  provider: VagrantProvider;
  /** Only these machines (default: all). */
  only?: readonly string[];
}

/**
 * `vagrant up --provider=X --no-provision` (parallel where the provider allows). Machines already
 * running are left as they are; halted ones are started again.
 */
export async function up(workspace: string, opts: UpOptions): Promise<void> {
  const args = ['up', `--provider=${opts.provider}`, '--no-provision', providerIsParallel(opts.provider) ? '--parallel' : '--no-parallel', '--no-color', ...(opts.only ?? [])];
  await runVagrantOk(args, { ...opts, cwd: workspace });
}

/** `vagrant ssh-config` for the running machines, written atomically to `<ws>/ssh.config` (0600). */
export async function sshConfig(workspace: string, opts: VagrantRunOptions = {}): Promise<{ file: string; changed: boolean; text: string }> {
  const r = await runVagrantOk(['ssh-config', '--no-color'], { timeoutMs: SHORT_TIMEOUT_MS, ...opts, cwd: workspace, quiet: true });
  const text = r.stdout.replace(/\r\n/g, '\n').trimEnd() + '\n';
  if (!/^Host\s+\S+/m.test(text)) throw new VagrantError(['ssh-config'], r, 'vagrant ssh-config printed no Host entry: are the machines running?');
  const file = path.join(workspace, SSH_CONFIG_FILE);
  const changed = await writeFileAtomic(file, text, 0o600);
  return { file, changed, text };
}

/** `vagrant halt` (all machines, or `only`). */
export async function halt(workspace: string, opts: VagrantRunOptions & { only?: readonly string[] } = {}): Promise<void> {
  await runVagrantOk(['halt', '--no-color', ...(opts.only ?? [])], { ...opts, cwd: workspace });
}

/** `vagrant destroy -f` (all machines, or `only`); `parallel` where the provider allows it. */
export async function destroy(workspace: string, opts: VagrantRunOptions & { only?: readonly string[]; parallel?: boolean } = {}): Promise<void> {
  await runVagrantOk(['destroy', '-f', ...(opts.parallel ? ['--parallel'] : []), '--no-color', ...(opts.only ?? [])], { ...opts, cwd: workspace });
}

export async function boxList(opts: VagrantRunOptions = {}): Promise<BoxInfo[]> {
  const r = await runVagrant(['box', 'list', '--machine-readable'], { timeoutMs: SHORT_TIMEOUT_MS, ...opts, quiet: true });
  // With no box at all vagrant exits non-zero after a warning row; that is an empty list, not an error.
  if (r.exitCode !== 0 && !/no installed boxes/i.test(r.stdout + r.stderr)) throw new VagrantError(['box', 'list'], r);
  return parseBoxList(r.stdout);
}

/** `vagrant box add --force --name NAME FILE_OR_URL` (a local .box file, or a URL). */
export async function boxAdd(source: string, opts: VagrantRunOptions & { name: string; provider?: string; force?: boolean; checksum?: { type: string; value: string } }): Promise<void> {
  const args = ['box', 'add', '--name', opts.name, '--no-color'];
  if (opts.force !== false) args.push('--force');
  if (opts.provider) args.push('--provider', opts.provider);
  if (opts.checksum) args.push('--checksum-type', opts.checksum.type, '--checksum', opts.checksum.value);
  args.push(source);
  await runVagrantOk(args, opts);
}

export async function pluginList(opts: VagrantRunOptions = {}): Promise<Array<{ name: string; version: string }>> {
  const r = await runVagrant(['plugin', 'list', '--no-color'], { timeoutMs: SHORT_TIMEOUT_MS, ...opts, quiet: true });
  if (r.exitCode !== 0) throw new VagrantError(['plugin', 'list'], r);
  return parsePluginList(r.stdout);
}
