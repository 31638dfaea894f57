/**
 * The files written into a cluster workspace from its spec: the Vagrantfile (machines only, no
 * provisioning) and an Ansible-compatible inventory. Writing is atomic and reports what changed.
 */
import path from 'node:path';
import type { ClusterSpec } from '../spec/schema.js';
import { plannedHosts, type PlannedHost } from '../spec/hosts.js';
import { GROUPS } from '../spec/names.js';
import { writeFileAtomic } from '../util/fs.js';
import { renderTemplate } from './env.js';

export interface RenderedFile {
  /** Path relative to the workspace. */
  path: string;
  content: string;
  mode: number;
}

export interface WriteResult {
  path: string;
  changed: boolean;
}

/** Name of the host-side bridge for the lxc provider's private network (Linux caps names at 15 chars). */
export function lxcBridgeName(spec: ClusterSpec): string {
  return `kc-${spec.name}`.slice(0, 15);
}

export function renderVagrantfile(spec: ClusterSpec): string {
  return renderTemplate('vagrant/Vagrantfile.njk', {
    spec,
    hosts: plannedHosts(spec),
    bridge: lxcBridgeName(spec),
  });
}

export function renderInventory(spec: ClusterSpec): string {
  const hosts = plannedHosts(spec);
  const groups = GROUPS.map((g) => ({ name: g, hosts: hosts.filter((h: PlannedHost) => h.group === g) }));
  return renderTemplate('inventory/inventory.ini.njk', { spec, groups, existing: spec.provider === 'existing' });
}

/** Every file the workspace gets from the spec (the Vagrantfile only when vagrant manages the machines). */
export function renderWorkspace(spec: ClusterSpec): RenderedFile[] {
  const files: RenderedFile[] = [];
  if (spec.provider !== 'existing') files.push({ path: 'Vagrantfile', content: renderVagrantfile(spec), mode: 0o644 });
  files.push({ path: 'inventory.ini', content: renderInventory(spec), mode: 0o644 });
  return files;
}

export async function writeWorkspace(workspace: string, spec: ClusterSpec): Promise<WriteResult[]> {
  const results: WriteResult[] = [];
  for (const f of renderWorkspace(spec)) {
    const changed = await writeFileAtomic(path.join(workspace, f.path), f.content, f.mode);
    results.push({ path: f.path, changed });
  }
  return results;
}
