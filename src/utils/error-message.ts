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
