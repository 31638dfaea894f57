/** Flag parsing for every command: node's util.parseArgs in strict mode, with errors that exit 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../spec/errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface CommandDef {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Longer help text shown by `kcore-wizard <command> --help`. */
  details?: string;
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  stdout: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number; rows?: number };
  stderr: { write(s: string): unknown };
  stdin: NodeJS.ReadStream | { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal: AbortSignal;
}

export function parseCommandArgs(cmd: CommandDef, argv: string[]) {
  const options: ParseArgsConfig['options'] = {};
  for (const [k, v] of Object.entries(cmd.options)) {
    const { description: _d, valueName: _v, ...rest } = v;
    options[k] = rest;
  }
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
    // parseArgs keeps the last of a repeated flag: `--workers 3 --workers 5` would silently mean 5.
    const seen = new Map<string, string>();
    for (const t of parsed.tokens) {
      if (t.kind !== 'option' || options[t.name]?.multiple) continue;
      const given = t.value ?? 'on';
      const before = seen.get(t.name);
      if (before !== undefined)
        throw new UsageError(`${cmd.name}: --${t.name} is given twice (${before} and ${given}): give it once${t.name === 'limit' || t.name === 'tags' || t.name === 'skip-tags' ? ', with a comma-separated list' : ''}`);
      seen.set(t.name, given);
    }
    const { tokens: _t, ...rest } = parsed;
    return rest;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const msg = (e as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '');
    throw new UsageError(`${cmd.name}: ${msg}\nRun \`kcore-wizard ${cmd.name} --help\` for the flags it takes.`);
  }
}

export function intFlag(values: CommandContext['values'], name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number, got "${String(v)}"`);
  return Number(v);
}

export function stringFlag(values: CommandContext['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function formatCommandHelp(cmd: CommandDef): string {
  const lines = [`Usage: ${cmd.usage}`, '', cmd.summary];
  if (cmd.details) lines.push('', cmd.details);
  const opts = Object.entries(cmd.options);
  if (opts.length) {
    lines.push('', 'Options:');
    const rows = opts.map(([k, v]) => [`${v.short ? `-${v.short}, ` : '    '}--${k}${v.type === 'string' ? ` <${v.valueName ?? 'value'}>` : ''}`, v.description] as const);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [a, b] of rows) lines.push(`  ${a.padEnd(w)}  ${b}`);
  }
  return lines.join('\n') + '\n';
}

export type OutputFormat = 'text' | 'json';

/** `--output text|json`; anything else is a usage error. */
export function outputFormat(values: CommandContext['values']): OutputFormat {
  const v = values.output;
  if (v === undefined || v === 'text') return 'text';
  if (v === 'json') return 'json';
  throw new UsageError(`--output takes "text" or "json", got "${String(v)}"`);
}
