/**
 * An offline run of the roles for the teaching view: the same RunContext and TaskContext the engine
 * builds, but with no SSH behind them. The roles' own file functions run against it, so a file's path,
 * mode, owner and content are what converge writes; where a file depends on the machine (its OS, its
 * containerd, its resolv.conf, its private interface) the spec's box defaults stand in and are named
 * (`assumptions`). Nothing here opens a connection, runs a process or writes outside a temp folder it
 * removes before returning.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ArtifactError, contentOf, type ArtifactSpec, type ArtifactStore } from '../engine/artifacts.js';
import type { Facts } from '../engine/facts.js';
import type { FileSpec } from '../engine/ops.js';
import { Blocked, TaskFailure, type HostInfo, type Role, type RunContext, type Task, type TaskContext } from '../engine/task.js';
import { pkiPaths } from '../pki/paths.js';
import { plannedHosts } from '../spec/hosts.js';
import type { ClusterSpec, GroupName } from '../spec/schema.js';
import { catScript } from '../ssh/scripts.js';
import type { ExecOptions, ExecResult, HostConnection } from '../ssh/types.js';

/** Content of a binary stand-in: the release file is not needed (nor read) to explain where it goes. */
const PLACEHOLDER = 'kcore-explain-binary-placeholder ';

/** What a machine of this spec is taken to be, and why. */
export interface AssumedHost {
  facts: Facts;
  /** Plain sentences: what was assumed about the machine and where it shows. */
  assumptions: string[];
  /** What `resolvConf` finds on the machine. */
  resolvConf: string;
}

