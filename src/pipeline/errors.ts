/**
 * The pipeline error family: one class per broken rule, all extending `PipelineError`.
 *
 * Every class has a stable `name` (used as the Temporal failure type), readonly structured fields
 * for programs, and a message for people: what was expected, what was received (names sorted),
 * and a hint.
 */
import { ProblemError, quoteList, sortedNames } from '../utils/error-message.js';

export { quoteList };

function didYouMean(
  names: readonly string[],
  suggestions: Readonly<Record<string, string>>,
): string {
  return names
    .map((name) =>
      suggestions[name] ? `'${name}' (did you mean '${suggestions[name]}'?)` : `'${name}'`,
    )
    .join(', ');
}

/** Base class of every error raised while building, filtering or running a pipeline or a node. */
export class PipelineError extends ProblemError {
  override readonly name: string = 'PipelineError';
}

/** A node was declared with a value of the wrong form (function, inputs, outputs, options). */
export class InvalidNodeDefinitionError extends PipelineError {
  override readonly name = 'InvalidNodeDefinitionError';
  constructor(
    readonly node: string,
    readonly field: string,
    expected: string,
    readonly received: string,
    hint?: string,
  ) {
    super(`Node '${node}' has an invalid '${field}'.`, { expected, received, hint });
  }
}

/** A node, dataset, tag or namespace name is empty or contains characters that are not allowed. */
export class InvalidNameError extends PipelineError {
  override readonly name = 'InvalidNameError';
  constructor(
    readonly kind: 'node' | 'dataset' | 'tag' | 'namespace',
    readonly value: string,
    readonly node: string | undefined,
    expected: string,
  ) {
    super(`Invalid ${kind} name ${JSON.stringify(value)}${node ? ` in node '${node}'` : ''}.`, {
      expected,
      received: JSON.stringify(value),
    });
  }
}

/** A node lists the same dataset more than once among its outputs. */
export class DuplicateNodeOutputError extends PipelineError {
  override readonly name = 'DuplicateNodeOutputError';
  readonly datasets: readonly string[];
  constructor(
    readonly node: string,
    datasets: Iterable<string>,
  ) {
    const names = sortedNames(datasets);
    super(`Node '${node}' returns the same output more than once: ${quoteList(names)}.`, {
      expected: 'each output dataset named once per node',
      received: `duplicate outputs ${quoteList(names)}`,
    });
    this.datasets = names;
  }
}

/** A node reads a dataset it also writes. */
export class NodeInputOutputOverlapError extends PipelineError {
  override readonly name = 'NodeInputOutputOverlapError';
  readonly datasets: readonly string[];
  constructor(
    readonly node: string,
    datasets: Iterable<string>,
  ) {
    const names = sortedNames(datasets);
    super(`Node '${node}' has datasets that are both input and output: ${quoteList(names)}.`, {
      expected: 'no dataset both read and written by one node',
      received: `${quoteList(names)} in inputs and outputs`,
      hint: 'write the result to a new dataset name (e.g. add a suffix such as "_cleaned")',
    });
    this.datasets = names;
  }
}

/** A node declares a parameter (`params:x` or `parameters`) as an output. */
export class ParameterOutputError extends PipelineError {
  override readonly name = 'ParameterOutputError';
  constructor(
    readonly node: string,
    readonly dataset: string,
  ) {
    super(`Node '${node}' declares parameter '${dataset}' as an output.`, {
      expected: 'parameters only as inputs',
      received: `output '${dataset}'`,
      hint: 'parameters come from parameters.yml and --params; save computed values to a dataset instead',
    });
  }
}

/** `node.run()` was called without a value for one of the node's inputs. */
export class NodeInputMissingError extends PipelineError {
  override readonly name = 'NodeInputMissingError';
  readonly datasets: readonly string[];
  constructor(
    readonly node: string,
    datasets: Iterable<string>,
    received: Iterable<string>,
  ) {
    const names = sortedNames(datasets);
    super(`Node '${node}' is missing inputs ${quoteList(names)}.`, {
      expected: `values for ${quoteList(names)}`,
      received: `keys [${quoteList(sortedNames(received))}]`,
    });
    this.datasets = names;
  }
}

