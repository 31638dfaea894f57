/**
 * Parse, validate and save `kcore.yaml` with precise errors: YAML syntax, wrong types, unknown fields and rule
 * violations are all reported as `file:line:column: field: message` (SpecError, exit code 2). This is the heavy
 * half of the spec (the yaml parser and zod, ~1 MB of code): load.ts loads it only when its cache cannot answer.
 */
import { isMap, isNode, LineCounter, parseDocument, stringify, type Document } from 'yaml';
import type { z } from 'zod';
import { specSchema, type ClusterSpec } from './schema.js';
import { SpecError, type SpecProblem } from './errors.js';
import { validateSpec } from './validate.js';
import { writeFileAtomic } from '../util/fs.js';
import { SPEC_FILE, specPath, type LoadedSpec } from './load.js';

/** Parse spec text; `file` is only used in messages. Throws SpecError. */
export function parseSpec(text: string, file: string): LoadedSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SpecError(
      file,
      doc.errors.slice(0, 1).map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const message =
          e.code === 'MULTIPLE_DOCS'
            ? 'more than one YAML document (a `---` line starts a second one): keep one cluster spec per file'
            : `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
        return { field: '', message, line: pos.line, column: pos.col };
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) throw new SpecError(file, [{ field: '', message: 'the file is empty: run `kcore-wizard init` to write a default spec' }]);
  const parsed = specSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const missing = parsed.error.issues.filter((i) => i.path.length === 1 && (i.code === 'invalid_type' || i.code === 'invalid_value') && i.input === undefined);
    // A spec cut down to a few lines: one line that says how to get a whole one, not a line per section.
    if (missing.length >= 3)
      throw new SpecError(file, [
        {
          field: '',
          message: `${missing.length} sections are missing (${missing.map((i) => i.path[0]).join(', ')}): run \`kcore-wizard init --force\` in this folder to write a complete spec (with every default), then edit it`,
          line: 1,
        },
      ]);
    throw new SpecError(file, parsed.error.issues.map((issue) => problemFromIssue(issue, doc, lineCounter)));
  }
  const { errors, warnings } = validateSpec(parsed.data);
  const locate = (p: SpecProblem) => ({ ...p, ...position(doc, lineCounter, p.field.split('.').filter(Boolean)) });
  if (errors.length > 0) throw new SpecError(file, errors.map(locate));
  return { spec: parsed.data, file, warnings: warnings.map(locate) };
}

/** Validate a spec object (e.g. built from flags or the wizard); throws SpecError with field names. */
export function checkSpec(data: unknown, file = SPEC_FILE): LoadedSpec {
  const parsed = specSchema.safeParse(data, { reportInput: true });
  if (!parsed.success)
    throw new SpecError(file, parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: issueMessage(i) })));
  const { errors, warnings } = validateSpec(parsed.data);
  if (errors.length > 0) throw new SpecError(file, errors);
  return { spec: parsed.data, file, warnings };
}

export function renderSpecYaml(spec: ClusterSpec): string {
  const header = [
    '# kcore-wizard cluster spec. Every field is described in the README ("The cluster spec").',
    '# Edit it, then run `kcore-wizard render` (files only) or `kcore-wizard up` (machines and cluster).',
    '',
  ].join('\n');
  const body: Record<string, unknown> = { ...spec };
  if (spec.provider !== 'existing' && spec.machines.length === 0) delete body.machines;
  return header + stringify(body, { lineWidth: 0 });
}

export async function saveSpec(workspace: string, spec: ClusterSpec): Promise<{ file: string; changed: boolean }> {
  const file = specPath(workspace);
  const changed = await writeFileAtomic(file, renderSpecYaml(spec));
  return { file, changed };
}

function problemFromIssue(issue: z.core.$ZodIssue, doc: Document, lc: LineCounter): SpecProblem {
  const keys = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    // Point at the first unknown key itself.
    const unknown = issue.keys;
    const field = [...keys, unknown[0]!].join('.');
    const pos = keyPosition(doc, lc, keys, unknown[0]!);
    return { field, message: `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}: check the spelling (the README lists every field)`, ...pos };
  }
  return { field: keys.join('.'), message: issueMessage(issue), ...position(doc, lc, keys) };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    const expected = issue.code === 'invalid_type' ? issue.expected : issue.message.replace(/^Invalid (option|input): /, '');
    return `is missing: ${expected}`;
  }
  if (issue.code === 'invalid_type') {
    // `prefix: 10.0` is a number to YAML: quoting it keeps it text.
    const quote = issue.expected === 'string' && typeof issue.input === 'number' ? ': YAML reads it as a number; put the value in quotes' : '';
    return `expected ${issue.expected === 'string' ? 'text' : issue.expected}, got ${describe(issue.input)}${quote}`;
  }
  if (issue.code === 'invalid_format' && typeof issue.input === 'string' && issue.input.length > 63 && /DNS label/.test(issue.message))
    return `${issue.message}: at most 63 characters, got ${issue.input.length}`;
  if (issue.code === 'invalid_value') return `${issue.message.replace(/^Invalid (option|input): /, '')}, got ${describe(issue.input)}`;
  return issue.message;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

/** Line/column of the value at `keys`, or of the nearest existing parent. */
function position(doc: Document, lc: LineCounter, keys: string[]): { line?: number; column?: number } {
  for (let n = keys.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n).map(keyOf), true);
    if (isNode(node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return { line: p.line, column: p.col };
    }
  }
  return {};
}

function keyPosition(doc: Document, lc: LineCounter, parent: string[], key: string): { line?: number; column?: number } {
  const node = parent.length === 0 ? doc.contents : doc.getIn(parent.map(keyOf), true);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (isNode(pair.key) && String(pair.key.toJSON()) === key && pair.key.range) {
        const p = lc.linePos(pair.key.range[0]);
        return { line: p.line, column: p.col };
      }
    }
  }
  return position(doc, lc, parent);
}

function keyOf(k: string): string | number {
  return /^\d+$/.test(k) ? Number(k) : k;
}
