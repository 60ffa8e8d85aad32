/**
 * A sweep of the example project (a copy of examples/support-tickets): 12 trials of the classifier's
 * smoothing, 4 at a time, each a nested MLflow run; the parent names the best; one registered
 * version. Then a sweep cancelled mid-way leaves no trial workflow running and no trial run RUNNING.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MLFLOW_PARENT_RUN_ID_TAG,
  TAG_SWEEP_BEST_RUN_ID,
  TAG_SWEEP_BEST_TRIAL,
} from '../../src/constants.js';
import { startSweep, type StartSweepOptions } from '../../src/temporal/sweep-client.js';
import { mlflow, tagOf, trialStatuses, waitFor } from '../support/lifecycle.js';
import { copyExampleAs, type ProjectCopy } from '../support/project-copies.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

const METRIC = 'routing_metrics.accuracy';
const SMOOTHING = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4, 8];
/** A smoothing at which this copy's `train_classifier` waits until it is cancelled. */
const BLOCKING = 1000;

let project: ProjectCopy;
let harness: TemporalHarness;
/** The worker's intermediate store: what a trial's nodes hand each other. */
const storeDir = mkdtempSync(join(tmpdir(), 'tm-sweep-store-'));

beforeAll(async () => {
  project = copyExampleAs(`sweep-example-${randomUUID().slice(0, 8)}`);
  // Trials run at once: each writes its fitted artifacts under its own smoothing (the caveat of
  // docs/lifecycle.md), so none reads another's half-written file.
  const catalog = join(project.dir, 'conf', 'base', 'catalog.yml');
  const text = readFileSync(catalog, 'utf8');
  const perTrial = text.replace(
    /filepath: data\/06_models\/(\w+)\.json/g,
    'filepath: data/06_models/${runtime_params:model.smoothing, 1}/$1.json',
  );
  expect(perTrial.match(/runtime_params/g)).toHaveLength(2);
  writeFileSync(catalog, perTrial);
  // Trials are quick: the cancel test needs some still running when it cancels, whatever the load.
  const nodes = join(project.dir, 'src', 'nodes.ts');
  const blocking = readFileSync(nodes, 'utf8')
    .replace('export function trainClassifier(', 'export async function trainClassifier(')
    .replace(
      /(options: \{ smoothing: number \},\n\): )Classifier \{/,
      `$1Promise<Classifier> {\n  if (options.smoothing >= ${BLOCKING}) await new Promise((r) => setTimeout(r, 600_000));`,
    );
  expect(blocking).toContain(`options.smoothing >= ${BLOCKING}`);
  writeFileSync(nodes, blocking);
  harness = await startHarness({
    projectDir: project.dir,
    storeDir,
    taskQueue: `test-sweep-example-${randomUUID()}`,
    maxConcurrentNodes: 4,
  });
}, 120_000);
afterAll(async () => harness?.close());

function sweepOptions(smoothing = SMOOTHING): StartSweepOptions {
  return {
    projectDir: project.dir,
    taskQueue: harness.taskQueue,
    nodeDefaults: fastNodeDefaults,
    // The metrics dataset `routing_metrics` logs its `accuracy` as `routing_metrics.accuracy`.
    spec: { maxParallel: 4, metric: METRIC, parameters: { 'model.smoothing': smoothing } },
  };
}

async function trialRuns(parentRunId: string, experimentId: string) {
  const page = await mlflow().runs.search({
    experimentIds: [experimentId],
    filter: `tags.\`${MLFLOW_PARENT_RUN_ID_TAG}\` = '${parentRunId}'`,
    maxResults: 100,
  });
  return page.items;
}

