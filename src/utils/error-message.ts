/** Message building shared by the error families: problem / expected / received / hint. */

/** What an error reports beyond its problem line. */
export interface ErrorDetails {
  expected?: string;
  received?: string;
  hint?: string;
  cause?: unknown;
}

/** Quotes and joins names for messages: `'a', 'b'`. */
export function quoteList(names: Iterable<string>): string {
  return [...names].map((name) => `'${name}'`).join(', ');
}

/** Names without duplicates, sorted, frozen. */
export function sortedNames(names: Iterable<string>): readonly string[] {
  return Object.freeze([...new Set(names)].sort());
}

/** The message: the problem, then the expected, received and hint lines that are given. */
export function formatProblem(problem: string, details: ErrorDetails): string {
  const lines = [problem];
  if (details.expected !== undefined) lines.push(`  expected: ${details.expected}`);
  if (details.received !== undefined) lines.push(`  received: ${details.received}`);
  if (details.hint !== undefined) lines.push(`  hint: ${details.hint}`);
  return lines.join('\n');
}

/**
 * Base of the error families whose messages read problem / expected / received / hint
 * (`PipelineError`, `PipelineMLError`): the hint is also kept as a field for programs.
 */
export class ProblemError extends Error {
  override readonly name: string = 'ProblemError';
  /** What the user can do about it, when there is something to say. */
  readonly hint?: string;

  constructor(problem: string, details: ErrorDetails = {}) {
    super(
      formatProblem(problem, details),
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    if (details.hint !== undefined) this.hint = details.hint;
  }
}
