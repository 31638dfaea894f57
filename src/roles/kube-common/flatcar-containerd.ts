/**
 * Flatcar's own containerd configuration, read on the host, and the settings of it that our
 * config.toml carries over (pure: file text in, settings out).
 *
 * Flatcar runs its own containerd (the containerd-flatcar sysext) with the unit
 * /usr/lib/systemd/system/containerd.service: `Environment=CONTAINERD_CONFIG=/usr/share/containerd/config.toml`
 * and `ExecStart=/usr/bin/containerd --config ${CONTAINERD_CONFIG}`. Its shipped config.toml has no
 * `imports`, so a file in /etc/containerd/conf.d is never read; Flatcar's documented way to change it
 * is to copy /usr/share/containerd/config.toml to /etc/containerd/config.toml, change the copy and
 * select it with a unit drop-in (flatcar.org/docs/latest/container-runtimes/customizing-docker,
 * "Use a custom containerd configuration"). Ours is that copy: written from the settings read here
 * plus our own (SystemdCgroup, CNI dirs, sandbox image), selected by containerd.service.d/10-kcore.conf.
 *
 * Upstream (github.com/flatcar/scripts, sdk_container/src/third_party/coreos-overlay/coreos/sysext/containerd/,
 * the same file in lts-4081.3.10, stable-4593.2.5, beta-4757.1.0, alpha-4790.0.0 and main at ab6d76d):
 * `version = 2`; root /var/lib/containerd, state /run/containerd, grpc address /run/containerd/containerd.sock
 * with uid/gid 0; `subreaper = true`; `oom_score = -999`; `disabled_plugins = []`; a
 * plugins."io.containerd.runtime.v1.linux" table (shim, runtime, no_shim); plugins."io.containerd.grpc.v1.cri"
 * `enable_selinux = true`; runtimes.runc `runtime_type = "io.containerd.runc.v2"` with options
 * `SystemdCgroup = true`. No sandbox image, no CNI settings, no imports.
 */

/** Where Flatcar's containerd unit reads its configuration by default. */
export const FLATCAR_CONTAINERD_CONFIG = '/usr/share/containerd/config.toml';

/** What our config takes over from Flatcar's. */
export interface FlatcarContainerdSettings {
  /** CRI `enable_selinux` (Flatcar: true; its SELinux policy labels containers). */
  enableSelinux: boolean;
  /** CRI `selinux_category_range`, when Flatcar sets one. */
  selinuxCategoryRange?: number;
  /** Top-level `oom_score` (Flatcar: -999; its unit sets no OOMScoreAdjust). */
  oomScore?: number;
  /** Where the settings came from: the host's file, or the pinned copy below. */
  source: 'host' | 'pinned';
  /** Settings of Flatcar's file that our config does not carry, with why (for the plan output). */
  notCarried: string[];
}

/** Flatcar's settings as its build tree ships them (see above): used when the host's file cannot be read. */
export const FLATCAR_PINNED: FlatcarContainerdSettings = { enableSelinux: true, oomScore: -999, source: 'pinned', notCarried: [] };

/** `enable_selinux = true, oom_score = -999`: the settings carried, as the output and the config's header name them. */
export function flatcarCarried(s: FlatcarContainerdSettings): string[] {
  return [
    `enable_selinux = ${s.enableSelinux}`,
    ...(s.selinuxCategoryRange === undefined ? [] : [`selinux_category_range = ${s.selinuxCategoryRange}`]),
    ...(s.oomScore === undefined ? [] : [`oom_score = ${s.oomScore}`]),
  ];
}

const CRI_V2 = 'plugins."io.containerd.grpc.v1.cri"';
const CRI_V3 = 'plugins."io.containerd.cri.v1.runtime"';
const RUNC = ['containerd.runtimes.runc', 'containerd.runtimes.runc.options'];

