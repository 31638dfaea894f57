/**
 * Host facts, gathered in one read-only round trip: OS, architecture, systemd, container runtime, the
 * interface that holds the host's private-network address (never the NAT interface), writable /opt/bin.
 */
import { isSshError } from '../ssh/errors.js';
import { TaskFailure, type Probe } from './task.js';

export interface Facts {
  hostname: string;
  os: { id: string; versionId: string; prettyName: string; idLike: string; family: 'flatcar' | 'debian' | 'other' };
  /** Go-style architecture: amd64, arm64 … */
  arch: string;
  systemd: boolean;
  /** Paths of the runtimes found, and `containerd --version`'s line when containerd is there. */
  containerRuntime: { containerd: string | null; containerdVersion?: string; docker: string | null };
  /** The interface and CIDR that hold the planned private address. */
  privateIp: string;
  privateInterface: string;
  /** Every IPv4 address on the host, for messages. */
  addresses: Array<{ iface: string; cidr: string }>;
  optBinWritable: boolean;
}

export const FACTS_SCRIPT = [
  'if [ -r /etc/os-release ]; then . /etc/os-release; fi',
  'echo "os_id=${ID:-}"; echo "os_version=${VERSION_ID:-}"; echo "os_pretty=${PRETTY_NAME:-}"; echo "os_like=${ID_LIKE:-}"',
  'echo "arch=$(uname -m)"',
  'echo "hostname=$(hostname)"',
  'if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi',
  'echo "containerd=$(command -v containerd || true)"',
  'if command -v containerd >/dev/null; then echo "containerd_version=$(containerd --version 2>/dev/null | head -n1)"; fi',
  'echo "docker=$(command -v docker || true)"',
  "ip -o -4 addr show 2>/dev/null | while read -r _ iface _ cidr _; do echo \"addr=$iface $cidr\"; done",
  'if [ -d /opt/bin ]; then d=/opt/bin; else d=/opt; fi; if [ -w "$d" ]; then echo optbin=1; else echo optbin=0; fi',
].join('\n');

const ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', ppc64le: 'ppc64le', s390x: 's390x' };

/** Parse the output of FACTS_SCRIPT (pure; exported for tests). */
export function parseFacts(stdout: string, plannedIp: string, hostName: string): Facts {
  const kv = new Map<string, string>();
  const addresses: Facts['addresses'] = [];
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i < 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1).trim();
    if (k === 'addr') {
      const [iface, cidr] = v.split(' ');
      if (iface && cidr) addresses.push({ iface, cidr });
    } else kv.set(k, v);
  }
  const id = kv.get('os_id') ?? '';
  const like = kv.get('os_like') ?? '';
  const family = id === 'flatcar' || id === 'coreos' ? 'flatcar' : id === 'debian' || /\bdebian\b/.test(like) ? 'debian' : 'other';
  const priv = addresses.find((a) => a.cidr.split('/')[0] === plannedIp);
  if (!priv) {
    const list = addresses.map((a) => `${a.iface} ${a.cidr}`).join(', ') || 'none';
    throw new TaskFailure(
      `${hostName} has no interface with its private address ${plannedIp} (it has: ${list})`,
      'the private network is not configured on this machine: check the Vagrantfile private_network (or the spec machine\'s privateIp), then `vagrant reload`',
    );
  }
  const uname = kv.get('arch') ?? '';
  return {
    hostname: kv.get('hostname') ?? '',
    os: { id, versionId: kv.get('os_version') ?? '', prettyName: kv.get('os_pretty') ?? '', idLike: like, family },
    arch: ARCH[uname] ?? uname,
    systemd: kv.get('systemd') === '1',
    containerRuntime: { containerd: kv.get('containerd') || null, containerdVersion: kv.get('containerd_version') || undefined, docker: kv.get('docker') || null },
    privateIp: plannedIp,
    privateInterface: priv.iface,
    addresses,
    optBinWritable: kv.get('optbin') === '1',
  };
}

/**
 * The host's facts as a probe (run as root, batched by the engine with the probes of the bootstrap role and of
 * the host's next role: one exec). The engine folds the check that sudo works without a password into the first
 * sudo command on a connection, so a host without it fails here, before anything else runs on it: factsFailure
 * says so.
 */
export function factsProbe(plannedIp: string, hostName: string): Probe<Facts> {
  return { script: FACTS_SCRIPT, parse: (out) => parseFacts(out.stdout, plannedIp, hostName) };
}

/** The facts task's failure for an error of the exec its probe rode in: sudo that asks for a password, in words. */
export function factsFailure(user: string, hostName: string, e: unknown): unknown {
  if (isSshError(e) && e.kind === 'sudo')
    return new TaskFailure(`${user} cannot use sudo without a password on ${hostName}`, `allow it: echo '${user} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/kcore`);
  return e;
}
