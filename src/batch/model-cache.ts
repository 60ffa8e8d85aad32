/**
 * Models loaded once per worker process, by URI: every chunk of a run (and of later runs with the
 * same model) predicts with the same loaded model. A failed load is forgotten, so a retry loads again.
 */
import {
  loadModel,
  parseModelUri,
  resolveModelId,
  whereModelExists,
  type LoadModelOptions,
} from '../model/load-model.js';
import { MlflowClient } from '../mlflow/client.js';
import type { Predictor } from './stream-predict.js';

export class ModelCache {
  readonly #models = new Map<string, Promise<Predictor>>();
  /** Loads performed (not cache hits), for tests and logs. */
  loads = 0;

  constructor(
    private readonly load: (uri: string) => Promise<Predictor> = (uri) => loadModel(uri),
    private readonly maxEntries = 4,
  ) {}

  get(uri: string): Promise<Predictor> {
    let model = this.#models.get(uri);
    if (!model) {
      if (this.#models.size >= this.maxEntries)
        this.#models.delete(this.#models.keys().next().value!);
      this.loads++;
      model = this.load(uri);
      model.catch(() => this.#models.delete(uri));
      this.#models.set(uri, model);
    }
    return model;
  }
}

/**
 * The URI every chunk of a run should load: a registry version, alias or run URI pinned to its
 * `models:/<model_id>` (an alias moved mid-run must not mix two models in one output), a folder
 * made absolute; `models:/<id>` as is.
 */
export async function pinModelUri(uri: string, options: LoadModelOptions = {}): Promise<string> {
  const parsed = parseModelUri(uri);
  if (parsed.kind === 'local') return parsed.path;
  if (parsed.kind === 'model-id') return uri;
  const client = options.client ?? MlflowClient.fromEnv();
  return whereModelExists(
    uri,
    client,
    async () => `models:/${await resolveModelId(parsed, client, uri)}`,
  );
}
