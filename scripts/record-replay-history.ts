/**
 * Re-records `test/temporal/fixtures/diamond-history.json`, the history that
 * `test/temporal/replay.test.ts` replays against the current workflow code.
 *
 * Run it only after an intended change of the training workflow that is rolled out with worker
 * versioning (a change that breaks replay of running workflows otherwise):
 *
 *   bash scripts/services start
 *   node --import tsx scripts/record-replay-history.ts
 *
 * It trains the diamond pipeline of `test/fixtures/temporal-project` on the local dev server, on a
 * task queue of its own, and writes that run's history (to the path given as argument, if any).
 */
import { startTraining } from '../src/temporal/client.js';
import { committedDiamondHistory, writeHistoryFile } from '../test/support/history-json.js';
import { readServicesEnv } from '../test/support/services.js';
import { fastNodeDefaults, startHarness } from '../test/support/temporal.js';

// The run is tracked, as the tests' runs are: its history has the MLflow run's start and end.
process.env.MLFLOW_TRACKING_URI ??= readServicesEnv().MLFLOW_TRACKING_URI;
const output = process.argv[2] ?? committedDiamondHistory;
const harness = await startHarness();
try {
  const training = await startTraining(harness.client, {
    pipeline: 'diamond',
    taskQueue: harness.taskQueue,
    nodeDefaults: fastNodeDefaults,
  });
  await training.result();
  const history = await training.handle.fetchHistory();
  writeHistoryFile(output, history);
  console.log(
    `record-replay-history: ${history.events?.length ?? 0} events of workflow ${training.workflowId} written to ${output}`,
  );
} finally {
  await harness.close();
}
