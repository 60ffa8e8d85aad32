import { ExperimentLookupCache, type ExperimentsApi } from '../../src/mlflow/experiments.js';
import type { Experiment } from '../../src/mlflow/types.js';

/** An ExperimentsApi whose getOrCreate answers from `answer` and counts its calls. */
function fakeApi(answer: (name: string) => Promise<Experiment>) {
  const api = {
    calls: 0,
    getOrCreate(name: string) {
      api.calls++;
      return answer(name);
    },
  };
  return api as typeof api & ExperimentsApi;
}

const experiment = (name: string, id = '1'): Experiment => ({
  experiment_id: id,
  name,
  artifact_location: `mlflow-artifacts:/${id}`,
  lifecycle_stage: 'active',
});

describe('ExperimentLookupCache', () => {
  it('asks the server once per server and name while the entry is fresh', async () => {
    let now = 0;
    const cache = new ExperimentLookupCache({ ttlMs: 1_000, now: () => now });
    const api = fakeApi(async (name) => experiment(name));
    expect(await cache.getOrCreate(api, 'http://a', 'exp')).toEqual({
      experiment: experiment('exp'),
      cached: false,
    });
    now = 999;
    expect((await cache.getOrCreate(api, 'http://a', 'exp')).cached).toBe(true);
    await cache.getOrCreate(api, 'http://b', 'exp');
    await cache.getOrCreate(api, 'http://a', 'other');
    expect(api.calls).toBe(3);
    now = 1_000;
    expect((await cache.getOrCreate(api, 'http://a', 'exp')).cached).toBe(false);
    expect(api.calls).toBe(4);
  });

  it('shares one request between concurrent look-ups of a name', async () => {
    const cache = new ExperimentLookupCache();
    const api = fakeApi(async (name) => experiment(name));
    const found = await Promise.all([1, 2, 3].map(() => cache.getOrCreate(api, 'http://a', 'e')));
    expect(found.map((f) => f.experiment.experiment_id)).toEqual(['1', '1', '1']);
    expect(api.calls).toBe(1);
  });

  it('does not remember a failed look-up', async () => {
    const cache = new ExperimentLookupCache();
    let fail = true;
    const api = fakeApi(async (name) => {
      if (fail) throw new Error('MLflow is down');
      return experiment(name);
    });
    await expect(cache.getOrCreate(api, 'http://a', 'e')).rejects.toThrow('MLflow is down');
    fail = false;
    expect(await cache.getOrCreate(api, 'http://a', 'e')).toMatchObject({ cached: false });
    expect(api.calls).toBe(2);
  });

  it('looks up again after forget (an experiment deleted since)', async () => {
    const cache = new ExperimentLookupCache();
    let id = '1';
    const api = fakeApi(async (name) => experiment(name, id));
    await cache.getOrCreate(api, 'http://a', 'e');
    id = '2';
    cache.forget('http://a', 'e');
    expect(await cache.getOrCreate(api, 'http://a', 'e')).toEqual({
      experiment: experiment('e', '2'),
      cached: false,
    });
  });

  it('keeps at most maxEntries names, dropping the oldest', async () => {
    const cache = new ExperimentLookupCache({ maxEntries: 2 });
    const api = fakeApi(async (name) => experiment(name));
    for (const name of ['a', 'b', 'c']) await cache.getOrCreate(api, 'http://s', name);
    expect((await cache.getOrCreate(api, 'http://s', 'c')).cached).toBe(true);
    expect((await cache.getOrCreate(api, 'http://s', 'a')).cached).toBe(false);
    expect(api.calls).toBe(4);
  });
});
