/**
 * Datasets: the load/save/exists/describe contract, the built-in implementations
 * (kedro-datasets naming), the registry that maps `type:` strings to factories, and the error
 * family.
 *
 * @module
 */

// Contract
export type { Dataset, DatasetContext, DatasetFactory } from './types.js';
export { AbstractDataset, formatDescription } from './abstract-dataset.js';
export type { BaseDatasetOptions } from './abstract-dataset.js';
export { AbstractFileDataset } from './file-dataset.js';
export type { FileDatasetOptions } from './file-dataset.js';

// Implementations
export { MemoryDataset, inferCopyMode } from './memory.js';
export type { CopyMode, MemoryDatasetOptions } from './memory.js';
export { JSONDataset } from './json-dataset.js';
export type { JSONDatasetOptions } from './json-dataset.js';
export { TextDataset } from './text-dataset.js';
export { CSVDataset } from './csv-dataset.js';
export type { CSVDatasetOptions, CSVLoadArgs, CSVSaveArgs } from './csv-dataset.js';
export { ParquetDataset } from './parquet-dataset.js';
export type { ParquetDatasetOptions, ParquetLoadArgs, ParquetSaveArgs } from './parquet-dataset.js';
export { ModelStateDataset } from './model-state-dataset.js';
export type { ModelStateDatasetOptions, StatefulModel } from './model-state-dataset.js';

// Tables
export {
  columnsToArrow,
  arrowToColumns,
  rowsToColumns,
  columnsToRows,
  isArrowTable,
} from './table.js';
export type { Row, TableData, TableFormat, ColumnarTable } from './table.js';

// Registry and configuration
export { DatasetRegistry, BUILTIN_DATASET_TYPES } from './registry.js';
export type { DatasetRegistryOptions } from './registry.js';
export { parseDatasetConfig, fileEntryShape } from './config-schema.js';
export { atomicWrite } from './atomic-write.js';
export { generateVersion, VERSION_PATTERN } from './versioning.js';
export { isInside, isExplicitAbsolute, resolveDatasetPath } from './paths.js';

// Errors
export {
  DatasetError,
  DatasetNotFoundError,
  VersionNotFoundError,
  DatasetConfigError,
  UnknownDatasetTypeError,
  DatasetPathError,
  DatasetArgumentError,
} from './errors.js';
export type { DatasetConfigIssue, DatasetOperation } from './errors.js';
export {
  PartitionedDataset,
  IncrementalDataset,
  confirmIncrementalDatasets,
  withRunKey,
} from './partitions/index.js';
export type {
  PartitionLoaders,
  PartitionData,
  PartitionFactory,
  PartitionedDatasetOptions,
  IncrementalDatasetOptions,
  ConfirmHookOptions,
} from './partitions/index.js';
export {
  SQLTableDataset,
  SQLQueryDataset,
  TableExistsError,
  SqlConnectionError,
} from './sql/index.js';
export type {
  SQLTableDatasetOptions,
  SQLQueryDatasetOptions,
  SqlConnectionFields,
  IfExists,
  SqlParams,
} from './sql/index.js';
