// HostTargets from OpenSSH client config text (typically `vagrant ssh-config` output).
// The `ssh-config` package only parses; the evaluation is ours, so that nothing is ever executed
// (`Match exec`, ProxyCommand, KnownHostsCommand), looked up (CanonicalizeHostname) or read (Include).

import { homedir, userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parse, type Line } from 'ssh-config';
import type { HostTarget } from './types.js';
import { UsageError } from '../spec/errors.js';
import { readInputFile } from '../util/fs.js';

export interface SshConfigOptions {
  /** Host aliases to build targets for; default: every concrete (non-wildcard) Host alias, in file order. */
  names?: string[];
  /** Directory that relative IdentityFile paths are resolved against; default: the current directory. */
  configDir?: string;
  /** Home directory for `~` and `%d`; default: os.homedir(). */
  homeDir?: string;
  /** Called for every directive that was ignored on purpose (Match exec, Include, ProxyCommand, …). */
  onWarning?: (message: string) => void;
  /** Login user when no User applies (e.g. the spec's ssh.user); default: the local user. */
  defaultUser?: string;
}

export interface SshConfigResult {
  targets: HostTarget[];
  warnings: string[];
  /** Lines that are not `Keyword value`. */
  problems: SshConfigProblem[];
  /** Asked-for names that no concrete `Host` line names (their targets are mere defaults). */
  missing: string[];
}

interface Block {
  kind: 'global' | 'host' | 'match';
  patterns?: string[];
  criteria?: Array<[string, string[]]>;
  line: number;
  directives: Array<{ param: string; value: string }>;
}

type Values = Map<string, string[]>;

const ACCUMULATING = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward']);
const NEVER_RUN = new Set(['proxycommand', 'knownhostscommand', 'localcommand', 'permitlocalcommand', 'include', 'canonicalizehostname']);

function valueText(v: string | Array<{ val: string }>): string {
  if (typeof v === 'string') return v;
  return v.map((p) => p.val).join(' ');
}

function valueList(v: string | Array<{ val: string }>): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  return v.map((p) => p.val);
}

function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(text);
}

/** OpenSSH pattern list: a negated match excludes, otherwise any positive match includes. */
function patternListMatches(patterns: string[], text: string): boolean {
  let hit = false;
  for (const list of patterns) {
    for (const p of list.split(',')) {
      if (!p) continue;
      if (p.startsWith('!')) {
        if (globMatch(p.slice(1), text)) return false;
      } else if (globMatch(p, text)) hit = true;
    }
  }
  return hit;
}

function isConcrete(alias: string): boolean {
  return !/[*?!]/.test(alias);
}

/** A line that is not `Keyword value` (the parser keeps such text as a directive with an odd name). */
export interface SshConfigProblem {
  line: number;
  text: string;
}

const nl = (s: string | undefined): number => s?.match(/\n/g)?.length ?? 0;

function flatten(lines: Line[], problems: SshConfigProblem[] = []): Block[] {
  const blocks: Block[] = [{ kind: 'global', line: 0, directives: [] }];
  let lineNo = 0;
  const countLines = (l: Line): void => {
    const start = lineNo + 1 + nl(l.before);
    lineNo += nl(l.before) + nl(l.after) + (l.type === 1 ? nl(l.param) + nl(l.separator) + nl(valueText(l.value)) : 0);
    if (l.type === 1 && (!/^[A-Za-z][A-Za-z0-9]*$/.test(l.param) || valueText(l.value).trim() === ''))
      problems.push({ line: start, text: `${l.param}${l.separator}${valueText(l.value)}`.trim().split('\n')[0]!.slice(0, 60) });
  };
  for (const l of lines) {
    const start = lineNo + 1 + nl(l.before);
    countLines(l);
    if (l.type !== 1) continue;
    if ('config' in l && /^host$/i.test(l.param)) {
      const b: Block = { kind: 'host', patterns: valueList(l.value), line: start, directives: [] };
      for (const sub of l.config) {
        countLines(sub);
        if (sub.type === 1) b.directives.push({ param: sub.param, value: valueText(sub.value) });
      }
      blocks.push(b);
    } else if ('config' in l && /^match$/i.test(l.param)) {
      const vals = valueList(l.value);
      const criteria: Array<[string, string[]]> = [];
      for (let i = 0; i < vals.length; i++) {
        const key = vals[i]!.toLowerCase();
        if (key === 'all' || key === 'canonical' || key === 'final') criteria.push([key, []]);
        else criteria.push([key, (vals[++i] ?? '').split(',')]);
      }
      const b: Block = { kind: 'match', criteria, line: start, directives: [] };
      for (const sub of l.config) {
        countLines(sub);
        if (sub.type === 1) b.directives.push({ param: sub.param, value: valueText(sub.value) });
      }
      blocks.push(b);
    } else {
      blocks[0]!.directives.push({ param: l.param, value: valueText(l.value) });
    }
  }
  return blocks;
}

