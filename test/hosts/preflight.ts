// Can this machine run test hosts? Integration tests call this and fail loudly with the reason.
import fs from 'node:fs';
import path from 'node:path';

/** Commands light hosts need, and where Debian installs them. */
const LIGHT_TOOLS = ['ip', 'unshare', 'nsenter', 'mount', 'umount', 'hostname', 'sshd', 'ssh-keygen', 'ssh', 'openssl', 'sudo'];
/** Extra commands for systemd machines (debootstrap only matters while the rootfs cache is built). */
const SYSTEMD_TOOLS = ['systemd-nspawn', 'debootstrap', 'flock'];

const PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function which(tool: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...PATH_DIRS];
  for (const dir of dirs) {
    const file = path.join(dir, tool);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function canRunHosts(opts: { systemd?: boolean } = {}): Promise<{ ok: boolean; reason?: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `test hosts need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'test hosts need root (network namespaces, mounts, bridges)' };
  const tools = [...LIGHT_TOOLS, ...(opts.systemd ? SYSTEMD_TOOLS : [])];
  const missing = tools.filter((t) => which(t) === undefined);
  if (missing.length > 0) {
    return { ok: false, reason: `missing commands: ${missing.join(', ')} (run test/hosts/install.sh)` };
  }
  const filesystems = fs.readFileSync('/proc/filesystems', 'utf8');
  if (!/\boverlay\b/.test(filesystems)) return { ok: false, reason: 'the kernel has no overlay filesystem' };
  if (!fs.existsSync('/proc/self/ns/net')) return { ok: false, reason: 'the kernel has no network namespaces' };
  return { ok: true };
}