/** The box a spec's machines run: Flatcar for virtualbox, libvirt and existing machines; Debian 12 for lxc. */
export function assumedHost(spec: ClusterSpec, host: { name: string; ip: string }): AssumedHost {
  const debian = spec.provider === 'lxc';
  const iface = 'eth1';
  const facts: Facts = {
    hostname: host.name,
    os: debian
      ? { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', idLike: '', family: 'debian' }
      : { id: 'flatcar', versionId: '', prettyName: 'Flatcar Container Linux', idLike: '', family: 'flatcar' },
    arch: 'amd64',
    systemd: true,
    containerRuntime: debian ? { containerd: null, docker: null } : { containerd: '/usr/bin/containerd', docker: '/usr/bin/docker' },
    privateIp: host.ip,
    privateInterface: iface,
    addresses: [{ iface, cidr: `${host.ip}/24` }],
    optBinWritable: true,
  };
  const os = debian
    ? `the machine runs the lxc provider's box (${spec.box.name}: Debian 12, no containerd of its own, so kcore-wizard installs containerd ${spec.versions.containerd} from its release; /etc/resolv.conf as written by the box)`
    : spec.provider === 'existing'
      ? `the machine runs Flatcar Container Linux, kcore-wizard's default OS (provider existing: the real machine may differ, and converge reads what it really runs), with Flatcar's own containerd and systemd-resolved`
      : `the machine runs the ${spec.provider} box ${spec.box.name} (Flatcar Container Linux) with Flatcar's own containerd and systemd-resolved`;
  return {
    facts,
    resolvConf: debian ? '/etc/resolv.conf' : '/run/systemd/resolve/resolv.conf',
    assumptions: [
      `${os}`,
      `architecture amd64, private network on ${iface} (only flanneld.service's --iface shows it)`,
      ...(debian ? [] : [`Flatcar's containerd settings as its release ships them (its /usr/share/containerd/config.toml is read on the machine by converge), and its containerd version taken as versions.containerd ${spec.versions.containerd}`]),
    ],
  };
}

/** A connection that never connects: reads answer as a machine fresh from its box would. */
function offlineConnection(host: HostInfo, assumed: AssumedHost, commands: string[]): HostConnection {
  const answer = (command: string): ExecResult => {
    commands.push(command);
    // kube-worker's resolvConf probe: which resolv.conf the kubelet hands to pods.
    if (command.includes('/run/systemd/resolve/resolv.conf')) return { stdout: `${assumed.resolvConf}\n`, stderr: '', exitCode: 0, durationMs: 0 };
    return { stdout: '', stderr: '', exitCode: 1, durationMs: 0 };
  };
  const refuse = () => Promise.reject(new Error('explain is offline: nothing is uploaded'));
  return {
    target: host.target,
    exec: async (command: string, _o?: ExecOptions) => answer(command),
    run: async (command: string, _o?: ExecOptions) => ({ ...answer(command), exitCode: 0 }),
    close: async () => undefined,
    sudoOk: async () => true,
    upload: refuse,
    readFile: async (file: string) => {
      commands.push(catScript(file));
      return null;
    },
    sha256: async () => null,
  } as HostConnection;
}

/**
 * An artifact store with nothing in it: `unpack` gives a folder of stand-ins, filled as the roles ask
 * for files in it (a role names the file it misses: "<artifact> has no <file>"), so binary paths and
 * modes come from the roles' own code without any release being downloaded.
 */
class OfflineArtifacts implements ArtifactStore {
  readonly source = 'offline';
  readonly dirs = new Map<string, { dir: string; a: ArtifactSpec }>();
  /** The temp folder of stand-ins, made on the first unpack and removed by close(). */
  root: Promise<string> | undefined;
  async fetch(a: ArtifactSpec): Promise<{ path: string; sha256: string }> {
    throw new ArtifactError(a.file, 'offline', 'explain downloads nothing');
  }
  async unpack(a: ArtifactSpec): Promise<string> {
    this.root ??= mkdtemp(path.join(tmpdir(), 'kcore-explain-'));
    const dir = path.join(await this.root, a.file);
    await mkdir(dir, { recursive: true });
    this.dirs.set(a.file, { dir, a });
    return dir;
  }
  describe(a: ArtifactSpec): string {
    return a.officialUrl;
  }
  /** Make the file a role said it misses; false when the message names none. */
  async provide(message: string): Promise<boolean> {
    for (const { dir, a } of this.dirs.values()) {
      const m = new RegExp(`^${a.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no (\\S+):`).exec(message);
      if (!m) continue;
      const file = path.join(dir, m[1]!);
      if (!file.startsWith(dir + path.sep)) return false;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${PLACEHOLDER}${a.file} ${a.id} ${a.version}`);
      return true;
    }
    return false;
  }
}

export interface OfflineFile {
  spec: FileSpec;
  role: string;
  task: string;
  /** For a binary stand-in: the release file it comes from. */
  binaryFrom?: string;
}

export interface OfflineRun {
  run: RunContext;
  hosts: HostInfo[];
  /** Files each host gets, in run order. */
  files(host: HostInfo): Promise<OfflineFile[]>;
  /** The commands a task sends to a host, as far as an offline run can follow them (its probe, or its gather's reads). */
  commands(task: Task<unknown>, host: HostInfo): Promise<string[]>;
  /** The same, synchronously: a probe's script, or the commands a gather sends before its first answer. */
  commandsNow(task: Task<unknown>, host: HostInfo): string[];
  assumed(host: HostInfo): AssumedHost;
  close(): Promise<void>;
}

/** Build an offline run of `spec` against `workspace` (its PKI is read when there; missing files are placeholders). */
export function offlineRun(spec: ClusterSpec, workspace: string, roles: readonly Role[]): OfflineRun {
  const artifacts = new OfflineArtifacts();
  const hosts: HostInfo[] = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.sshAddress, port: h.sshPort, user: spec.ssh.user } }));
  const controller = new AbortController();
  const run: RunContext = {
    spec,
    workspace,
    hosts,
    pki: pkiPaths(workspace),
    artifacts,
    // A dry run: a certificate the workspace has not issued yet stands in as a placeholder line.
    dryRun: true,
    signal: controller.signal,
    facts: new Map(),
    hostsOf: (g: GroupName) => hosts.filter((h) => h.group === g),
  };
  const assumedOf = new Map<string, AssumedHost>();
  const assumed = (h: HostInfo) => {
    let a = assumedOf.get(h.name);
    if (!a) assumedOf.set(h.name, (a = assumedHost(spec, h)));
    run.facts.set(h.name, a.facts);
    return a;
  };
  const taskContext = (host: HostInfo, commands: string[]): TaskContext => {
    const a = assumed(host);
    const notified = new Set<string>();
    return {
      run,
      host,
      conn: offlineConnection(host, a, commands),
      signal: controller.signal,
      facts: () => a.facts,
      output: () => undefined,
      unapplied: () => 0,
      notify: (h) => void notified.add(h),
      notified: (h) => notified.has(h),
    };
  };

  /** What a task gathers on `host`, retried while a role misses a stand-in binary. */
  async function gathered(t: Task<unknown>, ctx: TaskContext): Promise<unknown> {
    for (let attempt = 0; attempt < 64; attempt++) {
      try {
        if (t.probe) {
          const p = await t.probe(ctx);
          return await p.parse({ stdout: '', stderr: '', exitCode: 0 });
        }
        return await t.gather(ctx);
      } catch (e) {
        if (e instanceof TaskFailure && !(e instanceof Blocked) && (await artifacts.provide(e.message))) continue;
        return undefined;
      }
    }
    return undefined;
  }

  const hostsOfRole = (role: Role): HostInfo[] => {
    if (role.local) return [];
    const hs = role.hosts(run);
    return role.firstAvailable ? hs.slice(0, 1) : hs;
  };

  return {
    run,
    hosts,
    assumed,
    async files(host) {
      const out: OfflineFile[] = [];
      for (const role of roles) {
        if (!hostsOfRole(role).some((h) => h.name === host.name)) continue;
        for (const t of role.tasks as Task<unknown>[]) {
          if (t.tags?.includes('test')) continue;
          const ctx = taskContext(host, []);
          if (t.skip?.(ctx)) continue;
          const g = await gathered(t, ctx);
          const want = (g as { want?: unknown } | undefined)?.want;
          if (!Array.isArray(want)) continue;
          for (const w of want as FileSpec[]) {
            // A binary left unread (LazyFile) is read here: the stand-ins carry a placeholder text.
            const f = { ...w, content: await contentOf(w.content) };
            const text = typeof f.content === 'string' ? f.content : f.content.toString('utf8');
            const from = text.startsWith(PLACEHOLDER) ? text.slice(PLACEHOLDER.length).split(' ')[0] : undefined;
            out.push({ spec: f, role: role.name, task: t.name, binaryFrom: from });
          }
        }
      }
      return out;
    },
    async commands(t, host) {
      const commands: string[] = [];
      const ctx = taskContext(host, commands);
      if (t.probe) {
        try {
          const p = await t.probe(ctx);
          return [p.shows ?? p.script];
        } catch {
          return [];
        }
      }
      try {
        await t.gather(ctx);
      } catch {
        /* offline: reads that depend on an answer are not followed */
      }
      return commands;
    },
    commandsNow(t, host) {
      const commands: string[] = [];
      const ctx = taskContext(host, commands);
      try {
        if (t.probe) {
          const p = t.probe(ctx);
          if (!(p instanceof Promise)) return [p.shows ?? p.script];
          p.catch(() => undefined);
          return [];
        }
        // An async gather sends its first command before its first await: recorded now.
        t.gather(ctx).catch(() => undefined);
      } catch {
        /* a synchronous throw: nothing sent */
      }
      return commands;
    },
    async close() {
      controller.abort();
      if (artifacts.root) await rm(await artifacts.root, { recursive: true, force: true });
    },
  };
}