/**
 * Keys of Flatcar's file our config sets itself, or that do nothing on a containerd with our config:
 * `subreaper` is no containerd setting at all (containerd 1.7 and 2.x have no such config field and
 * 2.x logs "Ignoring unknown key"); io.containerd.runtime.v1.linux is the v1 runtime, never used by
 * the CRI's runc v2 shim and removed in 2.0; uid/gid 0 and an empty disabled_plugins are the defaults.
 */
function handledByUs(table: string, key: string, value: string): string | null {
  const cri = table === CRI_V2 || table === CRI_V3 ? '' : [CRI_V2, CRI_V3].find((t) => table.startsWith(`${t}.`));
  if (table === '' && ['version', 'root', 'state'].includes(key)) return 'ours';
  if (table === '' && key === 'subreaper') return 'ignored';
  if (table === '' && key === 'disabled_plugins' && value === '[]') return 'ignored';
  if (table === 'grpc' && key === 'address') return 'ours';
  if (table === 'grpc' && (key === 'uid' || key === 'gid') && value === '0') return 'ignored';
  if (table === 'plugins."io.containerd.runtime.v1.linux"') return 'ignored';
  if (cri && RUNC.includes(table.slice(cri.length + 1)) && (key === 'runtime_type' || key === 'SystemdCgroup')) return 'ours';
  if ((table === CRI_V2 && key === 'sandbox_image') || (cri && table.slice(cri.length + 1) === 'cni')) return 'ours';
  if (table === 'plugins."io.containerd.cri.v1.images".pinned_images' && key === 'sandbox') return 'ours';
  return null;
}

/** One `key = value` a line under `[table]` headers: the subset of TOML Flatcar's file is written in. */
export function readFlatTables(text: string, file = FLATCAR_CONTAINERD_CONFIG): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>([['', new Map()]]);
  let cur = '';
  for (const [i, raw] of text.split('\n').entries()) {
    const l = raw.replace(/^\s+|\s+$/g, '');
    if (!l || l.startsWith('#')) continue;
    const where = `${file} line ${i + 1}`;
    const header = /^\[([^[\]]+)\]$/.exec(l);
    if (header) {
      cur = header[1]!.trim().replace(/'/g, '"');
      if (out.has(cur)) throw new Error(`${where}: table [${cur}] twice`);
      out.set(cur, new Map());
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+|"[^"]+")\s*=\s*("[^"]*"|'[^']*'|true|false|-?\d+|\[\s*\]|\[\s*("[^"]*"\s*,?\s*)+\])\s*(#.*)?$/.exec(l);
    if (!kv) throw new Error(`${where}: not a one-line key = value kcore-wizard can read: ${l}`);
    out.get(cur)!.set(kv[1]!, kv[2]!);
  }
  return out;
}

/** The settings our config carries, from the text of Flatcar's config.toml (throws on text it cannot read). */
export function flatcarContainerdSettings(text: string): FlatcarContainerdSettings {
  const t = readFlatTables(text);
  const version = t.get('')!.get('version');
  if (version !== '2' && version !== '3') throw new Error(`${FLATCAR_CONTAINERD_CONFIG}: config version ${version ?? '(none: 1)'}, kcore-wizard reads versions 2 and 3`);
  const cri = version === '3' ? CRI_V3 : CRI_V2;
  const s: FlatcarContainerdSettings = { enableSelinux: false, source: 'host', notCarried: [] };
  for (const [table, keys] of t) {
    for (const [key, value] of keys) {
      const name = table ? `${table}.${key}` : key;
      if (table === cri && key === 'enable_selinux' && /^(true|false)$/.test(value)) s.enableSelinux = value === 'true';
      else if (table === cri && key === 'selinux_category_range' && /^\d+$/.test(value)) s.selinuxCategoryRange = Number(value);
      else if (table === '' && key === 'oom_score' && /^-?\d+$/.test(value)) s.oomScore = Number(value);
      else if (table === '' && key === 'imports') s.notCarried.push(`${name} = ${value} (files imported by Flatcar's config are not read by ours)`);
      else if (!handledByUs(table, key, value)) s.notCarried.push(`${name} = ${value}`);
    }
  }
  return s;
}