/** A node function returned a value that does not match the node's declared outputs. */
export class NodeOutputShapeError extends PipelineError {
  override readonly name = 'NodeOutputShapeError';
  constructor(
    readonly node: string,
    readonly expected: string,
    readonly received: string,
    /** Output keys that were missing or unexpected, when the node returns an object. */
    readonly keys: readonly string[] = [],
    hint?: string,
  ) {
    super(`Node '${node}' returned a value that does not match its outputs.`, {
      expected,
      received,
      hint,
    });
  }
}

/** Something that is neither a `Node` nor a `Pipeline` was given to `pipeline()`. */
export class InvalidPipelineItemError extends PipelineError {
  override readonly name = 'InvalidPipelineItemError';
  constructor(
    readonly index: number,
    readonly received: string,
  ) {
    super(`Item ${index} given to pipeline() is not a node or a pipeline.`, {
      expected: 'a Node (from node()) or a Pipeline (from pipeline())',
      received,
    });
  }
}

/** Two different nodes of one pipeline have the same name. */
export class DuplicateNodeNameError extends PipelineError {
  override readonly name = 'DuplicateNodeNameError';
  readonly names: readonly string[];
  constructor(names: Iterable<string>) {
    const list = sortedNames(names);
    super(`Pipeline has several nodes named ${quoteList(list)}.`, {
      expected: 'unique node names',
      received: `duplicate names ${quoteList(list)}`,
      hint: 'give the nodes distinct `name`s, or wrap one pipeline in a namespace',
    });
    this.names = list;
  }
}

/** More than one node produces the same dataset. */
export class OutputNotUniqueError extends PipelineError {
  override readonly name = 'OutputNotUniqueError';
  /** The first conflicting dataset (sorted) and its producers; `conflicts` has all of them. */
  readonly dataset: string;
  readonly nodes: readonly string[];
  readonly conflicts: readonly { readonly dataset: string; readonly nodes: readonly string[] }[];
  constructor(conflicts: ReadonlyMap<string, Iterable<string>>) {
    const list = [...conflicts.keys()]
      .sort()
      .map((dataset) => ({ dataset, nodes: sortedNames(conflicts.get(dataset) ?? []) }));
    const described = list.map((c) => `'${c.dataset}' <- ${quoteList(c.nodes)}`).join('; ');
    super(
      `Pipeline has datasets produced by more than one node: ${quoteList(list.map((c) => c.dataset))}.`,
      {
        expected: 'each dataset produced by at most one node',
        received: described,
        hint: 'rename one of the outputs, or namespace one of the pipelines',
      },
    );
    this.conflicts = list;
    this.dataset = list[0]?.dataset ?? '';
    this.nodes = list[0]?.nodes ?? [];
  }
}

/** The nodes' dependencies form a cycle. */
export class CircularDependencyError extends PipelineError {
  override readonly name = 'CircularDependencyError';
  constructor(
    /** Node names along the cycle: each depends on the previous, the first on the last. */
    readonly cycle: readonly string[],
    /** `datasets[i]` is produced by `cycle[i]` and consumed by the next node of the cycle. */
    readonly datasets: readonly string[],
  ) {
    const path =
      cycle.map((node, i) => `'${node}' -(${datasets[i] ?? '?'})-> `).join('') +
      `'${cycle[0] ?? ''}'`;
    super(`Pipeline has a circular dependency between nodes ${quoteList(sortedNames(cycle))}.`, {
      expected: 'an acyclic graph of nodes',
      received: path,
      hint: 'one of these nodes must not consume a dataset produced downstream of it',
    });
  }
}

/** A filter or lookup named nodes the pipeline does not have. */
export class UnknownNodeError extends PipelineError {
  override readonly name = 'UnknownNodeError';
  readonly names: readonly string[];
  constructor(
    names: Iterable<string>,
    readonly suggestions: Readonly<Record<string, string>>,
  ) {
    const list = sortedNames(names);
    super(`Pipeline has no node named ${didYouMean(list, suggestions)}.`, {
      expected: 'names of nodes in the pipeline',
      received: quoteList(list),
      hint: 'nodes of a namespaced pipeline are named "<namespace>.<name>"',
    });
    this.names = list;
  }
}

