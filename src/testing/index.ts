/**
 * Helpers for testing pipelines in users' own test suites (`temporal-mlflow/testing`): run a
 * pipeline on in-memory inputs, with the same runner and node semantics as a real run, and get
 * every dataset it produced.
 */
import { DataCatalog } from '../catalog/data-catalog.js';
import { MemoryDataset } from '../datasets/memory.js';
import type { Hooks } from '../hooks/types.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { runPipelineLocally } from '../runner/local-runner.js';

export interface RunInMemoryOptions {
  /** Values of the pipeline's free inputs, by dataset name. */
  inputs?: Record<string, unknown>;
  /** Parameters for `params:*` and `parameters` inputs. */
  parameters?: Record<string, unknown>;
  hooks?: Hooks[];
}

/**
 * Runs `pipeline` with its inputs held in memory and returns every dataset its nodes produced
 * (intermediate ones included), by name.
 */
export async function runInMemory(
  pipeline: Pipeline,
  options: RunInMemoryOptions = {},
): Promise<Record<string, unknown>> {
  const datasets: Record<string, MemoryDataset> = {};
  for (const [name, value] of Object.entries(options.inputs ?? {}))
    datasets[name] = new MemoryDataset({ data: value, copyMode: 'assign' });
  for (const name of pipeline.allOutputs())
    datasets[name] = new MemoryDataset({ copyMode: 'assign' });
  const catalog = new DataCatalog(datasets, options.parameters ?? {});
  await runPipelineLocally({
    pipeline,
    catalog,
    hooks: options.hooks ?? [],
    run: {
      runId: 'test',
      pipelineName: 'test',
      env: 'test',
      projectDir: process.cwd(),
      runtimeParams: {},
    },
  });
  const outputs: Record<string, unknown> = {};
  for (const name of pipeline.allOutputs()) outputs[name] = await catalog.load(name);
  return outputs;
}
