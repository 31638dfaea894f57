/**
 * Pure parsers for what vagrant prints: the `==> name:` prefixes of its human output, the
 * `--machine-readable` CSV-ish lines, `vagrant plugin list` and `vagrant --version`. No I/O here, so
 * every format is unit-tested on recorded samples.
 */

/** One row of `--machine-readable` output: `timestamp,target,type,data…`. */
export interface MachineReadableRow {
  timestamp: number;
  /** Machine name, or '' for rows about vagrant itself. */
  target: string;
  type: string;
  data: string[];
}

/** Vagrant escapes commas as `%!(VAGRANT_COMMA)` and newlines as a literal `\n` inside fields. */
export function unescapeMachineReadable(field: string): string {
  return field.replace(/%!\(VAGRANT_COMMA\)/g, ',').replace(/\\n/g, '\n').replace(/\\r/g, '\r');
}

export function parseMachineReadable(text: string): MachineReadableRow[] {
  const rows: MachineReadableRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\d+),([^,]*),([^,]+)(?:,(.*))?$/.exec(line);
    if (!m) continue;
    rows.push({
      timestamp: Number(m[1]),
      target: m[2]!,
      type: m[3]!,
      data: m[4] === undefined ? [] : m[4].split(',').map(unescapeMachineReadable),
    });
  }
  return rows;
}

/** Vagrant's machine states we act on; providers report others (`saved`, `aborted`, `frozen`, …). */
export type MachineState = 'running' | 'poweroff' | 'stopped' | 'not_created' | 'saved' | 'aborted' | 'shutoff' | 'paused' | (string & {});

export interface MachineStatus {
  name: string;
  state: MachineState;
  provider?: string;
}

/** `vagrant status --machine-readable` → one entry per machine, in vagrant's order. */
export function parseStatus(text: string): MachineStatus[] {
  const byName = new Map<string, MachineStatus>();
  for (const row of parseMachineReadable(text)) {
    if (!row.target) continue;
    const entry = byName.get(row.target) ?? { name: row.target, state: 'unknown' };
    if (row.type === 'state' && row.data[0]) entry.state = row.data[0];
    else if (row.type === 'provider-name' && row.data[0]) entry.provider = row.data[0];
    else if (row.type === 'metadata' && row.data[0] === 'provider' && row.data[1]) entry.provider = row.data[1];
    byName.set(row.target, entry);
  }
  return [...byName.values()];
}

/** Is a machine up, whatever the provider calls it? */
export function isRunning(state: MachineState): boolean {
  return state === 'running';
}

/** `vagrant box list --machine-readable` → name, provider, version. */
export interface BoxInfo {
  name: string;
  provider: string;
  version: string;
}

export function parseBoxList(text: string): BoxInfo[] {
  const out: BoxInfo[] = [];
  let cur: Partial<BoxInfo> | undefined;
  for (const row of parseMachineReadable(text)) {
    const v = row.data[0] ?? '';
    if (row.type === 'box-name') {
      cur = { name: v };
      out.push(cur as BoxInfo);
    } else if (cur && row.type === 'box-provider') cur.provider = v;
    else if (cur && row.type === 'box-version') cur.version = v;
  }
  return out.map((b) => ({ name: b.name, provider: b.provider ?? '', version: b.version ?? '' }));
}

/** `vagrant plugin list` (human form: `vagrant-lxc (1.4.3, system)` plus indented detail lines). */
export function parsePluginList(text: string): Array<{ name: string; version: string }> {
  const out: Array<{ name: string; version: string }> = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_.-]+) \(([^,)]+)/.exec(line);
    if (m) out.push({ name: m[1]!, version: m[2]! });
  }
  return out;
}

/** `Vagrant 2.3.4` → `2.3.4`. */
export function parseVagrantVersion(text: string): string | undefined {
  return /Vagrant (\d+\.\d+\.\d+\S*)/.exec(text)?.[1];
}

/**
 * The machine a line of vagrant's human output is about: `==> etcd-01: Booting…`, the indented
 * `    etcd-01: SSH address: …` detail lines, and `Bringing machine 'etcd-01' up with 'lxc' provider…`.
 * With `machines`, only those names count (a line like `    note: something` is not a machine).
 */
export function parseMachineLine(line: string, machines?: readonly string[]): { machine?: string; text: string } {
  const known = (name: string) => !machines || machines.includes(name);
  const prefixed = /^(?:==> | {4})([A-Za-z0-9][A-Za-z0-9._-]*): ?(.*)$/.exec(line);
  if (prefixed && known(prefixed[1]!)) return { machine: prefixed[1]!, text: prefixed[2]! };
  const bringing = /^Bringing machine '([^']+)' up/.exec(line);
  if (bringing && known(bringing[1]!)) return { machine: bringing[1]!, text: line };
  return { text: line };
}

/** Split a stream into lines across chunk boundaries; `flush` returns the unterminated rest. */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const parts = text.split(/\r?\n/);
    this.rest = parts.pop() ?? '';
    // Progress bars redraw with bare \r: keep only the last state of such a line.
    return parts.map((p) => stripAnsi(p.slice(p.lastIndexOf('\r') + 1)));
  }
  flush(): string[] {
    const r = stripAnsi(this.rest.slice(this.rest.lastIndexOf('\r') + 1));
    this.rest = '';
    return r ? [r] : [];
  }
}

/** Terminal control sequences (colours, `ESC[K` line clears) have no place in a log line. */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}
