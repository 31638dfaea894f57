/**
 * Which machines to reach and how: vagrant providers from `<workspace>/ssh.config` (written from
 * `vagrant ssh-config`), provider `existing` from the spec's machine list.
 */
import path from 'node:path';
import { plannedHosts } from '../spec/hosts.js';
import type { ClusterSpec } from '../spec/schema.js';
import { UsageError } from '../spec/errors.js';
import { loadSshConfig } from '../ssh/ssh-config.js';
import { InputFileError } from '../util/fs.js';
import type { HostInfo } from '../engine/task.js';

export const SSH_CONFIG_FILE = 'ssh.config';

/**
 * `limit` (--limit: host or group names): a host outside it need not be in ssh.config; it keeps its
 * planned address as a target that no role of this run connects to (roles still see its name and IP).
 */
export async function resolveHosts(workspace: string, spec: ClusterSpec, opts: { sshConfig?: string; limit?: string[] } = {}): Promise<HostInfo[]> {
  const planned = plannedHosts(spec);
  if (spec.provider === 'existing' && !opts.sshConfig) {
    const identityFile = spec.ssh.identityFile ? path.resolve(workspace, spec.ssh.identityFile) : undefined;
    return planned.map((h) => ({ ...h, target: { name: h.name, host: h.sshAddress, port: h.sshPort, user: spec.ssh.user, identityFile } }));
  }
  const file = opts.sshConfig ?? path.join(workspace, SSH_CONFIG_FILE);
  const selected = (h: (typeof planned)[number]) => !opts.limit?.length || opts.limit.includes(h.name) || opts.limit.includes(h.group);
  const targets = await loadSshConfig(file, { names: planned.filter(selected).map((h) => h.name), configDir: path.dirname(file), defaultUser: spec.ssh.user }).then(
    (r) => r.targets,
    (e: unknown) => {
      if (e instanceof InputFileError && e.code === 'ENOENT')
        throw new UsageError(`${file} does not exist: the machines are not up yet. Run \`kcore-wizard up\` (or \`vagrant up && vagrant ssh-config > ssh.config\` in the workspace)`);
      throw e;
    },
  );
  return planned.map((h) => {
    const t = targets.find((x) => x.name === h.name);
    if (!t && !selected(h)) return { ...h, target: { name: h.name, host: h.sshAddress, port: h.sshPort, user: spec.ssh.user } };
    if (!t) throw new UsageError(`${h.name} is not in ${file}: run \`kcore-wizard up\` to start it and refresh ssh.config`);
    return { ...h, target: t };
  });
}
