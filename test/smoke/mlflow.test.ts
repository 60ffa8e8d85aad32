import axios from 'axios';
import { randomUUID } from 'node:crypto';
import { services } from '../support/services.js';

describe('the MLflow tracking server', () => {
  it('creates an experiment and a run over REST and reads them back', async () => {
    const api = axios.create({ baseURL: `${services().MLFLOW_TRACKING_URI}/api/2.0/mlflow` });
    const name = `smoke-${randomUUID()}`;
    const created = await api.post('experiments/create', { name });
    const experimentId = created.data.experiment_id as string;
    const experiment = await api.get('experiments/get-by-name', {
      params: { experiment_name: name },
    });
    expect(experiment.data.experiment).toMatchObject({ experiment_id: experimentId, name });

    const run = await api.post('runs/create', {
      experiment_id: experimentId,
      run_name: 'smoke-run',
    });
    const runId = run.data.run.info.run_id as string;
    await api.post('runs/log-parameter', { run_id: runId, key: 'alpha', value: '0.5' });
    await api.post('runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
    const fetched = await api.get('runs/get', { params: { run_id: runId } });
    expect(fetched.data.run.info).toMatchObject({
      run_id: runId,
      run_name: 'smoke-run',
      status: 'FINISHED',
    });
    expect(fetched.data.run.data.params).toEqual([{ key: 'alpha', value: '0.5' }]);
  });
});
