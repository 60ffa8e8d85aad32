import type { Client } from '@temporalio/client';
import { startSweep, type StartSweepOptions } from '../../temporal/sweep-client.js';
import type { SweepResult } from '../../temporal/types.js';
import { temporalWorkflowUrl } from '../common.js';
import { pollEvery } from '../connection.js';
import { createNodeProgress } from '../progress.js';

/** `train --sweep sweep.yml`: starts the sweep and (with `wait`) follows its trials. */
export async function followSweep(
  client: Client,
  options: StartSweepOptions & { wait: boolean; log?: (line: string) => void },
): Promise<SweepResult | undefined> {
  const log = options.log ?? ((line: string) => console.log(line));
  const sweep = await startSweep(client, options);
  log(`Sweep workflow: ${temporalWorkflowUrl(sweep.workflowId)}`);
  log(`Task queue:     ${sweep.taskQueue}`);
  log(`Trials:         ${sweep.trials.length}`);
  if (!options.wait) return undefined;
  const progress = createNodeProgress(`sweep ${sweep.workflowId}`);
  const polling = pollEvery(500, async () => {
    const state = await sweep.progress();
    progress.update(state.done + state.failed, state.total, [
      `${state.running} running, ${state.failed} failed${state.best ? `, best trial ${state.best.trial} (${state.best.metric})` : ''}`,
    ]);
  });
  try {
    const result = await sweep.result();
    return result;
  } finally {
    await polling.stop();
    progress.stop();
  }
}

/** Prints the outcome of a sweep. */
export function printSweepResult(result: SweepResult): void {
  const failed = result.trials.filter((t) => t.state === 'failed').length;
  console.log(
    `Sweep completed: ${result.trials.length - failed}/${result.trials.length} trials in ${(result.durationMs / 1000).toFixed(1)} s.`,
  );
  if (result.best)
    console.log(
      `Best: trial ${result.best.trial} ${JSON.stringify(result.best.values)}, ${result.metric} = ${result.best.metric} (run ${result.best.mlflowRunId})`,
    );
  if (result.model?.registeredModelVersion)
    console.log(
      `Registered: ${result.model.registeredModelName} version ${result.model.registeredModelVersion}`,
    );
  if (result.promotion)
    console.log(`Promotion: ${result.promotion.decision} — ${result.promotion.reason}`);
}
