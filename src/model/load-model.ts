import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MlflowClient } from '../mlflow/client.js';
import { MlflowResourceNotFoundError } from '../mlflow/errors.js';
import { temporalMlflowFlavor, type MLmodel } from './mlmodel.js';
import { ModelLoadError } from './errors.js';
import { readMLmodelObject, verifyModel } from './integrity.js';
import type { LoadBundleOptions, PipelineModel } from './runtime.js';

export interface LoadModelOptions {
  /** Client for `runs:/` and `models:/` URIs. @default MlflowClient.fromEnv() */
  client?: MlflowClient;
  /** Where downloaded models are kept (by model id, so each downloads once). @default ~/.cache/temporal-mlflow/models */
  cacheDir?: string;
  /**
   * The key the model's hash manifest must be signed with (an unsigned or wrongly signed model is
   * refused); `null` checks hashes only.
   * @default process.env.TEMPORAL_MLFLOW_SIGNING_KEY
   */
  signingKey?: string | null;
}

/** A parsed model URI: `runs:/<run>/<name>`, `models:/<model_id>`, `models:/<name>/<version>`, `models:/<name>@<alias>` or a folder. */
export type ModelUri =
  | { kind: 'local'; path: string }
  | { kind: 'run'; runId: string; name: string }
  | { kind: 'model-id'; modelId: string }
  | { kind: 'version'; name: string; version: string }
  | { kind: 'alias'; name: string; alias: string };

export function parseModelUri(uri: string): ModelUri {
  const run = /^runs:\/([^/]+)\/(.+)$/.exec(uri);
  if (run) return { kind: 'run', runId: run[1]!, name: run[2]!.replace(/\/+$/, '') };
  if (uri.startsWith('models:/')) {
    const rest = uri.slice('models:/'.length);
    const alias = /^([^/@]+)@([^/@]+)$/.exec(rest);
    if (alias) return { kind: 'alias', name: alias[1]!, alias: alias[2]! };
    const version = /^([^/]+)\/(\d+)$/.exec(rest);
    if (version) return { kind: 'version', name: version[1]!, version: version[2]! };
    if (/^m-[0-9a-f]+$/.test(rest)) return { kind: 'model-id', modelId: rest };
    throw new ModelLoadError(
      uri,
      'expected models:/<model_id>, models:/<name>/<version> or models:/<name>@<alias>.',
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\//i.test(uri) && !uri.startsWith('file:')) {
    throw new ModelLoadError(uri, 'unsupported scheme: use runs:/, models:/ or a local folder.');
  }
  return { kind: 'local', path: resolve(uri.replace(/^file:\/\//, '')) };
}

/** The LoggedModel id a remote URI points to. */
export async function resolveModelId(
  uri: ModelUri,
  client: MlflowClient,
  text: string,
): Promise<string> {
  switch (uri.kind) {
    case 'model-id':
      return uri.modelId;
    case 'version':
    case 'alias': {
      const version =
        uri.kind === 'version'
          ? await client.registry.getModelVersion(uri.name, uri.version)
          : await client.registry.getModelVersionByAlias(uri.name, uri.alias);
      const modelId = version.model_id ?? /^models:\/(m-[0-9a-f]+)$/.exec(version.source)?.[1];
      if (!modelId)
        throw new ModelLoadError(
          text,
          `registry version ${version.version} has no logged model (source ${version.source}).`,
        );
      return modelId;
    }
    case 'run': {
      const run = await client.runs.get(uri.runId);
      const escaped = uri.name.replace(/'/g, "\\'");
      for await (const model of client.loggedModels.searchAll({
        experimentIds: [run.info.experiment_id],
        filter: `name = '${escaped}'`,
      })) {
        if (model.info.source_run_id === uri.runId && model.info.status === 'LOGGED_MODEL_READY')
          return model.info.model_id;
      }
      throw new ModelLoadError(
        text,
        `run ${uri.runId} has no ready logged model named '${uri.name}'.`,
      );
    }
    case 'local':
      throw new ModelLoadError(text, 'a local folder has no model id.');
  }
}

/** Downloads a logged model's folder once into the cache; returns the local folder. */
async function downloadModel(
  client: MlflowClient,
  modelId: string,
  cacheDir: string,
): Promise<string> {
  const target = join(cacheDir, modelId);
  if (existsSync(join(target, 'MLmodel'))) return target;
  const model = await client.loggedModels.get(modelId);
  if (model.info.status !== 'LOGGED_MODEL_READY') {
    throw new ModelLoadError(
      `models:/${modelId}`,
      `the logged model is ${model.info.status}, not ready.`,
    );
  }
  await mkdir(cacheDir, { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  await client.artifacts.downloadDirectory(model.info.artifact_uri, undefined, partial);
  await rename(partial, target).catch(async (error: unknown) => {
    // Another process finished the same download first: keep theirs.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(target, 'MLmodel'))) throw error;
  });
  return target;
}

/** The local folder of a model URI, downloading it when remote. */
export async function resolveModelDir(
  uri: string,
  options: LoadModelOptions = {},
): Promise<string> {
  const parsed = parseModelUri(uri);
  if (parsed.kind === 'local') {
    const isDir = await stat(parsed.path).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir || !existsSync(join(parsed.path, 'MLmodel'))) {
      throw new ModelLoadError(
        uri,
        `no MLflow model folder there (expected ${join(parsed.path, 'MLmodel')}).`,
      );
    }
    return parsed.path;
  }
  const client = options.client ?? MlflowClient.fromEnv();
  return whereModelExists(uri, client, async () =>
    downloadModel(
      client,
      await resolveModelId(parsed, client, uri),
      options.cacheDir ?? join(homedir(), '.cache', 'temporal-mlflow', 'models'),
    ),
  );
}

/**
 * Runs `body`, which asks `client` about the model `uri` names; the server's 404 (it names an
 * endpoint and an id) becomes a `ModelLoadError` naming the URI the user gave and the server.
 */
export async function whereModelExists<T>(
  uri: string,
  client: MlflowClient,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof MlflowResourceNotFoundError) {
      throw new ModelLoadError(
        uri,
        `it does not exist on ${client.trackingUri} (${error.message})`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Loads a packaged pipeline model from any URI form (see `ModelUri`) and returns it ready to
 * `predict`. Remote models are downloaded once to a local cache.
 *
 * A model is code: before its bundle is imported, the folder is verified (`verifyModel`): paths
 * inside the folder, every file matching the hash manifest written at packaging, and the manifest's
 * signature when a signing key is configured. Throws `UnsafeModelPathError`,
 * `ModelIntegrityError` or `ModelSignatureError` naming the file.
 */
export async function loadModel(
  uri: string,
  options: LoadModelOptions = {},
): Promise<PipelineModel> {
  const dir = await resolveModelDir(uri, options);
  // MLmodel read once and the flavor checked once: the verification and the bundle are given it.
  const mlmodel = await readMLmodelObject(dir);
  temporalMlflowFlavor(mlmodel, uri);
  const { bundlePath } = await verifyModel(dir, {
    mlmodel,
    ...(options.signingKey !== undefined ? { signingKey: options.signingKey } : {}),
  });
  const bundle = (await import(pathToFileURL(bundlePath).href)) as {
    load(dir: string, options?: LoadBundleOptions): Promise<PipelineModel>;
  };
  const model = await bundle.load(dir, { skipVerification: true, mlmodel: mlmodel as MLmodel });
  model.metadata.modelUri = uri;
  model.metadata.dir = dir;
  return model;
}
