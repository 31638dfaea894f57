/** Errors about user input: they name the file, line and field, say what to do, and exit with code 2. */

export interface SpecProblem {
  /** Dotted path of the field, e.g. `groups.etcd.count`; empty for the whole document. */
  field: string;
  message: string;
  line?: number;
  column?: number;
}

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class SpecError extends UsageError {
  constructor(
    readonly file: string,
    readonly problems: SpecProblem[],
  ) {
    super(formatProblems(file, problems));
    this.name = 'SpecError';
  }
}

export function formatProblem(file: string, p: SpecProblem): string {
  const where = p.line !== undefined ? `${file}:${p.line}${p.column !== undefined ? `:${p.column}` : ''}` : file;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export function formatProblems(file: string, problems: SpecProblem[]): string {
  return problems.map((p) => formatProblem(file, p)).join('\n');
}
