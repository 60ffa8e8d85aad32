/** Experiments, runs and logging against the real MLflow server. */
import {
  MlflowInvalidParameterError,
  MlflowResourceNotFoundError,
  tagsToRecord,
} from '../../src/mlflow/index.js';
import type { LogBatchInput } from '../../src/mlflow/index.js';
import { realClient, uniqueName } from './support.js';

const client = realClient();

describe('experiments on the real server', () => {
  test('getByName returns undefined for a missing experiment', async () => {
    await expect(client.experiments.getByName(uniqueName('missing'))).resolves.toBeUndefined();
  });

  test('getOrCreate creates once, is race-safe, and restores a deleted experiment', async () => {
    const name = uniqueName('exp');
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        client.experiments.getOrCreate(name, { tags: { team: 'ds' } }),
      ),
    );
    const ids = new Set(results.map((e) => e.experiment_id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    const experiment = await client.experiments.get(id);
    expect(experiment.artifact_location).toBe(`mlflow-artifacts:/${id}`);
    expect(tagsToRecord(experiment.tags)).toMatchObject({ team: 'ds' });

    await client.experiments.delete(id);
    await expect(client.experiments.getOrCreate(name, { restoreIfDeleted: false })).rejects.toThrow(
      /is deleted/,
    );
    const restored = await client.experiments.getOrCreate(name);
    expect(restored.experiment_id).toBe(id);
    expect((await client.experiments.get(id)).lifecycle_stage).toBe('active');
  });

  test('creating an existing experiment surfaces RESOURCE_ALREADY_EXISTS (HTTP 400)', async () => {
    const name = uniqueName('dup');
    await client.experiments.create(name);
    await expect(client.experiments.create(name)).rejects.toMatchObject({
      name: 'MlflowResourceAlreadyExistsError',
      errorCode: 'RESOURCE_ALREADY_EXISTS',
      httpStatus: 400,
    });
  });
});

