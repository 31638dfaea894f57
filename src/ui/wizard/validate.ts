/**
 * Inline validation of the wizard's draft: the same checks and messages as `kcore-wizard init` and
 * `up` (the spec's zod schema, then validateSpec), keyed by field path for the form.
 */
import { SpecError, type SpecProblem } from '../../spec/errors.js';
import { checkSpec } from '../../spec/parse.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { validateSpec } from '../../spec/validate.js';

export interface DraftProblems {
  /** First error per field path. */
  errors: Record<string, string>;
  warnings: Record<string, string>;
  all: SpecProblem[];
}

const cache = new WeakMap<ClusterSpec, DraftProblems>();

export function validateDraft(spec: ClusterSpec): DraftProblems {
  const hit = cache.get(spec);
  if (hit) return hit;
  const errors: SpecProblem[] = [];
  let warnings: SpecProblem[] = [];
  try {
    warnings = checkSpec(spec).warnings;
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    errors.push(...e.problems);
  }
  // checkSpec stops at the schema when a field has the wrong shape; the cross-field rules still say
  // useful things about the other fields, so run them too (the draft always has the right types).
  const rules = validateSpec(spec);
  for (const p of rules.errors) if (!errors.some((q) => q.field === p.field && q.message === p.message)) errors.push(p);
  if (warnings.length === 0) warnings = rules.warnings;
  const out: DraftProblems = { errors: {}, warnings: {}, all: errors };
  for (const p of errors) out.errors[p.field] ??= p.message;
  for (const p of warnings) out.warnings[p.field] ??= p.message;
  cache.set(spec, out);
  return out;
}
