/**
 * The host side of the lxc provider's private network: one Linux bridge per cluster
 * (`lxcBridgeName(spec)`, e.g. `kc-kcore`) holding `<prefix>.254/24`, made before `vagrant up`
 * because LXC attaches each container's eth0 to it at start. Nothing else: no NAT, no forwarding,
 * no DHCP (each container's address is static, set by LXC), so the containers reach this machine and
 * each other and nothing beyond.
 *
 * The bridge is recorded in `<ws>/.kcore/lxc-bridge.json` when kcore-wizard creates it, and `destroy`
 * removes only a bridge recorded there, by its exact name, once no container is attached.
 */
import { execa } from 'execa';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { lxcBridgeName } from '../render/workspace.js';
import type { ClusterSpec } from '../spec/schema.js';
import { writeFileAtomic } from '../util/fs.js';

export function bridgeRecordPath(workspace: string): string {
  return path.join(workspace, '.kcore', 'lxc-bridge.json');
}

/** The host's address on the cluster bridge: .254, outside the 1x1–1x9 plan. */
export function bridgeAddress(spec: ClusterSpec): string {
  return `${spec.network.prefix}.254`;
}

async function ip(args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await execa('ip', args, { reject: false, timeout: 15_000, stdin: 'ignore' });
  return { ok: r.exitCode === 0, out: `${String(r.stdout)}${String(r.stderr)}` };
}

export async function bridgeExists(name: string): Promise<boolean> {
  return (await ip(['link', 'show', 'dev', name])).ok;
}

/** Interfaces attached to a bridge (container veths). */
export async function bridgePorts(name: string): Promise<string[]> {
  try {
    return await readdir(`/sys/class/net/${name}/brif`);
  } catch {
    return [];
  }
}

/** Make sure the cluster bridge exists, is up and holds `<prefix>.254/24`. Returns whether it was created. */
export async function ensureLxcBridge(workspace: string, spec: ClusterSpec): Promise<{ name: string; created: boolean }> {
  const name = lxcBridgeName(spec);
  const addr = `${bridgeAddress(spec)}/24`;
  let created = false;
  if (!(await bridgeExists(name))) {
    const r = await ip(['link', 'add', 'name', name, 'type', 'bridge']);
    if (!r.ok && !(await bridgeExists(name))) throw new Error(`could not create the bridge ${name}: ${r.out.trim()} (this needs root)`);
    created = r.ok;
    if (created) await writeFileAtomic(bridgeRecordPath(workspace), JSON.stringify({ name, address: addr, createdAt: new Date().toISOString() }) + '\n', 0o644);
  } else {
    const kind = await ip(['-d', 'link', 'show', 'dev', name]);
    if (!/\bbridge\b/.test(kind.out)) throw new Error(`${name} exists on this machine but is not a bridge: rename the cluster (name in kcore.yaml) or remove that interface`);
  }
  const addrs = await ip(['-4', '-o', 'addr', 'show', 'dev', name]);
  if (!addrs.out.split(/\s+/).includes(addr)) {
    const r = await ip(['addr', 'add', addr, 'dev', name]);
    if (!r.ok && !/exists/i.test(r.out)) throw new Error(`could not give ${name} the address ${addr}: ${r.out.trim()}`);
  }
  const upR = await ip(['link', 'set', 'dev', name, 'up']);
  if (!upR.ok) throw new Error(`could not bring ${name} up: ${upR.out.trim()}`);
  return { name, created };
}

/**
 * Remove the cluster bridge if kcore-wizard created it (recorded) and nothing is attached any more.
 * Returns what happened, for the destroy summary.
 */
export async function removeLxcBridge(workspace: string, spec: ClusterSpec): Promise<'removed' | 'absent' | 'not-ours' | 'in-use'> {
  const name = lxcBridgeName(spec);
  let recorded: { name?: string } | undefined;
  try {
    recorded = JSON.parse(await readFile(bridgeRecordPath(workspace), 'utf8')) as { name?: string };
  } catch {
    recorded = undefined;
  }
  if (!(await bridgeExists(name))) {
    await rm(bridgeRecordPath(workspace), { force: true });
    return 'absent';
  }
  if (recorded?.name !== name) return 'not-ours';
  if ((await bridgePorts(name)).length > 0) return 'in-use';
  const r = await ip(['link', 'del', 'dev', name]);
  if (!r.ok && (await bridgeExists(name))) throw new Error(`could not remove the bridge ${name}: ${r.out.trim()}`);
  await rm(bridgeRecordPath(workspace), { force: true });
  return 'removed';
}
