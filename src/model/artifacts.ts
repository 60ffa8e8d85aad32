import type { DataCatalog } from '../catalog/data-catalog.js';
import {
  compilePattern,
  isPattern,
  matchPattern,
  sortPatterns,
  substitutePlaceholders,
} from '../catalog/patterns.js';
import type { ConfigMap } from '../catalog/merge.js';
import { UnpersistedArtifactError } from './errors.js';
import type { PipelineML } from './pipeline-ml.js';

/** A persisted inference input to copy into the model: its dataset and catalog entry. */
export interface PipelineArtifact {
  name: string;
  /** The file or folder the dataset reads. */
  localPath: string;
  /** The catalog entry (credentials and versioning removed), to rewrite to the model's copy. */
  entry: Record<string, unknown>;
}

/** The catalog entry of a dataset, explicit or from the dataset factory pattern that matches it. */
export function catalogEntryFor(
  name: string,
  catalogConfig: ConfigMap,
): Record<string, unknown> | undefined {
  const explicit = catalogConfig[name];
  if (explicit && typeof explicit === 'object') return explicit as Record<string, unknown>;
  const patterns = sortPatterns(
    Object.entries(catalogConfig)
      .filter(([key]) => isPattern(key))
      .map(([key, value]) => compilePattern(key, value as ConfigMap)),
  );
  const match = matchPattern(patterns, name);
  return match
    ? (substitutePlaceholders(match.pattern.config, match.values) as Record<string, unknown>)
    : undefined;
}

/** MlflowArtifactDataset and friends wrap the dataset that actually holds the file. */
function unwrap(entry: Record<string, unknown>): Record<string, unknown> {
  const inner = entry.dataset;
  return inner && typeof inner === 'object' ? unwrap(inner as Record<string, unknown>) : entry;
}

/**
 * Every persisted inference input except `inputName` and parameters (kedro-mlflow's
 * `extract_pipeline_artifacts`): the fitted encoders and models the model must carry. An input
 * held only in memory cannot be packaged: that is an error saying to persist it.
 */
export function extractPipelineArtifacts(
  pipelineMl: PipelineML,
  catalog: DataCatalog,
  catalogConfig: ConfigMap,
): PipelineArtifact[] {
  const unpersisted: string[] = [];
  const artifacts: PipelineArtifact[] = [];
  for (const name of pipelineMl.artifactInputs()) {
    const dataset = catalog.getDataset(name);
    const localPath = dataset?.persisted ? dataset.localPath?.() : undefined;
    const entry = catalogEntryFor(name, catalogConfig);
    if (!dataset || !dataset.persisted || !localPath || !entry) {
      unpersisted.push(name);
      continue;
    }
    const { credentials: _credentials, versioned: _versioned, ...rest } = unwrap(entry);
    artifacts.push({ name, localPath, entry: rest });
  }
  if (unpersisted.length > 0) throw new UnpersistedArtifactError(unpersisted.sort());
  return artifacts;
}
