/** A mistake in how a command was called (bad flag value): printed without a stack. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}
