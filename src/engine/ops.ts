/**
 * Building blocks for role tasks: files, directories, system users and systemd services. Each looks at
 * the host with a probe (the engine runs the probes of a role's tasks on a host in one round trip),
 * then plan → apply. Also the batch script that carries several probes and its splitter.
 */
import { createHash } from 'node:crypto';
import { shellQuote } from '../ssh/quote.js';
import { contentOf, type LazyFile } from './artifacts.js';
import { probeTask, TaskFailure, type ProbeOutput, type Task, type TaskContext } from './task.js';

/**
 * One shell script that runs each probe in its own subshell (an `exit` ends only that probe) and
 * frames its stdout, stderr and exit status with a marker no file content can guess (`nonce`): each probe's
 * stdout and exit status on the batch's stdout, its stderr on the batch's stderr (each stream keeps its order).
 * No temp file: a file for the probes' stderr cost a mktemp, a `cat` per probe and an `rm` on every host.
 */
export function batchScript(scripts: string[], nonce: string): string {
  const m = `@@kcore-probe-${nonce}`;
  const parts = scripts.map((s, i) =>
    [
      `printf '%s\\n' '${m} out ${i}'; printf '%s\\n' '${m} err ${i}' >&2`,
      `( ${s}`,
      `) </dev/null`,
      `kc_rc=$?`,
      `printf '\\n%s %s\\n' '${m} end ${i}' "$kc_rc"; printf '\\n%s\\n' '${m} done ${i}' >&2`,
    ].join('\n'),
  );
  return [...parts, 'true'].join('\n');
}

/**
 * Each probe's part of a batch's stdout and stderr; null for a part that is not there whole in both (the batch
 * was cut off). Text outside the frames (what sudo printed before the batch ran) belongs to no probe.
 */
export function splitBatch(stdout: string, stderr: string, count: number, nonce: string): Array<ProbeOutput | null> {
  const m = `@@kcore-probe-${nonce}`;
  const out: Array<ProbeOutput | null> = [];
  for (let i = 0; i < count; i++) {
    const a = stdout.indexOf(`${m} out ${i}\n`);
    const c = a < 0 ? -1 : stdout.indexOf(`\n${m} end ${i} `, a);
    const rc = c < 0 ? null : /^(\d+)\n/.exec(stdout.slice(c + `\n${m} end ${i} `.length));
    const e = stderr.indexOf(`${m} err ${i}\n`);
    const f = e < 0 ? -1 : stderr.indexOf(`\n${m} done ${i}\n`, e);
    if (a < 0 || c < 0 || !rc || e < 0 || f < 0) {
      out.push(null);
      continue;
    }
    out.push({ stdout: stdout.slice(a + `${m} out ${i}\n`.length, c), stderr: stderr.slice(e + `${m} err ${i}\n`.length, f), exitCode: Number(rc[1]) });
  }
  return out;
}

/** The last line of a batch's stderr that is not one of its frames: what a cut-off batch said last. */
export function lastWords(stderr: string, nonce: string): string | undefined {
  const m = `@@kcore-probe-${nonce} `;
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(m))
    .pop();
}

export interface FileSpec {
  path: string;
  /** The content; a binary of the artifact cache is read when it is uploaded (LazyFile, with `sha256`). */
  content: string | Buffer | LazyFile;
  mode: number;
  owner?: string;
  group?: string;
  /** The SHA-256 of `content` when it is known already (a binary of the artifact cache): not hashed again. */
  sha256?: string;
  /** Secret content (private keys): never logged or shown in plans. */
  secret?: boolean;
  /** Handlers to notify when this file changes (e.g. `restart etcd`, `daemon-reload`). */
  notify?: string | string[];
  /** Why this file exists (the teaching view, `explain HOST --files`): plain words, two or three sentences. */
  why?: string;
}

interface RemoteFile {
  exists: boolean;
  mode?: number;
  owner?: string;
  group?: string;
  sha256?: string;
}

/**
 * One read-only shell command that reports mode, owner and SHA-256 of every path: a single `stat` and a
 * single digest command over all of them, `openssl dgst -sha256 -r` where the host has openssl, else
 * `sha256sum` (missing files are simply absent from both outputs).
 */