/** A filter named datasets the pipeline does not have in the required role. */
export class UnknownDatasetError extends PipelineError {
  override readonly name = 'UnknownDatasetError';
  readonly datasets: readonly string[];
  constructor(
    datasets: Iterable<string>,
    /** `input`: consumed by some node; `output`: produced by some node. */
    readonly role: 'input' | 'output',
    readonly suggestions: Readonly<Record<string, string>>,
    hint?: string,
  ) {
    const list = sortedNames(datasets);
    super(
      `Pipeline has no node ${role === 'input' ? 'consuming' : 'producing'} ${didYouMean(list, suggestions)}.`,
      {
        expected: `datasets that are ${role}s of nodes in the pipeline`,
        received: quoteList(list),
        hint,
      },
    );
    this.datasets = list;
  }
}

/** A filter named tags that no node of the pipeline carries. */
export class UnknownTagError extends PipelineError {
  override readonly name = 'UnknownTagError';
  readonly tags: readonly string[];
  constructor(
    tags: Iterable<string>,
    readonly suggestions: Readonly<Record<string, string>>,
    known: readonly string[],
  ) {
    const list = sortedNames(tags);
    super(`No node of the pipeline has tag ${didYouMean(list, suggestions)}.`, {
      expected: known.length ? `tags among ${quoteList(known)}` : 'a tag (but no node has any tag)',
      received: quoteList(list),
    });
    this.tags = list;
  }
}

/** A filter selected no node at all. */
export class EmptyPipelineSelectionError extends PipelineError {
  override readonly name = 'EmptyPipelineSelectionError';
  constructor(
    readonly filter: string,
    readonly criteria: string,
    hint?: string,
  ) {
    super(`Filter ${filter}(${criteria}) selected no node.`, {
      expected: 'at least one node',
      received: 'an empty selection',
      hint: hint ?? 'check the filter arguments against the pipeline (e.g. `pipeline.toString()`)',
    });
  }
}

/** A namespace, or an input/output/parameter remapping of a modular pipeline, is invalid. */
export class NamespaceError extends PipelineError {
  override readonly name = 'NamespaceError';
  readonly datasets: readonly string[];
  constructor(
    readonly namespace: string | undefined,
    readonly option: 'inputs' | 'outputs' | 'parameters',
    datasets: Iterable<string>,
    problem: string,
    details: { expected: string; hint?: string },
  ) {
    const list = sortedNames(datasets);
    const where = namespace ? `namespace '${namespace}'` : 'the modular pipeline';
    super(`Cannot remap ${option} ${quoteList(list)} of ${where}: ${problem}.`, {
      expected: details.expected,
      received: `${option}: ${quoteList(list)}`,
      hint: details.hint,
    });
    this.datasets = list;
  }
}

/**
 * A public pipeline method was given an argument of the wrong shape (a number where names are
 * expected, an array where an object of criteria is expected, an unknown criterion, ...).
 */
export class InvalidArgumentError extends PipelineError {
  override readonly name = 'InvalidArgumentError';
  /** The method called, e.g. `onlyNodes`. */
  readonly method: string;
  /** Path of the offending value among the arguments, e.g. `names[0]` or `criteria.tags[1]`. */
  readonly argument: string;

  constructor(options: {
    method: string;
    /** The parameter as the signature names it, e.g. `names` or `criteria`. */
    parameter: string;
    argument: string;
    expected: string;
    received: string;
    /** Replaces "expected …, received …" when there is something more precise to say. */
    problem?: string;
    hint?: string;
  }) {
    const problem = options.problem ?? `expected ${options.expected}, received ${options.received}`;
    super(`${options.method}(${options.parameter}): ${problem} → at ${options.argument}.`, {
      ...(options.hint !== undefined ? { hint: options.hint } : {}),
    });
    this.method = options.method;
    this.argument = options.argument;
  }
}
