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

/** Options of an {@link ExperimentLookupCache}. */
export interface ExperimentLookupCacheOptions {
  /**
   * How long a looked-up experiment is trusted: a renamed experiment is followed at most this long.
   * @default 60000
   */
  ttlMs?: number;
  /** Entries kept (least recently added dropped first). @default 64 */
  maxEntries?: number;
  /** The clock. @default Date.now */
  now?: () => number;
}

/** An experiment from an {@link ExperimentLookupCache}, saying whether it came from the cache. */
export interface CachedExperiment {
  experiment: Experiment;
  /** True when no request was made: the caller should `forget` it if the server refuses it. */
  cached: boolean;
}

/**
 * Remembers `getOrCreate` look-ups per tracking server and experiment name, so that a worker
 * starting many runs (a sweep's trials) asks the server once a minute rather than once a run.
 * Concurrent look-ups of one name share a request; a failed look-up is not remembered. A caller
 * whose request is refused for an experiment it got from the cache (deleted, or gone) calls
 * `forget` and looks up again: `getOrCreate` then restores or re-creates it.
 */
export class ExperimentLookupCache {
  private readonly entries = new Map<string, { at: number; experiment: Promise<Experiment> }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: ExperimentLookupCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 64;
    this.now = options.now ?? Date.now;
  }

  /** The active experiment `name` of the server at `trackingUri`, created or restored if needed. */
  async getOrCreate(
    api: ExperimentsApi,
    trackingUri: string,
    name: string,
    options: GetOrCreateExperimentOptions = {},
  ): Promise<CachedExperiment> {
    const key = `${trackingUri}\n${name}`;
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.at < this.ttlMs) {
      try {
        return { experiment: await entry.experiment, cached: true };
      } catch {
        // The shared look-up failed: this caller tries again with its own.
      }
    }
    const experiment = api.getOrCreate(name, options);
    if (this.entries.size >= this.maxEntries && !this.entries.has(key))
      this.entries.delete(this.entries.keys().next().value!);
    const fresh = { at: this.now(), experiment };
    this.entries.set(key, fresh);
    try {
      return { experiment: await experiment, cached: false };
    } catch (error) {
      if (this.entries.get(key) === fresh) this.entries.delete(key);
      throw error;
    }
  }

  /** Drops what is remembered of experiment `name` of the server at `trackingUri`. */
  forget(trackingUri: string, name: string): void {
    this.entries.delete(`${trackingUri}\n${name}`);
  }
}