export function statScript(paths: string[], opts: { stamped?: string[]; stampDir?: string } = {}): string {
  const stamped = paths.filter((p) => opts.stamped?.includes(p));
  const hashed = paths.filter((p) => !stamped.includes(p)).map(shellQuote).join(' ');
  const args = paths.map(shellQuote).join(' ');
  // openssl's SHA-256 uses the CPU's SHA extensions where coreutils' does not (~4x cheaper on a 38 MB
  // etcd binary); Flatcar and Debian ship openssl. `-r` prints coreutils' `<hex> *<path>` form, so one
  // parser reads both. A missing file prints nothing on stdout with either tool.
  const digest = hashed ? `if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r -- ${hashed}; else sha256sum -- ${hashed}; fi 2>/dev/null; ` : '';
  return `stat -c 'S %a %U %G %n' -- ${args} 2>/dev/null; ${digest}${stamped.map((p) => stampedDigestScript(p, opts.stampDir ?? HOST_STAMPS)).join('; ')}${stamped.length ? '; ' : ''}true`;
}

/** Where hosts keep the digests of big files kcore-wizard checks (root only). */
export const HOST_STAMPS = '/var/lib/kcore-wizard/sha256';

/** Files this big are checked through a stamp on the host (stampedDigestScript) rather than hashed every run. */
export const STAMP_MIN_BYTES = 1 << 20;

/**
 * The digest of one big file (a binary) printed as `<hex> *<path>`, from a stamp on the host while the file's
 * inode, size, mtime and ctime are those the stamp was taken with (nanoseconds: GNU stat `%.9Y %.9Z`; ctime
 * moves with any write, chmod or chown and cannot be set back), else hashed and stamped again. Re-hashing the
 * etcd binaries (40 MB) cost each member ~35 ms of CPU per converge. The stamp is one short line written in
 * one write: cut short, it does not match, and the file is hashed again.
 */
function stampedDigestScript(file: string, dir: string): string {
  const q = shellQuote(file);
  const stamp = shellQuote(`${dir}/${file.replaceAll('/', '%')}`);
  const hash = `kc_h=$( { openssl dgst -sha256 -r -- ${q} 2>/dev/null || sha256sum -- ${q}; } | cut -c1-64) && [ \${#kc_h} = 64 ] && echo "$kc_h *"${q} && { mkdir -p -m 700 ${shellQuote(dir)} && printf '%s %s\\n' "$kc_k" "$kc_h" > ${stamp}; } 2>/dev/null`;
  return `kc_k=$(stat -c '%i %s %.9Y %.9Z' -- ${q} 2>/dev/null) && { kc_l=; read -r kc_l 2>/dev/null < ${stamp}; if [ -n "$kc_l" ] && [ "\${kc_l% *}" = "$kc_k" ]; then echo "\${kc_l##* } *"${q}; else ${hash}; fi; }`;
}

export function parseStat(stdout: string, paths: string[]): RemoteFile[] {
  const stats = new Map<string, { mode: number; owner: string; group: string }>();
  const sums = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const st = /^S (\d+) (\S+) (\S+) (.+)$/.exec(line);
    if (st) {
      stats.set(st[4]!, { mode: parseInt(st[1]!, 8), owner: st[2]!, group: st[3]! });
      continue;
    }
    const sum = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (sum) sums.set(sum[2]!, sum[1]!);
  }
  return paths.map((p) => {
    const st = stats.get(p);
    return st ? { exists: true, ...st, sha256: sums.get(p) } : { exists: false };
  });
}

const digests = new WeakMap<Buffer, string>();

/** SHA-256 of wanted content; a Buffer shared by many hosts (a binary) is hashed once. */
export function sha256(content: string | Buffer | LazyFile): string {
  if (typeof content === 'string') return createHash('sha256').update(content).digest('hex');
  // A file left unread always comes with its digest (readUnpacked): this is a programming error.
  if (!Buffer.isBuffer(content)) throw new Error(`internal: ${content.path} was not read and has no known SHA-256`);
  let d = digests.get(content);
  if (!d) {
    d = createHash('sha256').update(content).digest('hex');
    digests.set(content, d);
  }
  return d;
}

