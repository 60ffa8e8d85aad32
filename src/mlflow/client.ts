/**
 * `MlflowClient`: a typed client of the MLflow 3 REST API over axios, grouped by topic
 * (`experiments`, `runs`, `artifacts`, `loggedModels`, `registry`) like Temporal's `Client`.
 */
import type { AxiosInstance } from 'axios';
import { ArtifactsApi } from './artifacts.js';
import { MlflowConfigError } from './errors.js';
import { ExperimentsApi } from './experiments.js';
import { Transport } from './http.js';
import type { MlflowAuth, RetryOptions } from './http.js';
import { LoggedModelsApi } from './logged-models.js';
import { RegistryApi } from './registry.js';
import { RunsApi } from './runs.js';

export interface MlflowClientOptions {
  /** `http(s)://host:port[/prefix]` of the tracking server. */
  trackingUri: string;
  /** The axios instance to send requests with (a fresh one by default). */
  http?: AxiosInstance;
  /** Bearer token or Basic credentials; never appear in error messages. */
  auth?: MlflowAuth;
  /** Retries on 429, 5xx and connection failures; other 4xx are never retried. */
  retry?: RetryOptions;
  /** Socket idle timeout of one attempt; the whole call is bounded by `retry.totalTimeoutMs`. @default 30000 */
  requestTimeoutMs?: number;
  /**
   * Total deadline of one streamed artifact upload or download, from the request to the last
   * byte. @default 600000 (10 minutes)
   */
  transferTimeoutMs?: number;
  /** Accept self-signed TLS certificates. Ignored when `http` is given. @default false */
  insecureTls?: boolean;
}

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);

export class MlflowClient {
  /** The tracking URI, without user info. */
  readonly trackingUri: string;
  readonly experiments: ExperimentsApi;
  readonly runs: RunsApi;
  readonly artifacts: ArtifactsApi;
  readonly loggedModels: LoggedModelsApi;
  readonly registry: RegistryApi;

  constructor(options: MlflowClientOptions) {
    const transport = new Transport(options);
    this.trackingUri = transport.options.displayUri;
    this.experiments = new ExperimentsApi(transport);
    this.runs = new RunsApi(transport);
    this.artifacts = new ArtifactsApi(
      transport,
      async (runId) => (await this.runs.get(runId)).info.artifact_uri,
    );
    this.loggedModels = new LoggedModelsApi(transport);
    this.registry = new RegistryApi(transport);
  }

  /**
   * A client configured from MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME/PASSWORD (Basic, wins
   * over the token), MLFLOW_TRACKING_TOKEN (Bearer) and MLFLOW_TRACKING_INSECURE_TLS; `overrides`
   * win over the environment.
   */
  static fromEnv(
    env: NodeJS.ProcessEnv = process.env,
    overrides: Partial<MlflowClientOptions> = {},
  ): MlflowClient {
    const trackingUri = overrides.trackingUri ?? env.MLFLOW_TRACKING_URI;
    if (!trackingUri) {
      throw new MlflowConfigError(
        undefined,
        [{ path: 'MLFLOW_TRACKING_URI', message: 'MLFLOW_TRACKING_URI is not set' }],
        "Set it to the MLflow server's URL, e.g. MLFLOW_TRACKING_URI=http://127.0.0.1:5000.",
      );
    }
    return new MlflowClient({
      ...overrides,
      trackingUri,
      auth: overrides.auth ?? authFromEnv(env),
      insecureTls:
        overrides.insecureTls ??
        TRUE_VALUES.has((env.MLFLOW_TRACKING_INSECURE_TLS ?? '').toLowerCase()),
    });
  }
}

/** Credentials from MLFLOW_TRACKING_USERNAME/PASSWORD (preferred) or MLFLOW_TRACKING_TOKEN. */
export function authFromEnv(env: Record<string, string | undefined>): MlflowAuth | undefined {
  if (env.MLFLOW_TRACKING_USERNAME && env.MLFLOW_TRACKING_PASSWORD !== undefined) {
    return { username: env.MLFLOW_TRACKING_USERNAME, password: env.MLFLOW_TRACKING_PASSWORD };
  }
  if (env.MLFLOW_TRACKING_TOKEN) return { token: env.MLFLOW_TRACKING_TOKEN };
  return undefined;
}
