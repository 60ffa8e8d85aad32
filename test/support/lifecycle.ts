/** Shared by the lifecycle tests: the fixture project, waiting with deadlines, MLflow look-ups. */
import type { Client } from '@temporalio/client';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import { TAG_WORKFLOW_ID } from '../../src/constants.js';
import { repoRoot, services } from './services.js';

export const lifecycleProject = join(repoRoot, 'test', 'fixtures', 'lifecycle-project');
export const LIFECYCLE_EXPERIMENT = 'temporal-mlflow-lifecycle-tests';

export function mlflow(): MlflowClient {
  return new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
}

/** Polls `probe` until it returns a value, failing after `timeoutMs` with what was awaited. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The MLflow run a workflow created (by its workflow id tag). */
export async function runOfWorkflow(workflowId: string) {
  const client = mlflow();
  const experiment = await client.experiments.getByName(LIFECYCLE_EXPERIMENT);
  if (!experiment) return undefined;
  const page = await client.runs.search({
    experimentIds: [experiment.experiment_id],
    filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${workflowId}'`,
  });
  return page.items[0];
}

export function tagOf(
  run: { data: { tags?: { key: string; value: string }[] } } | undefined,
  key: string,
): string | undefined {
  return run?.data.tags?.find((tag) => tag.key === key)?.value;
}

/** The status of each trial workflow of a sweep (`NEVER_STARTED` for a trial never started). */
export function trialStatuses(
  client: Client,
  sweep: { workflowId: string; trials: readonly unknown[] },
): Promise<string[]> {
  return Promise.all(
    sweep.trials.map(async (_, i) => {
      try {
        return (await client.workflow.getHandle(`${sweep.workflowId}/trial-${i}`).describe()).status
          .name;
      } catch {
        return 'NEVER_STARTED';
      }
    }),
  );
}