/** What differs between a wanted file and the remote one (pure). */
export function fileDiff(want: FileSpec, have: RemoteFile): string | null {
  const owner = want.owner ?? 'root';
  const group = want.group ?? owner;
  if (!have.exists) return `create ${want.path} (mode ${want.mode.toString(8).padStart(4, '0')}, ${owner}:${group})`;
  const parts: string[] = [];
  if (have.sha256 !== (want.sha256 ?? sha256(want.content))) parts.push('content differs');
  if (have.mode !== want.mode) parts.push(`mode ${have.mode?.toString(8)} → ${want.mode.toString(8)}`);
  if (have.owner !== owner || have.group !== group) parts.push(`owner ${have.owner}:${have.group} → ${owner}:${group}`);
  return parts.length ? `update ${want.path} (${parts.join(', ')})` : null;
}

/**
 * A task that keeps a set of files in place; gathers all of them in one round trip. `paths`, when the remote paths
 * are known before the content (binaries: their names come from the spec, their content from the host's
 * architecture): the probe is built from them alone, so it can ride in an earlier batch (read ahead, before the
 * facts), and the content is read at the task's turn. Each of these paths is checked through its digest stamp.
 */
export function filesTask(
  name: string,
  files: (ctx: TaskContext) => Promise<FileSpec[]> | FileSpec[],
  tags: string[] = [],
  opts: { paths?: (ctx: TaskContext) => string[] } = {},
): Task<{ want: FileSpec[]; have: RemoteFile[] }> {
  return probeTask({
    name,
    tags,
    async probe(ctx) {
      if (opts.paths) {
        const paths = opts.paths(ctx);
        return {
          script: statScript(paths, { stamped: paths }),
          parse: async (o) => {
            const want = await files(ctx);
            const got = want.map((f) => f.path);
            if (got.join('\0') !== paths.join('\0')) throw new Error(`${name}: the files are ${got.join(', ')}, not the ${paths.join(', ')} probed`);
            return { want, have: parseStat(o.stdout, paths) };
          },
        };
      }
      const want = await files(ctx);
      const paths = want.map((f) => f.path);
      const stamped = want.filter((f) => f.content.length >= STAMP_MIN_BYTES).map((f) => f.path);
      return { script: statScript(paths, { stamped }), parse: (o) => ({ want, have: parseStat(o.stdout, paths) }) };
    },
    plan(_ctx, { want, have }) {
      return want.map((w, i) => fileDiff(w, have[i]!)).filter((d): d is string => d !== null);
    },
    async apply(ctx, { want, have }) {
      for (const [i, w] of want.entries()) {
        if (fileDiff(w, have[i]!) === null) continue;
        await ctx.conn.upload({ path: w.path, content: await contentOf(w.content), mode: w.mode, owner: w.owner ?? 'root', group: w.group ?? w.owner ?? 'root', sudo: true, secret: w.secret }, { signal: ctx.signal });
        ctx.output(`wrote ${w.path}`);
        for (const h of [w.notify ?? []].flat()) ctx.notify(h);
      }
    },
  });
}

/** A directory with mode and owner. */
export function directoryTask(name: string, dirs: Array<{ path: string; mode: number; owner?: string; group?: string }>, tags: string[] = []) {
  return probeTask({
    name,
    tags,
    probe: () => ({
      script: dirs.map((d) => `if [ -d ${shellQuote(d.path)} ]; then stat -c '%a %U %G' ${shellQuote(d.path)}; else echo missing; fi`).join('\n'),
      parse: (o) => o.stdout.split('\n').slice(0, dirs.length),
    }),
    plan(_ctx, have) {
      return dirs
        .map((d, i) => {
          const owner = d.owner ?? 'root';
          const group = d.group ?? owner;
          const line = have[i]?.trim() ?? 'missing';
          if (line === 'missing') return `create directory ${d.path} (mode ${d.mode.toString(8).padStart(4, '0')}, ${owner}:${group})`;
          const [mode, o, g] = line.split(' ');
          return parseInt(mode!, 8) !== d.mode || o !== owner || g !== group ? `fix directory ${d.path} (${line} → ${d.mode.toString(8)} ${owner} ${group})` : null;
        })
        .filter((x): x is string => x !== null);
    },
    async apply(ctx) {
      const script = dirs
        .map((d) => `install -d -m ${d.mode.toString(8)} -o ${shellQuote(d.owner ?? 'root')} -g ${shellQuote(d.group ?? d.owner ?? 'root')} ${shellQuote(d.path)}`)
        .join(' && ');
      await ctx.conn.run(script, { sudo: true, signal: ctx.signal });
    },
  });
}

