/**
 * The model registry: registered models, versions (from `models:/<model_id>` sources), aliases
 * and tags. Reserved aliases (`latest`, `v<digits>`) are refused before calling the server.
 */
import {
  MlflowInvalidParameterError,
  MlflowResourceAlreadyExistsError,
  MlflowResourceNotFoundError,
} from './errors.js';
import type { Transport } from './http.js';
import { paginate, toKeyValues } from './util.js';
import type { ModelVersion, Page, PageOptions, RegisteredModel, TagsInput } from './types.js';
import { validateAlias, validateTag } from './validation.js';

const API = '/api/2.0/mlflow';

export interface CreateRegisteredModelOptions {
  tags?: TagsInput;
  description?: string;
}

export interface CreateModelVersionOptions {
  name: string;
  /** `models:/<model_id>` for MLflow 3 logged models, or an artifact URI. */
  source: string;
  runId?: string;
  modelId?: string;
  tags?: TagsInput;
  description?: string;
}

export interface SearchModelVersionsOptions extends PageOptions {
  /** e.g. `name = 'iris'` or `run_id = '...'`. */
  filter?: string;
  orderBy?: string[];
}

export class RegistryApi {
  constructor(private readonly transport: Transport) {}

  async createRegisteredModel(
    name: string,
    options: CreateRegisteredModelOptions = {},
  ): Promise<RegisteredModel> {
    const body = await this.transport.json<{ registered_model: RegisteredModel }>({
      method: 'POST',
      path: `${API}/registered-models/create`,
      body: {
        name,
        ...(options.tags ? { tags: toKeyValues(options.tags) } : {}),
        ...(options.description ? { description: options.description } : {}),
      },
      expect: { registered_model: 'object' },
    });
    return body.registered_model;
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    const body = await this.transport.json<{ registered_model: RegisteredModel }>({
      method: 'GET',
      path: `${API}/registered-models/get`,
      query: { name },
      expect: { registered_model: 'object' },
    });
    return body.registered_model;
  }

  /** The registered model, created when missing (safe when several processes race). */
  async getOrCreateRegisteredModel(
    name: string,
    options: CreateRegisteredModelOptions = {},
  ): Promise<RegisteredModel> {
    try {
      return await this.getRegisteredModel(name);
    } catch (error) {
      if (!(error instanceof MlflowResourceNotFoundError)) throw error;
    }
    try {
      return await this.createRegisteredModel(name, options);
    } catch (error) {
      if (error instanceof MlflowResourceAlreadyExistsError) return this.getRegisteredModel(name);
      throw error;
    }
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.transport.json({
      method: 'DELETE',
      path: `${API}/registered-models/delete`,
      body: { name },
    });
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/registered-models/set-tag`,
      body: { name, key, value: validateTag(key, value) },
    });
  }

  async createModelVersion(options: CreateModelVersionOptions): Promise<ModelVersion> {
    const body = await this.transport.json<{ model_version: ModelVersion }>({
      method: 'POST',
      path: `${API}/model-versions/create`,
      body: {
        name: options.name,
        source: options.source,
        ...(options.runId ? { run_id: options.runId } : {}),
        ...(options.modelId ? { model_id: options.modelId } : {}),
        ...(options.tags ? { tags: toKeyValues(options.tags) } : {}),
        ...(options.description ? { description: options.description } : {}),
      },
      expect: { model_version: 'object' },
    });
    return body.model_version;
  }

  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    const body = await this.transport.json<{ model_version: ModelVersion }>({
      method: 'GET',
      path: `${API}/model-versions/get`,
      query: { name, version: String(version) },
      expect: { model_version: 'object' },
    });
    return body.model_version;
  }

  /** `model-versions/search` (a GET endpoint: options travel in the query string). */
  async searchModelVersions(options: SearchModelVersionsOptions = {}): Promise<Page<ModelVersion>> {
    const body = await this.transport.json<{
      model_versions?: ModelVersion[];
      next_page_token?: string;
    }>({
      method: 'GET',
      path: `${API}/model-versions/search`,
      query: {
        max_results: options.maxResults ?? 1000,
        filter: options.filter,
        order_by: options.orderBy,
        page_token: options.pageToken,
      },
      expect: { model_versions: 'array?', next_page_token: 'string?' },
    });
    return {
      items: body.model_versions ?? [],
      ...(body.next_page_token ? { nextPageToken: body.next_page_token } : {}),
    };
  }

  searchAllModelVersions(
    options: Omit<SearchModelVersionsOptions, 'pageToken'> = {},
  ): AsyncGenerator<ModelVersion> {
    return paginate((pageToken) =>
      this.searchModelVersions({ ...options, ...(pageToken ? { pageToken } : {}) }),
    );
  }

  async setModelVersionTag(
    name: string,
    version: string | number,
    key: string,
    value: string,
  ): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/model-versions/set-tag`,
      body: { name, version: String(version), key, value: validateTag(key, value) },
    });
  }

  async deleteModelVersion(name: string, version: string | number): Promise<void> {
    await this.transport.json({
      method: 'DELETE',
      path: `${API}/model-versions/delete`,
      body: { name, version: String(version) },
    });
  }

  /** Points `alias` at `version` (moving it if it pointed elsewhere). */
  async setAlias(name: string, alias: string, version: string | number): Promise<void> {
    validateAlias(alias);
    await this.transport.json({
      method: 'POST',
      path: `${API}/registered-models/alias`,
      body: { name, alias, version: String(version) },
    });
  }

  /**
   * The version an alias points at. A missing alias raises `MlflowResourceNotFoundError` (the
   * server itself answers INVALID_PARAMETER_VALUE, HTTP 400, "alias ... not found").
   */
  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    try {
      const body = await this.transport.json<{ model_version: ModelVersion }>({
        method: 'GET',
        path: `${API}/registered-models/alias`,
        query: { name, alias },
        expect: { model_version: 'object' },
      });
      return body.model_version;
    } catch (error) {
      if (
        error instanceof MlflowInvalidParameterError &&
        /alias .* not found/i.test(error.message)
      ) {
        throw new MlflowResourceNotFoundError(
          `Registered model '${name}' has no alias '${alias}'. ${error.message}`,
          {
            errorCode: 'RESOURCE_DOES_NOT_EXIST',
            httpStatus: error.httpStatus,
            endpoint: error.endpoint,
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  /** Removes an alias (the server reads name and alias from the JSON body, not the query). */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.transport.json({
      method: 'DELETE',
      path: `${API}/registered-models/alias`,
      body: { name, alias },
    });
  }
}
