/** Base class of errors raised by runners. */
export class RunnerError extends Error {
  override readonly name: string = 'RunnerError';
}

/** Free inputs of the pipeline that the catalog cannot provide. */
export class MissingInputsError extends RunnerError {
  override readonly name = 'MissingInputsError';
  constructor(
    readonly pipelineName: string,
    readonly datasets: readonly string[],
  ) {
    super(
      `Pipeline '${pipelineName}' needs input(s) ${[...datasets].sort().join(', ')} that the catalog does not provide: ` +
        `declare them in conf/base/catalog.yml (or parameters.yml for params:*) before running.`,
    );
  }
}

/** A node failed; names the node and says how to resume. */
export class NodeRunError extends RunnerError {
  override readonly name = 'NodeRunError';
  constructor(
    readonly nodeName: string,
    readonly resumeNodes: readonly string[],
    readonly resumeCommand: string | undefined,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `Node '${nodeName}' failed: ${reason}` +
        (resumeCommand ? `\nTo resume from the failed node, run:\n  ${resumeCommand}` : ''),
      options,
    );
  }
}
