/**
 * The node cache on Temporal: a retrain of the unchanged example restores every node (no function
 * runs) and logs a model that predicts the same; a parameter change re-runs only what depends on
 * it; workers share the cache through the MLflow server's artifacts.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import { loadModel } from '../../src/model/load-model.js';
import { LocalCacheStore, MlflowCacheStore } from '../../src/runner/cache-store.js';
import { cachedFromTag } from '../../src/runner/node-cache.js';
import {
  compileTrainingOptions,
  startCompiledTraining,
  trainingHandle,
  type StartTrainingOptions,
} from '../../src/temporal/client.js';
import type { RunNodeInput, TrainingResult } from '../../src/temporal/types.js';
import { copyExampleAs, type ProjectCopy } from '../support/project-copies.js';
import { services } from '../support/services.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

const TRAINING_NODES = [
  'evaluate_routing',
  'fit_vocabulary',
  'route_test_tickets',
  'split_tickets',
  'train_classifier',
  'vectorize_test',
  'vectorize_train',
];

const mlflow = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
const harnesses: TemporalHarness[] = [];
afterAll(async () => {
  await Promise.all(harnesses.map((harness) => harness.close()));
});

async function harnessFor(
  project: ProjectCopy,
  options: Parameters<typeof startHarness>[0],
): Promise<TemporalHarness> {
  const harness = await startHarness({ projectDir: project.dir, ...options });
  harnesses.push(harness);
  return harness;
}

/** Trains on the harness's queue; returns the result and the nodes the workflow saw come from the cache. */
async function train(
  harness: TemporalHarness,
  project: ProjectCopy,
  options: Partial<StartTrainingOptions> & { noCache?: boolean } = {},
): Promise<{ result: TrainingResult; cached: string[]; nodeActivities: string[] }> {
  const { noCache, ...rest } = options;
  const compiled = await compileTrainingOptions({
    projectDir: project.dir,
    taskQueue: harness.taskQueue,
    nodeDefaults: fastNodeDefaults,
    ...rest,
  });
  if (noCache) compiled.input.noCache = true;
  const handle = trainingHandle((await startCompiledTraining(harness.client, compiled)).handle);
  const result = await handle.result();
  const progress = await handle.progress();
  // The nodes that ran as activities of their own (restored nodes share one activity).
  const nodeActivities = ((await handle.handle.fetchHistory()).events ?? [])
    .map((event) => event.activityTaskScheduledEventAttributes)
    .filter((scheduled) => scheduled?.activityType?.name === 'runNode')
    .map((scheduled) => {
      const input = defaultPayloadConverter.fromPayload<RunNodeInput>(
        scheduled!.input!.payloads![0]!,
      );
      return input.node;
    })
    .sort();
  return { result, cached: [...(progress.cached ?? [])].sort(), nodeActivities };
}

async function predictions(modelUri: string, tickets: unknown): Promise<unknown> {
  const model = await loadModel(modelUri, {
    client: mlflow,
    cacheDir: mkdtempSync(join(tmpdir(), 'tm-models-')),
  });
  return model.predict(tickets);
}

const tickets = [
  { ticket_id: 'x1', subject: 'Refund please', body: 'I was charged twice for my order' },
  { ticket_id: 'x2', subject: 'Cannot log in', body: 'password reset link does not work' },
  { ticket_id: 'x3', subject: 'App crashes', body: 'the app crashes when I open settings' },
];

describe('the node cache on Temporal', () => {
  it('restores every node of an unchanged retrain and logs a model predicting the same', async () => {
    const project = copyExampleAs(`cache-local-${Date.now().toString(36)}`);
    const harness = await harnessFor(project, {
      cache: 'local',
      cacheDir: mkdtempSync(join(tmpdir(), 'tm-node-cache-')),
    });

    const first = await train(harness, project);
    expect(first.cached).toEqual([]);
    expect(first.result.cachedNodes).toBeUndefined();

    expect(first.nodeActivities).toEqual(TRAINING_NODES);
    const second = await train(harness, project);
    expect(second.cached).toEqual(TRAINING_NODES);
    expect(second.result).toMatchObject({ nodes: 7, cachedNodes: 7 });
    // Restored at once, in one activity: no node activity at all.
    expect(second.nodeActivities).toEqual([]);
    // The MLflow run says where each node came from, and still holds the metrics and params.
    const run = await mlflow.runs.get(second.result.mlflowRunId!);
    const tags = Object.fromEntries((run.data.tags ?? []).map((tag) => [tag.key, tag.value]));
    for (const name of TRAINING_NODES)
      expect(tags[cachedFromTag(name)]).toBe(first.result.mlflowRunId);
    expect(run.data.metrics?.map((metric) => metric.key).sort()).toEqual([
      'routing_metrics.accuracy',
      'routing_metrics.review_rate',
      'routing_metrics.test_size',
    ]);
    expect(run.data.params?.find((param) => param.key === 'model.smoothing')?.value).toBe('1');
    expect(second.result.model!.modelId).not.toBe(first.result.model!.modelId);
    expect(await predictions(second.result.model!.modelUri, tickets)).toEqual(
      await predictions(first.result.model!.modelUri, tickets),
    );
  }, 180_000);

  it('re-runs only the nodes a changed parameter reaches; --no-cache and cache clear run everything', async () => {
    const project = copyExampleAs(`cache-params-${Date.now().toString(36)}`);
    const cacheDir = mkdtempSync(join(tmpdir(), 'tm-node-cache-'));
    const harness = await harnessFor(project, { cache: 'local', cacheDir });
    await train(harness, project);

    const changed = await train(harness, project, { params: { model: { smoothing: 0.5 } } });
    expect(changed.cached).toEqual([
      'fit_vocabulary',
      'split_tickets',
      'vectorize_test',
      'vectorize_train',
    ]);
    expect(changed.nodeActivities).toEqual([
      'evaluate_routing',
      'route_test_tickets',
      'train_classifier',
    ]);

    const uncached = await train(harness, project, { noCache: true });
    expect(uncached.cached).toEqual([]);
    expect(uncached.nodeActivities).toEqual(TRAINING_NODES);
    expect((await new LocalCacheStore(cacheDir).clear()) ?? 0).toBeGreaterThan(0);
    expect((await train(harness, project)).cached).toEqual([]);
  }, 240_000);

  it('lets a worker restore what another worker computed, through the MLflow store', async () => {
    const project = copyExampleAs(`cache-mlflow-${Date.now().toString(36)}`);
    const store = new MlflowCacheStore(mlflow, project.name);
    try {
      // Two workers with nothing on disk in common: store and cache both on the MLflow server.
      const first = await harnessFor(project, {
        store: 'mlflow',
        storeDir: undefined,
        cache: 'mlflow',
      });
      const trained = await train(first, project);
      expect(trained.cached).toEqual([]);
      await first.close();
      harnesses.splice(harnesses.indexOf(first), 1);

      const second = await harnessFor(project, {
        store: 'mlflow',
        storeDir: undefined,
        cache: 'mlflow',
        taskQueue: first.taskQueue,
      });
      const retrained = await train(second, project);
      expect(retrained.cached).toEqual(TRAINING_NODES);
      const run = await mlflow.runs.get(retrained.result.mlflowRunId!);
      const tags = Object.fromEntries((run.data.tags ?? []).map((tag) => [tag.key, tag.value]));
      expect(tags[cachedFromTag('train_classifier')]).toBe(trained.result.mlflowRunId);
    } finally {
      await store.clear();
    }
  }, 180_000);
});
