import { inspect } from 'node:util';

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

/**
 * Inputs the pipeline reads but no node writes, declared in the catalog but absent (a raw file
 * not there yet): said before any node runs, so nothing half-runs and no resume hint repeats the run.
 */
export class MissingInputDataError extends RunnerError {
  override readonly name = 'MissingInputDataError';
  constructor(
    readonly pipelineName: string,
    /** Each missing dataset and how the catalog describes it (its file, table, ...). */
    readonly datasets: readonly { name: string; description: string }[],
  ) {
    const listed = [...datasets]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((dataset) => `'${dataset.name}' (${dataset.description})`)
      .join(', ');
    super(
      `Pipeline '${pipelineName}' reads input data that does not exist: ${listed}. ` +
        `Nothing ran. Put the data there, or point the catalog entries at where it is.`,
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
    const reason =
      options.cause instanceof Error ? options.cause.message : describeThrown(options.cause);
    super(
      `Node '${nodeName}' failed: ${reason}` +
        (resumeCommand ? `\nTo resume from the failed node, run:\n  ${resumeCommand}` : ''),
      options,
    );
  }
}

/** A node threw a value that is not an Error (`throw { code: 42 }`); `value` is what it threw. */
export class NonErrorThrownError extends RunnerError {
  override readonly name = 'NonErrorThrownError';
  constructor(
    readonly nodeName: string,
    readonly value: unknown,
  ) {
    super(`Node '${nodeName}' threw a value that is not an Error: ${describeThrown(value)}`, {
      cause: value,
    });
  }
}

/** A node returned `undefined` for one of its outputs (Kedro refuses to save `None`). */
export class UndefinedOutputError extends RunnerError {
  override readonly name = 'UndefinedOutputError';
  constructor(
    readonly nodeName: string,
    readonly dataset: string,
  ) {
    super(
      `Node '${nodeName}' returned undefined for output '${dataset}': a dataset cannot hold undefined ` +
        `(return null, or declare no output for a node that returns nothing).`,
    );
  }
}

/**
 * A value on its way to or from a worker thread that structured clone cannot copy faithfully: a
 * function, a symbol, or a class instance (whose prototype and methods a copy would lose).
 */
export class UncloneableValueError extends RunnerError {
  override readonly name = 'UncloneableValueError';
  constructor(
    readonly nodeName: string,
    readonly direction: 'input' | 'output',
    /** The dataset holding the value, when known. */
    readonly dataset: string | undefined,
    /** Where in the dataset's value, e.g. `.model.weights[2]` (empty: the value itself). */
    readonly path: string,
    /** What was found, e.g. `an instance of class LinearModel`. */
    readonly found: string,
  ) {
    const where = dataset === undefined ? `its ${direction}` : `${direction} '${dataset}'`;
    super(
      `Node '${nodeName}' cannot run in a worker thread: ${where} holds ${found}` +
        `${path ? ` at ${dataset ?? ''}${path}` : ''}, which structured clone cannot copy ` +
        `(plain objects, arrays, primitives, typed arrays, Map, Set, Date, RegExp and Error can). ` +
        `Keep the node on the event loop with node(fn, { ..., thread: false }), or exchange plain data.`,
    );
  }
}

/** A worker thread could not run a node: the project failed to load there, the node is not in it, or the thread died. */
export class NodeThreadError extends RunnerError {
  override readonly name = 'NodeThreadError';
  constructor(
    readonly nodeName: string,
    readonly pipelineName: string,
    readonly projectDir: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Node '${nodeName}' of pipeline '${pipelineName}' could not run in a worker thread: ${reason} ` +
        `(project ${projectDir}). A node opts out of threads with node(fn, { ..., thread: false }).`,
      options,
    );
  }
}

/** A thrown value as text: JSON when it has one, else Node's inspection; long texts cut. */
export function describeThrown(value: unknown, limit = 1_000): string {
  let text: string | undefined;
  if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value !== 'function' && typeof value !== 'symbol') {
    try {
      text = JSON.stringify(value);
    } catch {
      text = undefined;
    }
  }
  text ??= inspect(value, { depth: 4, breakLength: Infinity });
  return text.length > limit ? `${text.slice(0, limit)}… (${text.length} characters)` : text;
}