describe('a sweep of the example project', () => {
  it('runs 12 nested trials 4 at a time, names the best on the parent run and registers one version', async () => {
    const sweep = await startSweep(harness.client, sweepOptions());
    let mostRunning = 0;
    const watching = (async () => {
      for (;;) {
        const progress = await sweep.progress().catch(() => undefined);
        if (progress) mostRunning = Math.max(mostRunning, progress.running);
        if (progress && ['completed', 'failed', 'cancelled'].includes(progress.state)) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const result = await sweep.result();
    await watching;
    expect(mostRunning).toBeLessThanOrEqual(4);
    expect(result.trials.map((t) => t.state)).toEqual(SMOOTHING.map(() => 'completed'));

    const parent = await mlflow().runs.get(result.mlflowRunId!);
    expect(parent.info.status).toBe('FINISHED');
    const children = await trialRuns(parent.info.run_id, parent.info.experiment_id);
    expect(children).toHaveLength(12);
    expect(children.every((run) => run.info.status === 'FINISHED')).toBe(true);

    // The best is the trial whose run logged the highest accuracy (the earliest of equals).
    const accuracy = (run: (typeof children)[number]) =>
      run.data.metrics?.find((m) => m.key === METRIC)?.value;
    const byTrial = result.trials.map((trial) =>
      children.find((run) => run.info.run_id === trial.mlflowRunId)!,
    );
    const values = byTrial.map((run) => accuracy(run)!);
    expect(values.every((v) => typeof v === 'number')).toBe(true);
    const bestTrial = values.indexOf(Math.max(...values));
    expect(result.best).toMatchObject({ trial: bestTrial, metric: values[bestTrial] });
    expect(tagOf(parent, TAG_SWEEP_BEST_TRIAL)).toBe(String(bestTrial));
    expect(tagOf(parent, TAG_SWEEP_BEST_RUN_ID)).toBe(byTrial[bestTrial]!.info.run_id);
    expect(parent.data.metrics?.find((m) => m.key === `best_${METRIC}`)?.value).toBe(
      values[bestTrial],
    );

    const versions = await mlflow().registry.searchModelVersions({
      filter: `name = '${project.registeredModel}'`,
    });
    expect(versions.items).toHaveLength(1);
    expect(versions.items[0]!.run_id).toBe(byTrial[bestTrial]!.info.run_id);
    expect(result.model?.registeredModelVersion).toBe(versions.items[0]!.version);
    // Every trial's intermediate datasets were cleared (by the sweep, as it ended their runs).
    expect(readdirSync(storeDir).filter((entry) => !entry.startsWith('.'))).toEqual([]);
  }, 600_000);

  it('cancelled mid-way, leaves no trial workflow running and no trial run RUNNING', async () => {
    // Trial 0 completes; trials 1-3 run until cancelled; trial 4, started once trial 0 is done,
    // may or may not have started when the cancel lands; trials 5-7 never start.
    const smoothing = [0.1, ...Array.from({ length: 7 }, () => BLOCKING)];
    const sweep = await startSweep(harness.client, sweepOptions(smoothing));
    await waitFor(
      'a trial done while others run',
      async () => {
        const progress = await sweep.progress();
        return progress.done >= 1 && progress.running > 0;
      },
      300_000,
      100,
    );
    await sweep.handle.cancel();
    await expect(sweep.result()).rejects.toThrow();

    const statuses = await trialStatuses(harness.client, sweep);
    expect(statuses.filter((s) => s === 'RUNNING')).toEqual([]);
    expect(statuses[0]).toBe('COMPLETED');
    expect(statuses.slice(1, 4)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(['CANCELLED', 'NEVER_STARTED']).toContain(statuses[4]);
    expect(statuses.slice(5)).toEqual(['NEVER_STARTED', 'NEVER_STARTED', 'NEVER_STARTED']);

    const progress = await sweep.progress();
    const parent = await mlflow().runs.get(progress.mlflowRunId!);
    expect(parent.info.status).toBe('KILLED');
    const runs = await trialRuns(parent.info.run_id, parent.info.experiment_id);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.filter((run) => run.info.status === 'RUNNING')).toEqual([]);
    expect(runs.map((run) => run.info.status)).toContain('KILLED');
  }, 600_000);
});
