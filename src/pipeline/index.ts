/**
 * The Kedro pipeline core: nodes wired to datasets by name, immutable pipelines validated at
 * construction (unique names, unique producers, no cycles), filters, composition and namespaces.
 */

// Nodes
export { Node, node } from './node.js';
export type { NodeDescription, NodeFunction } from './node.js';
export { isParameter, parseDuration } from './node-options.js';
export type { DatasetSpec, NodeOptions, NormalizedSpec, RetryOptions } from './node-options.js';

// Pipelines
export { Pipeline, pipeline } from './pipeline.js';
export type { NameArgument, PipelineDescription, PipelineItem } from './pipeline.js';
export type { PipelineFilterOptions } from './selection.js';
export type { DatasetMapping, PipelineOptions } from './namespace.js';

// Diagrams
export { pipelineToMermaid } from './mermaid.js';
export type { MermaidOptions } from './mermaid.js';

// Errors
export {
  CircularDependencyError,
  DuplicateNodeNameError,
  DuplicateNodeOutputError,
  EmptyPipelineSelectionError,
  InvalidArgumentError,
  InvalidNameError,
  InvalidNodeDefinitionError,
  InvalidPipelineItemError,
  NamespaceError,
  NodeInputMissingError,
  NodeInputOutputOverlapError,
  NodeOutputShapeError,
  OutputNotUniqueError,
  ParameterOutputError,
  PipelineError,
  UnknownDatasetError,
  UnknownNodeError,
  UnknownTagError,
} from './errors.js';
