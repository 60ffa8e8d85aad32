/**
 * Registry factories of `partitions.PartitionedDataset` and `partitions.IncrementalDataset`:
 * the YAML options of kedro-datasets (`path`, `dataset`, `filepath_arg`, `filename_suffix`,
 * `load_args.maxdepth`, `overwrite`, `save_lazily`, `checkpoint`, `metadata`; `credentials`
 * reach the underlying dataset). The underlying dataset is built by the registry from its own
 * `type:` string, so YAML still never imports code.
 */
import * as z from 'zod';
import { parseDatasetConfig } from '../config-schema.js';
import { DatasetConfigError } from '../errors.js';
import { resolveDatasetPath } from '../paths.js';
import type { DatasetContext, DatasetFactory } from '../types.js';
import type { ComparisonName } from './incremental-dataset.js';
import { COMPARISONS, IncrementalDataset } from './incremental-dataset.js';
import type { PartitionFactory } from './partitioned-dataset.js';
import { PartitionedDataset } from './partitioned-dataset.js';

const datasetShape = z.union([z.string().min(1), z.looseObject({ type: z.string().min(1) })]);

const commonShape = {
  path: z.string().min(1, 'path must not be empty'),
  dataset: datasetShape,
  filepath_arg: z.string().min(1).optional(),
  filename_suffix: z.string().optional(),
  load_args: z.strictObject({ maxdepth: z.number().int().min(1).optional() }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
};

const partitionedSchema = z.strictObject({
  ...commonShape,
  overwrite: z.boolean().optional(),
  save_lazily: z.boolean().optional(),
});

const comparisonNames = Object.keys(COMPARISONS) as [ComparisonName, ...ComparisonName[]];

const incrementalSchema = z.strictObject({
  ...commonShape,
  checkpoint: z
    .union([
      z.string(),
      z.strictObject({
        type: z.literal('text.TextDataset').optional(),
        filepath: z.string().min(1).optional(),
        comparison_func: z.enum(comparisonNames).optional(),
        force_checkpoint: z.string().optional(),
      }),
    ])
    .optional(),
});

type CommonEntry = z.output<typeof partitionedSchema> | z.output<typeof incrementalSchema>;

/** The partition factory and its description from the entry's `dataset` option. */
function underlying(
  parsed: CommonEntry,
  context: DatasetContext,
  type: string,
): { factory: PartitionFactory; description: Record<string, unknown> } {
  const config: Record<string, unknown> =
    typeof parsed.dataset === 'string' ? { type: parsed.dataset } : { ...parsed.dataset };
  const filepathArg = parsed.filepath_arg ?? 'filepath';
  const issues = [];
  if (filepathArg in config)
    issues.push({
      path: ['dataset', filepathArg],
      message: `'${filepathArg}' must not be set in the dataset definition: each partition's path fills it`,
    });
  if (config.versioned === true)
    issues.push({
      path: ['dataset', 'versioned'],
      message: 'versioned underlying datasets are not supported in a partitioned folder',
    });
  if (issues.length > 0) {
    throw new DatasetConfigError(
      `Invalid configuration for dataset '${context.name}' of type ${type}:\n` +
        issues
          .map((issue) => `  ✖ ${issue.message} → at ${context.name}.${issue.path.join('.')}`)
          .join('\n'),
      { dataset: context.name, type, issues },
    );
  }
  const { credentials: _credentials, ...description } = config;
  // Fail now on an unknown type or bad options, not at the first load.
  context.build({ ...config, [filepathArg]: 'partition-check' }, context.name);
  return {
    factory: (filepath) => context.build({ ...config, [filepathArg]: filepath }, context.name),
    description,
  };
}

/** Registry factory for `partitions.PartitionedDataset`. */
export const partitionedDatasetFactory: DatasetFactory = (config, context) => {
  const type = 'partitions.PartitionedDataset';
  const parsed = parseDatasetConfig(partitionedSchema, config, { type, name: context.name });
  resolveDatasetPath(parsed.path, context);
  const { factory, description } = underlying(parsed, context, type);
  return new PartitionedDataset({
    name: context.name,
    projectDir: context.projectDir,
    path: parsed.path,
    dataset: factory,
    datasetDescription: description,
    filenameSuffix: parsed.filename_suffix,
    overwrite: parsed.overwrite,
    saveLazily: parsed.save_lazily,
    maxDepth: parsed.load_args?.maxdepth,
  });
};

/** Registry factory for `partitions.IncrementalDataset`. */
export const incrementalDatasetFactory: DatasetFactory = (config, context) => {
  const type = 'partitions.IncrementalDataset';
  const parsed = parseDatasetConfig(incrementalSchema, config, { type, name: context.name });
  resolveDatasetPath(parsed.path, context);
  const { factory, description } = underlying(parsed, context, type);
  const checkpoint =
    typeof parsed.checkpoint === 'string'
      ? { force_checkpoint: parsed.checkpoint }
      : (parsed.checkpoint ?? {});
  return new IncrementalDataset({
    name: context.name,
    projectDir: context.projectDir,
    path: parsed.path,
    dataset: factory,
    datasetDescription: description,
    filenameSuffix: parsed.filename_suffix,
    maxDepth: parsed.load_args?.maxdepth,
    checkpointPath: checkpoint.filepath,
    comparison: checkpoint.comparison_func,
    forceCheckpoint: checkpoint.force_checkpoint,
  });
};
