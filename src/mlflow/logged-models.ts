/**
 * MLflow 3 logged models: create (PENDING, with its own artifact location), finalize (READY or
 * UPLOAD_FAILED), get, search, tags. Link a model to its run with `runs.logOutputs`.
 */
import type { Transport } from './http.js';
import { paginate, toKeyValues } from './util.js';
import type {
  LoggedModel,
  LoggedModelStatus,
  Page,
  PageOptions,
  ParamInput,
  TagsInput,
} from './types.js';
import { validateParam } from './validation.js';

const API = '/api/2.0/mlflow/logged-models';

export interface CreateLoggedModelOptions {
  experimentId: string;
  /** The model's name; `runs:/<run>/<name>` resolves to it when `sourceRunId` is that run. */
  name: string;
  sourceRunId?: string;
  /** Free text, e.g. the flavor. */
  modelType?: string;
  params?: ParamInput[] | Record<string, string | number | boolean>;
  tags?: TagsInput;
}

export interface SearchLoggedModelsOptions extends PageOptions {
  experimentIds: string[];
  /** e.g. `name = 'model' AND status = 'LOGGED_MODEL_READY'`. */
  filter?: string;
  orderBy?: { field_name: string; ascending?: boolean }[];
}

/** A logged-model answer must carry `model.info`: callers read its id and artifact URI. */
const MODEL_SHAPE = { model: 'object', 'model.info': 'object' } as const;

export class LoggedModelsApi {
  constructor(private readonly transport: Transport) {}

  /** Creates a PENDING model; upload its files to `info.artifact_uri`, then `finalize` it. */
  async create(options: CreateLoggedModelOptions): Promise<LoggedModel> {
    const params = options.params
      ? (Array.isArray(options.params)
          ? options.params
          : Object.entries(options.params).map(([key, value]) => ({ key, value }))
        ).map((p) => ({ key: p.key, value: validateParam(p) }))
      : undefined;
    const body = await this.transport.json<{ model: LoggedModel }>({
      method: 'POST',
      path: API,
      body: {
        experiment_id: options.experimentId,
        name: options.name,
        ...(options.sourceRunId ? { source_run_id: options.sourceRunId } : {}),
        ...(options.modelType ? { model_type: options.modelType } : {}),
        ...(params ? { params } : {}),
        ...(options.tags ? { tags: toKeyValues(options.tags) } : {}),
      },
      expect: MODEL_SHAPE,
    });
    return body.model;
  }

  /** Marks the model READY (its files are uploaded) or UPLOAD_FAILED. */
  async finalize(
    modelId: string,
    status: Exclude<LoggedModelStatus, 'LOGGED_MODEL_PENDING'> = 'LOGGED_MODEL_READY',
  ): Promise<LoggedModel> {
    const body = await this.transport.json<{ model: LoggedModel }>({
      method: 'PATCH',
      path: `${API}/${encodeURIComponent(modelId)}`,
      // The server requires model_id in the body as well as in the path.
      body: { model_id: modelId, status },
      expect: MODEL_SHAPE,
    });
    return body.model;
  }

  async get(modelId: string): Promise<LoggedModel> {
    const body = await this.transport.json<{ model: LoggedModel }>({
      method: 'GET',
      path: `${API}/${encodeURIComponent(modelId)}`,
      expect: MODEL_SHAPE,
    });
    return body.model;
  }

  async delete(modelId: string): Promise<void> {
    await this.transport.json({ method: 'DELETE', path: `${API}/${encodeURIComponent(modelId)}` });
  }

  async search(options: SearchLoggedModelsOptions): Promise<Page<LoggedModel>> {
    const body = await this.transport.json<{ models?: LoggedModel[]; next_page_token?: string }>({
      method: 'POST',
      path: `${API}/search`,
      body: {
        experiment_ids: options.experimentIds,
        max_results: options.maxResults ?? 100,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.orderBy ? { order_by: options.orderBy } : {}),
        ...(options.pageToken ? { page_token: options.pageToken } : {}),
      },
      expect: { models: 'array?', next_page_token: 'string?' },
    });
    return {
      items: body.models ?? [],
      ...(body.next_page_token ? { nextPageToken: body.next_page_token } : {}),
    };
  }

  searchAll(options: Omit<SearchLoggedModelsOptions, 'pageToken'>): AsyncGenerator<LoggedModel> {
    return paginate((pageToken) =>
      this.search({ ...options, ...(pageToken ? { pageToken } : {}) }),
    );
  }

  /** Adds params to a logged model. */
  async logParams(modelId: string, params: ParamInput[]): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/${encodeURIComponent(modelId)}/params`,
      body: {
        model_id: modelId,
        params: params.map((p) => ({ key: p.key, value: validateParam(p) })),
      },
    });
  }

  async setTags(modelId: string, tags: TagsInput): Promise<void> {
    await this.transport.json({
      method: 'PATCH',
      path: `${API}/${encodeURIComponent(modelId)}/tags`,
      body: { model_id: modelId, tags: toKeyValues(tags) },
    });
  }

  async deleteTag(modelId: string, key: string): Promise<void> {
    await this.transport.json({
      method: 'DELETE',
      path: `${API}/${encodeURIComponent(modelId)}/tags/${encodeURIComponent(key)}`,
    });
  }
}