/** A system user (no login, no home created) for a daemon. */
export function systemUserTask(name: string, user: string, home: string) {
  return probeTask({
    name,
    probe: () => ({ script: `id -u ${shellQuote(user)}`, parse: (o) => o.exitCode === 0 }),
    plan: (_ctx, exists) => (exists ? [] : [`create system user ${user}`]),
    async apply(ctx) {
      const nologin = `$(command -v nologin || echo /bin/false)`;
      await ctx.conn.run(`useradd --system --no-create-home --home-dir ${shellQuote(home)} --shell "${nologin}" --user-group ${shellQuote(user)}`, { sudo: true, signal: ctx.signal });
    },
  });
}

export interface ServiceState {
  enabled: string;
  active: string;
}

/**
 * A systemd service that must be enabled and running. It is restarted only when a handler named
 * `restart <unit>` was notified earlier in the role (its configuration changed), and systemd is
 * reloaded first when `daemon-reload` was notified (a unit file changed).
 */
export function serviceTask(
  unit: string,
  opts: {
    restartHandler?: string;
    wait?: (ctx: TaskContext) => Promise<void>;
    /** A shell snippet run (as root, best effort: its failure does not stop the restart) just before a restart. */
    beforeRestart?: (ctx: TaskContext) => string;
  } = {},
) {
  const handler = opts.restartHandler ?? `restart ${unit}`;
  return probeTask<ServiceState>({
    name: `${unit} service enabled and running`,
    probe: () => ({
      script: `systemctl is-enabled ${unit} 2>/dev/null; echo "|"; systemctl is-active ${unit} 2>/dev/null; true`,
      parse: (o) => {
        const [enabled, active] = o.stdout.split('|').map((s) => s.trim());
        return { enabled: enabled || 'unknown', active: active || 'unknown' };
      },
    }),
    plan(ctx, s) {
      const out: string[] = [];
      if (ctx.notified('daemon-reload')) out.push('reload systemd (unit files changed)');
      if (s.enabled !== 'enabled') out.push(`enable ${unit} (is ${s.enabled})`);
      if (s.active !== 'active') out.push(`start ${unit} (is ${s.active})`);
      else if (ctx.notified(handler)) out.push(`restart ${unit} (its configuration changed)`);
      return out;
    },
    async apply(ctx, s) {
      const cmds: string[] = [];
      if (ctx.notified('daemon-reload')) cmds.push('systemctl daemon-reload');
      if (s.enabled !== 'enabled') cmds.push(`systemctl enable ${unit}`);
      // --no-block: members of a new etcd cluster wait for each other; the readiness wait below is bounded.
      if (s.active !== 'active') cmds.push(`systemctl start --no-block ${unit}`);
      else if (ctx.notified(handler)) {
        const before = opts.beforeRestart?.(ctx);
        cmds.push(before ? `{ ( ${before} ) || true; systemctl restart --no-block ${unit}; }` : `systemctl restart --no-block ${unit}`);
      }
      await ctx.conn.run(cmds.join(' && '), { sudo: true, signal: ctx.signal });
    },
    verify: opts.wait,
  });
}

/** Poll `check` until it passes or `timeoutMs` runs out; the failure says what was last seen. */
export async function waitFor(what: string, check: () => Promise<string | null>, opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; hint?: string }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: string | null = null;
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    last = await check();
    if (last === null) return;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 1000, Math.max(0, deadline - Date.now()))));
  }
  throw new TaskFailure(`${what} did not become ready within ${Math.round(opts.timeoutMs / 1000)} s: ${last}`, opts.hint);
}