describe('runs on the real server', () => {
  let experimentId: string;
  beforeAll(async () => {
    experimentId = (await client.experiments.getOrCreate(uniqueName('runs'))).experiment_id;
  });

  test('2,500 metrics with steps, 250 params and tags go through chunked log-batch and read back', async () => {
    const run = await client.runs.create({
      experimentId,
      runName: 'batch',
      tags: { stage: 'test' },
      startTime: 1_700_000_000_000,
    });
    expect(run.info).toMatchObject({
      status: 'RUNNING',
      run_name: 'batch',
      start_time: 1_700_000_000_000,
    });
    const runId = run.info.run_id;

    const metrics = Array.from({ length: 2500 }, (_, i) => ({
      key: i % 2 ? 'loss' : 'acc',
      value: i / 10,
      step: i,
      timestamp: 1_700_000_000_000 + i,
    }));
    const params = Array.from({ length: 250 }, (_, i) => ({
      key: `p${String(i).padStart(3, '0')}`,
      value: i % 2 ? i : `v${i}`,
    }));
    const tags = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`tag.${i}`, `t${i}`]));
    await client.runs.logBatch(runId, { metrics, params, tags });
    await client.runs.logMetric(runId, 'special', NaN, { step: 1 });
    await client.runs.logMetric(runId, 'special', Infinity, { step: 2 });
    await client.runs.logParam(runId, 'single', true);
    await client.runs.setTag(runId, 'extra', 'yes');

    const loss = await client.runs.getMetricHistory(runId, 'loss');
    expect(loss).toHaveLength(1250);
    expect(loss.map((m) => m.step).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 1250 }, (_, i) => 2 * i + 1),
    );
    expect(loss.find((m) => m.step === 2499)?.value).toBeCloseTo(249.9);
    const special = await client.runs.getMetricHistory(runId, 'special');
    expect(special.find((m) => m.step === 1)?.value).toBeNaN();
    // The server stores +Infinity as the largest double.
    expect(special.find((m) => m.step === 2)?.value).toBe(Number.MAX_VALUE);

    const fetched = await client.runs.get(runId);
    expect(fetched.data.params).toHaveLength(251);
    expect(tagsToRecord(fetched.data.params)).toMatchObject({
      p000: 'v0',
      p001: '1',
      p249: '249',
      single: 'true',
    });
    expect(tagsToRecord(fetched.data.tags)).toMatchObject({
      stage: 'test',
      'tag.149': 't149',
      extra: 'yes',
      'mlflow.runName': 'batch',
    });

    const ended = await client.runs.end(runId, 'FINISHED', 1_700_000_100_000);
    expect(ended).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_100_000 });
  });

  test('search filters, orders and pages through every run', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await client.runs.create({
        experimentId,
        runName: `search-${i}`,
        tags: { kind: 'search' },
      });
      await client.runs.logBatch(run.info.run_id, { metrics: [{ key: 'score', value: i }] });
      if (i < 3) await client.runs.end(run.info.run_id);
      ids.push(run.info.run_id);
    }
    const finished = await client.runs.search({
      experimentIds: [experimentId],
      filter: "tags.kind = 'search' and attributes.status = 'FINISHED'",
      orderBy: ['metrics.score DESC'],
    });
    expect(finished.items.map((r) => r.info.run_id)).toEqual([ids[2], ids[1], ids[0]]);

    const page = await client.runs.search({
      experimentIds: [experimentId],
      filter: "tags.kind = 'search'",
      maxResults: 2,
    });
    expect(page.items).toHaveLength(2);
    expect(page.nextPageToken).toBeDefined();
    const all: string[] = [];
    for await (const run of client.runs.searchAll({
      experimentIds: [experimentId],
      filter: "tags.kind = 'search'",
      maxResults: 2,
    })) {
      all.push(run.info.run_id);
    }
    expect(all.sort()).toEqual([...ids].sort());

    await client.runs.delete(ids[4]!);
    const active = await client.runs.search({
      experimentIds: [experimentId],
      filter: "tags.kind = 'search'",
    });
    expect(active.items.map((r) => r.info.run_id)).not.toContain(ids[4]);
  });

  test('dataset inputs are recorded on the run', async () => {
    const run = await client.runs.create({ experimentId });
    await client.runs.logInputs(run.info.run_id, [
      {
        dataset: {
          name: 'companies',
          digest: 'abc123',
          source_type: 'local',
          source: JSON.stringify({ uri: 'data/01_raw/companies.csv' }),
        },
        tags: [{ key: 'mlflow.data.context', value: 'training' }],
      },
    ]);
    const fetched = await client.runs.get(run.info.run_id);
    expect(fetched.inputs?.dataset_inputs?.[0]?.dataset).toMatchObject({
      name: 'companies',
      digest: 'abc123',
    });
  });

  test('re-logging a param with another value fails with the server message', async () => {
    const run = await client.runs.create({ experimentId });
    await client.runs.logParam(run.info.run_id, 'alpha', 0.1);
    const error = await client.runs
      .logBatch(run.info.run_id, { params: [{ key: 'alpha', value: 0.2 }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowInvalidParameterError);
    expect(error).toMatchObject({
      errorCode: 'INVALID_PARAMETER_VALUE',
      httpStatus: 400,
      endpoint: 'POST /api/2.0/mlflow/runs/log-batch',
    });
    expect((error as Error).message).toContain('INVALID_PARAMETER_VALUE (HTTP 400)');
    expect((error as Error).message).toContain('Changing param values is not allowed');
  });

  test.each<[string, LogBatchInput, RegExp]>([
    [
      'a metric value that is not a number',
      { metrics: [{ key: 'loss', value: 'high' as unknown as number }] },
      /metric 'loss': expected a number/,
    ],
    [
      'an invalid param name',
      { params: [{ key: 'learning rate!', value: 1 }] },
      /Invalid param name 'learning rate!'/,
    ],
    [
      'an invalid metric name',
      { metrics: [{ key: 'acc%', value: 1 }] },
      /Invalid metric name 'acc%'/,
    ],
    [
      'a fractional step',
      { metrics: [{ key: 'acc', value: 1, step: 0.5 }] },
      /Invalid step for metric 'acc'/,
    ],
  ])('%s is refused before anything is logged', async (_label, batch, message) => {
    const run = await client.runs.create({ experimentId });
    await expect(
      client.runs.logBatch(run.info.run_id, {
        ...batch,
        params: [...(batch.params ?? []), { key: 'ok', value: 1 }],
      }),
    ).rejects.toThrow(message);
    expect((await client.runs.get(run.info.run_id)).data.params ?? []).toEqual([]);
  });

  test('a missing run surfaces RESOURCE_DOES_NOT_EXIST', async () => {
    const error = await client.runs
      .get('0123456789abcdef0123456789abcdef')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowResourceNotFoundError);
    expect((error as Error).message).toMatch(
      /^MLflow RESOURCE_DOES_NOT_EXIST \(HTTP 404\) from GET \/api\/2.0\/mlflow\/runs\/get: Run with id=.* not found/,
    );
  });
});