class Evaluator {
  readonly warnings: string[] = [];
  readonly problems: SshConfigProblem[] = [];
  private readonly warned = new Set<string>();
  private readonly blocks: Block[];
  private readonly home: string;
  private readonly localUser: string;

  constructor(
    text: string,
    private readonly opts: SshConfigOptions,
  ) {
    this.blocks = flatten(parse(text), this.problems);
    this.home = opts.homeDir ?? homedir();
    let u = process.env.USER ?? '';
    try {
      u = userInfo().username;
    } catch {
      /* no passwd entry: keep $USER */
    }
    this.localUser = u || 'root';
  }

  warn(msg: string): void {
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    this.warnings.push(msg);
    this.opts.onWarning?.(msg);
  }

  aliases(): string[] {
    const out: string[] = [];
    for (const b of this.blocks) {
      if (b.kind !== 'host') continue;
      for (const list of b.patterns ?? []) for (const p of list.split(',')) if (p && isConcrete(p) && !out.includes(p)) out.push(p);
    }
    return out;
  }

  hasConcreteHost(alias: string): boolean {
    return this.aliases().some((a) => a.toLowerCase() === alias.toLowerCase());
  }

  /** OpenSSH evaluation: blocks in file order, first value wins (IdentityFile and friends accumulate). */
  values(alias: string): Values {
    const v: Values = new Map();
    const set = (param: string, value: string, where: string): void => {
      const key = param.toLowerCase();
      if (NEVER_RUN.has(key)) {
        if (key === 'canonicalizehostname' && /^no$/i.test(value)) return;
        this.warn(`${where}: "${param}" is ignored (kcore-wizard never runs commands, reads files or resolves names from an SSH config)`);
        return;
      }
      if (ACCUMULATING.has(key)) v.set(key, [...(v.get(key) ?? []), value]);
      else if (!v.has(key)) v.set(key, [value]);
    };
    for (const b of this.blocks) {
      const where = b.kind === 'global' ? 'SSH config' : `SSH config line ${b.line}`;
      if (b.kind === 'host' && !patternListMatches(b.patterns ?? [], alias)) continue;
      if (b.kind === 'match' && !this.matchApplies(b, alias, v)) continue;
      for (const d of b.directives) set(d.param, d.value, where);
    }
    return v;
  }

  private matchApplies(b: Block, alias: string, v: Values): boolean {
    const where = `SSH config line ${b.line}`;
    for (const [key] of b.criteria ?? []) {
      if (key === 'exec') {
        this.warn(`${where}: "Match exec" is never executed; that Match block is ignored`);
        return false;
      }
    }
    for (const [key, pats] of b.criteria ?? []) {
      const hostName = v.get('hostname')?.[0] ?? alias;
      switch (key) {
        case 'all':
        case 'canonical':
        case 'final':
          break;
        case 'host':
          if (!patternListMatches(pats, this.expand(hostName, alias, v))) return false;
          break;
        case 'originalhost':
          if (!patternListMatches(pats, alias)) return false;
          break;
        case 'user':
          if (!patternListMatches(pats, v.get('user')?.[0] ?? this.localUser)) return false;
          break;
        case 'localuser':
          if (!patternListMatches(pats, this.localUser)) return false;
          break;
        default:
          this.warn(`${where}: "Match ${key}" is not supported; that Match block is ignored`);
          return false;
      }
    }
    return true;
  }

  /** %-tokens and a leading ~ . */
  expand(s: string, alias: string, v: Values, forPath = false): string {
    const hostName = v.get('hostname')?.[0] ?? alias;
    let out = s.replace(/%([%hdpnru])/g, (_, c: string) => {
      switch (c) {
        case '%':
          return '%';
        case 'h':
          return hostName.replace(/%h/g, alias);
        case 'd':
          return this.home;
        case 'p':
          return v.get('port')?.[0] ?? '22';
        case 'n':
          return alias;
        case 'r':
          return v.get('user')?.[0] ?? this.localUser;
        default:
          return this.localUser;
      }
    });
    if (forPath && (out === '~' || out.startsWith('~/'))) out = this.home + out.slice(1);
    return out;
  }

