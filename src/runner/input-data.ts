import type { DataCatalog } from '../catalog/data-catalog.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { MissingInputDataError } from './errors.js';

/**
 * Checks, before any node runs, that the persisted data the pipeline reads but no node writes is
 * there (Kedro would fail at the first node that loads it). A dataset whose existence cannot be
 * told (its check fails) is left to the node that loads it.
 */
export async function checkInputData(
  pipeline: Pipeline,
  catalog: DataCatalog,
  pipelineName: string,
): Promise<void> {
  const inputs = pipeline
    .inputs()
    .filter((name) => !name.startsWith('params:') && name !== 'parameters')
    .filter((name) => catalog.has(name) && catalog.isPersisted(name));
  const found = await Promise.all(inputs.map((name) => catalog.exists(name).catch(() => true)));
  const missing = inputs
    .filter((_, index) => !found[index])
    .map((name) => ({ name, description: describe(catalog, name) }));
  if (missing.length > 0) throw new MissingInputDataError(pipelineName, missing);
}

function describe(catalog: DataCatalog, name: string): string {
  const dataset = catalog.getDataset(name);
  return dataset ? String(dataset) : name;
}
