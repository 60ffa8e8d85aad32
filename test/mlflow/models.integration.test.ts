/** MLflow 3 logged models and the model registry against the real server. */
import {
  MlflowInvalidParameterError,
  MlflowResourceNotFoundError,
  tagsToRecord,
} from '../../src/mlflow/index.js';
import { realClient, uniqueName } from './support.js';

const client = realClient();

describe('logged models and registry on the real server', () => {
  let experimentId: string;
  let runId: string;
  beforeAll(async () => {
    experimentId = (await client.experiments.getOrCreate(uniqueName('models'))).experiment_id;
    runId = (await client.runs.create({ experimentId, runName: 'training' })).info.run_id;
  });

  test('a logged model is created pending, finalized, searched, tagged and linked to its run', async () => {
    const model = await client.loggedModels.create({
      experimentId,
      name: 'model',
      sourceRunId: runId,
      modelType: 'temporal_mlflow',
      params: { alpha: 0.5 },
      tags: { flavor: 'temporal_mlflow' },
    });
    const { model_id: modelId } = model.info;
    expect(modelId).toMatch(/^m-[0-9a-f]+$/);
    expect(model.info).toMatchObject({
      status: 'LOGGED_MODEL_PENDING',
      source_run_id: runId,
      name: 'model',
    });
    expect(model.info.artifact_uri).toBe(
      `mlflow-artifacts:/${experimentId}/models/${modelId}/artifacts`,
    );
    expect(tagsToRecord(model.data?.params)).toEqual({ alpha: '0.5' });

    const ready = await client.loggedModels.finalize(modelId);
    expect(ready.info.status).toBe('LOGGED_MODEL_READY');

    await client.loggedModels.setTags(modelId, { stage: 'candidate', owner: 'ci' });
    await client.loggedModels.deleteTag(modelId, 'owner');
    await client.loggedModels.logParams(modelId, [{ key: 'beta', value: 2 }]);
    const fetched = await client.loggedModels.get(modelId);
    expect(tagsToRecord(fetched.info.tags)).toMatchObject({
      flavor: 'temporal_mlflow',
      stage: 'candidate',
    });
    expect(tagsToRecord(fetched.info.tags)).not.toHaveProperty('owner');
    expect(tagsToRecord(fetched.data?.params)).toEqual({ alpha: '0.5', beta: '2' });

    // MLflow 3.17 matches nothing on `status = '...'`: filter by name, check the status.
    const found = await client.loggedModels.search({
      experimentIds: [experimentId],
      filter: "name = 'model'",
    });
    expect(found.items.map((m) => [m.info.model_id, m.info.status])).toEqual([
      [modelId, 'LOGGED_MODEL_READY'],
    ]);

    await client.runs.logOutputs(runId, [{ model_id: modelId, step: 0 }]);
    expect((await client.runs.get(runId)).outputs?.model_outputs).toEqual([
      { model_id: modelId, step: 0 },
    ]);
  });

  test('registry: a model with two versions, aliases set, read, moved and deleted', async () => {
    const name = uniqueName('registered');
    const models = await Promise.all(
      [1, 2].map(async () => {
        const m = await client.loggedModels.create({
          experimentId,
          name: 'model',
          sourceRunId: runId,
        });
        await client.loggedModels.finalize(m.info.model_id);
        return m.info.model_id;
      }),
    );
    const created = await Promise.all(
      [1, 2].map(() => client.registry.getOrCreateRegisteredModel(name, { tags: { team: 'ds' } })),
    );
    expect(created.map((m) => m.name)).toEqual([name, name]);

    const v1 = await client.registry.createModelVersion({
      name,
      source: `models:/${models[0]}`,
      runId,
      modelId: models[0]!,
    });
    const v2 = await client.registry.createModelVersion({
      name,
      source: `models:/${models[1]}`,
      runId,
      modelId: models[1]!,
    });
    expect([v1.version, v2.version]).toEqual(['1', '2']);
    expect(v2).toMatchObject({ source: `models:/${models[1]}`, run_id: runId, status: 'READY' });

    await client.registry.setAlias(name, 'champion', 1);
    expect((await client.registry.getModelVersionByAlias(name, 'champion')).version).toBe('1');
    await client.registry.setAlias(name, 'champion', v2.version);
    const champion = await client.registry.getModelVersionByAlias(name, 'champion');
    expect(champion).toMatchObject({ version: '2', aliases: ['champion'] });

    await client.registry.setRegisteredModelTag(name, 'task', 'classification');
    await client.registry.setModelVersionTag(name, 2, 'validated', 'true');
    expect(tagsToRecord((await client.registry.getRegisteredModel(name)).tags)).toMatchObject({
      team: 'ds',
      task: 'classification',
    });
    expect(tagsToRecord((await client.registry.getModelVersion(name, 2)).tags)).toEqual({
      validated: 'true',
    });

    const versions = await client.registry.searchModelVersions({ filter: `name = '${name}'` });
    expect(versions.items.map((v) => v.version).sort()).toEqual(['1', '2']);
    const ordered = await client.registry.searchModelVersions({
      filter: `name = '${name}'`,
      orderBy: ['version_number DESC'],
      maxResults: 1,
    });
    expect(ordered.items.map((v) => v.version)).toEqual(['2']);
    expect(ordered.nextPageToken).toBeDefined();

    await client.registry.deleteAlias(name, 'champion');
    await expect(client.registry.getModelVersionByAlias(name, 'champion')).rejects.toThrow(
      MlflowResourceNotFoundError,
    );

    await client.registry.deleteRegisteredModel(name);
    await expect(client.registry.getRegisteredModel(name)).rejects.toMatchObject({
      errorCode: 'RESOURCE_DOES_NOT_EXIST',
      httpStatus: 404,
    });
  });

  test.each([['latest'], ['v1'], ['V7']])(
    "the reserved alias '%s' is refused before calling the server",
    async (alias) => {
      const error = await client.registry
        .setAlias(uniqueName('never-created'), alias, 1)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MlflowInvalidParameterError);
      expect((error as MlflowInvalidParameterError).httpStatus).toBeUndefined();
      expect((error as Error).message).toContain(`Alias '${alias}' is reserved`);
    },
  );

  test('a missing logged model surfaces RESOURCE_DOES_NOT_EXIST', async () => {
    await expect(client.loggedModels.get('m-0000')).rejects.toThrow(MlflowResourceNotFoundError);
  });
});
