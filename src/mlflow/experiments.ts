/** Experiments: get by id or name, create, restore, delete, search, and a race-safe get-or-create. */
import {
  MlflowError,
  MlflowResourceAlreadyExistsError,
  MlflowResourceNotFoundError,
} from './errors.js';
import type { Transport } from './http.js';
import { toKeyValues } from './util.js';
import type { Experiment, Page, PageOptions, TagsInput, ViewType } from './types.js';

const API = '/api/2.0/mlflow/experiments';

export interface CreateExperimentOptions {
  /** Fixed for the experiment's lifetime; the server's default root when omitted. */
  artifactLocation?: string;
  tags?: TagsInput;
}

export interface GetOrCreateExperimentOptions extends CreateExperimentOptions {
  /** Restore the experiment when it exists but was deleted (kedro-mlflow's default). @default true */
  restoreIfDeleted?: boolean;
}

export interface SearchExperimentsOptions extends PageOptions {
  filter?: string;
  orderBy?: string[];
  viewType?: ViewType;
}

export class ExperimentsApi {
  constructor(private readonly transport: Transport) {}

  async get(experimentId: string): Promise<Experiment> {
    const body = await this.transport.json<{ experiment: Experiment }>({
      method: 'GET',
      path: `${API}/get`,
      query: { experiment_id: experimentId },
      expect: { experiment: 'object' },
    });
    return body.experiment;
  }

  /** The experiment with that name (active or deleted), or `undefined` when there is none. */
  async getByName(name: string): Promise<Experiment | undefined> {
    try {
      const body = await this.transport.json<{ experiment: Experiment }>({
        method: 'GET',
        path: `${API}/get-by-name`,
        query: { experiment_name: name },
        expect: { experiment: 'object' },
      });
      return body.experiment;
    } catch (error) {
      if (error instanceof MlflowResourceNotFoundError) return undefined;
      throw error;
    }
  }

  /** Creates the experiment and returns its id. */
  async create(name: string, options: CreateExperimentOptions = {}): Promise<string> {
    const body = await this.transport.json<{ experiment_id: string }>({
      method: 'POST',
      path: `${API}/create`,
      body: {
        name,
        ...(options.artifactLocation ? { artifact_location: options.artifactLocation } : {}),
        ...(options.tags ? { tags: toKeyValues(options.tags) } : {}),
      },
      expect: { experiment_id: 'string' },
    });
    return body.experiment_id;
  }

  async restore(experimentId: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/restore`,
      body: { experiment_id: experimentId },
    });
  }

  async delete(experimentId: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/delete`,
      body: { experiment_id: experimentId },
    });
  }

  async setTag(experimentId: string, key: string, value: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/set-experiment-tag`,
      body: { experiment_id: experimentId, key, value },
    });
  }

  /**
   * The active experiment with that name, created when missing and restored when deleted (unless
   * `restoreIfDeleted` is false). Safe when several processes race to create it: the loser of
   * the race (`RESOURCE_ALREADY_EXISTS`, HTTP 400) reads the winner's experiment.
   */
  async getOrCreate(name: string, options: GetOrCreateExperimentOptions = {}): Promise<Experiment> {
    const existing = await this.getByName(name);
    if (existing) return this.ensureActive(existing, options.restoreIfDeleted ?? true);
    try {
      const id = await this.create(name, options);
      return await this.get(id);
    } catch (error) {
      if (!(error instanceof MlflowResourceAlreadyExistsError)) throw error;
      const winner = await this.getByName(name);
      if (!winner) throw error;
      return this.ensureActive(winner, options.restoreIfDeleted ?? true);
    }
  }

  private async ensureActive(
    experiment: Experiment,
    restoreIfDeleted: boolean,
  ): Promise<Experiment> {
    if (experiment.lifecycle_stage !== 'deleted') return experiment;
    if (!restoreIfDeleted) {
      throw new MlflowError(
        `Experiment '${experiment.name}' (id ${experiment.experiment_id}) is deleted. Restore it in the MLflow UI, ` +
          `set tracking.experiment.restore_if_deleted: true in mlflow.yml, or choose another experiment name.`,
        { errorCode: 'INVALID_STATE' },
      );
    }
    await this.restore(experiment.experiment_id);
    return { ...experiment, lifecycle_stage: 'active' };
  }

  async search(options: SearchExperimentsOptions = {}): Promise<Page<Experiment>> {
    const body = await this.transport.json<{
      experiments?: Experiment[];
      next_page_token?: string;
    }>({
      method: 'POST',
      path: `${API}/search`,
      body: {
        max_results: options.maxResults ?? 1000,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.orderBy ? { order_by: options.orderBy } : {}),
        ...(options.viewType ? { view_type: options.viewType } : {}),
        ...(options.pageToken ? { page_token: options.pageToken } : {}),
      },
      expect: { experiments: 'array?', next_page_token: 'string?' },
    });
    return {
      items: body.experiments ?? [],
      ...(body.next_page_token ? { nextPageToken: body.next_page_token } : {}),
    };
  }
}