  target(alias: string, depth = 0, jumpOverride?: HostTarget | null): HostTarget {
    if (depth > 8) throw new Error(`SSH config: ProxyJump chain for "${alias}" is too long (a loop?)`);
    const v = this.values(alias);
    const hostName = (v.get('hostname')?.[0] ?? alias).replace(/%h/g, alias);
    const portText = v.get('port')?.[0] ?? '22';
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`SSH config: host "${alias}" has an invalid Port "${portText}"`);
    const t: HostTarget = { name: alias, host: hostName, port, user: v.get('user')?.[0] ?? this.opts.defaultUser ?? this.localUser };
    const ids = (v.get('identityfile') ?? []).filter((f) => f.toLowerCase() !== 'none');
    if (ids.length > 0) {
      const p = this.expand(ids[0]!, alias, v, true);
      t.identityFile = isAbsolute(p) ? p : resolve(this.opts.configDir ?? process.cwd(), p);
    }
    const agent = v.get('identityagent')?.[0];
    if (agent && agent.toLowerCase() !== 'none' && agent !== 'SSH_AUTH_SOCK') {
      const a = this.expand(agent.startsWith('$') ? (process.env[agent.slice(1)] ?? '') : agent, alias, v, true);
      if (a) t.agent = a;
    }
    if (jumpOverride !== undefined) {
      if (jumpOverride) t.proxyJump = jumpOverride;
    } else {
      const pj = v.get('proxyjump')?.[0];
      if (pj && pj.toLowerCase() !== 'none') t.proxyJump = this.jumpChain(pj, depth + 1);
    }
    return t;
  }

  /** `a,b,c`: connect to a, from there to b, from there to c, then to the target. */
  private jumpChain(spec: string, depth: number): HostTarget {
    let prev: HostTarget | undefined;
    for (const hop of spec.split(',').filter(Boolean)) {
      prev = this.jumpHost(hop, depth, prev);
    }
    if (!prev) throw new Error(`SSH config: empty ProxyJump "${spec}"`);
    return prev;
  }

  private jumpHost(hop: string, depth: number, via: HostTarget | undefined): HostTarget {
    const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.trim());
    if (!m) throw new Error(`SSH config: cannot read ProxyJump hop "${hop}"`);
    const host = m[2]!.replace(/^\[|\]$/g, '');
    // A hop that names a Host of this config gets that block's settings; its own ProxyJump only for the first hop.
    const t = this.target(host, depth, via ?? (this.hasConcreteHost(host) ? undefined : null));
    if (m[1]) t.user = m[1];
    if (m[3]) t.port = Number(m[3]);
    return t;
  }
}

/** Targets and the list of directives that were ignored on purpose. */
export function parseSshConfig(configText: string, opts: SshConfigOptions = {}): SshConfigResult {
  const ev = new Evaluator(configText, opts);
  const names = opts.names ?? ev.aliases();
  const targets = names.map((n) => ev.target(n));
  return { targets, warnings: ev.warnings, problems: ev.problems, missing: names.filter((n) => !ev.hasConcreteHost(n)) };
}

/**
 * HostTargets from `vagrant ssh-config` output or any OpenSSH client config: Host, HostName, Port, User,
 * IdentityFile (`~`, `%d`, `%h`… and relative paths resolved), IdentityAgent, ProxyJump. Wildcard Host
 * blocks act as defaults. `Match exec` is never executed: such a block is ignored with a warning.
 */
export function targetsFromSshConfig(configText: string, opts: SshConfigOptions = {}): HostTarget[] {
  return parseSshConfig(configText, opts).targets;
}

/**
 * The workspace's ssh.config (or --ssh-config) for these host names, read safely (readInputFile) and
 * refused as a whole (exit 2, file and line named) when a line is not `Keyword value` or a host is
 * missing, instead of silently connecting to `<name>:22`.
 */
export async function loadSshConfig(file: string, opts: SshConfigOptions & { names: string[] }): Promise<SshConfigResult> {
  const text = await readInputFile(file, { what: 'an OpenSSH client config (`vagrant ssh-config` output)' });
  let r: SshConfigResult;
  try {
    r = parseSshConfig(text, opts);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message.replace(/^SSH config: /, '')}`);
  }
  const p = r.problems[0];
  if (p)
    throw new UsageError(`${file}:${p.line}: cannot read "${p.text}": every line must be \`Keyword value\` (e.g. \`HostName 10.0.0.101\`); rewrite it with \`vagrant ssh-config > ssh.config\` in the workspace`);
  if (r.missing.length > 0)
    throw new UsageError(`${file} has no \`Host\` entry for ${r.missing.join(', ')}: run \`kcore-wizard up\` to start ${r.missing.length === 1 ? 'it' : 'them'} and refresh ssh.config`);
  return r;
}
