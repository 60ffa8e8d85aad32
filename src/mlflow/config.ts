import { EXPERIMENT_KIND_TRAINING, TAG_EXPERIMENT_KIND } from '../constants.js';
/**
 * `conf/<env>/mlflow.yml`: kedro-mlflow's keys exactly (so a kedro-mlflow user's file works
 * unchanged), validated with zod, unknown keys rejected with their full path and a "did you mean".
 * Three stages, as everywhere in this project: the raw YAML → `parseMlflowConfig` (validated, with
 * kedro-mlflow's defaults) → `resolveMlflowConfig` (tracking URI and credentials resolved,
 * camelCase, ready for `new MlflowClient`).
 */
import * as z from 'zod';
import { localServicesCommand } from '../utils/local-services-hint.js';
import { didYouMean } from '../utils/suggest.js';
import { authFromEnv } from './client.js';
import type { MlflowClientOptions } from './client.js';
import { MlflowConfigError } from './errors.js';
import type { MlflowConfigIssue } from './errors.js';
import type { MlflowAuth } from './http.js';
import type { LongParamsStrategy } from './params.js';

const nullableString = z.string().nullable().default(null);

const serverSchema = z.strictObject({
  mlflow_tracking_uri: nullableString,
  mlflow_registry_uri: nullableString,
  credentials: nullableString,
  request_header_provider: z
    .strictObject({
      type: nullableString,
      pass_context: z.boolean().default(false),
      init_kwargs: z.record(z.string(), z.unknown()).nullable().default({}),
    })
    .prefault({}),
});

const trackingSchema = z.strictObject({
  disable_tracking: z
    .strictObject({
      pipelines: z.array(z.string()).nullable().default([]),
      disable_autologging: z.boolean().default(true),
    })
    .prefault({}),
  experiment: z
    .strictObject({
      name: nullableString,
      create_experiment_kwargs: z
        .strictObject({
          artifact_location: nullableString,
          tags: z
            .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
            .nullable()
            .default(null),
        })
        .prefault({}),
      restore_if_deleted: z.boolean().default(true),
    })
    .prefault({}),
  run: z
    .strictObject({
      id: nullableString,
      name: nullableString,
      nested: z.boolean().default(true),
    })
    .prefault({}),
  params: z
    .strictObject({
      dict_params: z
        .strictObject({
          flatten: z.boolean().default(false),
          recursive: z.boolean().default(true),
          sep: z.string().default('.'),
        })
        .prefault({}),
      long_params_strategy: z.enum(['fail', 'truncate', 'tag']).default('fail'),
    })
    .prefault({}),
});

const uiSchema = z.strictObject({
  port: z.union([z.string(), z.number()]).default('5000'),
  host: z.string().default('127.0.0.1'),
});

/** The schema of mlflow.yml (kedro-mlflow's `KedroMlflowConfig`). */
export const mlflowConfigSchema = z.strictObject({
  server: serverSchema.prefault({}),
  tracking: trackingSchema.prefault({}),
  ui: uiSchema.prefault({}),
});

/** mlflow.yml as validated, kedro-mlflow's defaults applied (snake_case, as in the file). */
export type MlflowConfig = z.output<typeof mlflowConfigSchema>;

/** Validates mlflow.yml content (`null`/empty file = all defaults); throws `MlflowConfigError` listing every issue. */
export function parseMlflowConfig(raw: unknown, file?: string): MlflowConfig {
  const result = safeParseMlflowConfig(raw);
  if (!result.success) throw new MlflowConfigError(file, result.issues);
  return result.data;
}

export type SafeParseMlflowConfigResult =
  { success: true; data: MlflowConfig } | { success: false; issues: MlflowConfigIssue[] };

export function safeParseMlflowConfig(raw: unknown): SafeParseMlflowConfigResult {
  const result = mlflowConfigSchema.safeParse(raw ?? {});
  if (result.success) return { success: true, data: result.data };
  const issues: MlflowConfigIssue[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(path);
      for (const key of issue.keys) {
        issues.push({
          path: [...path, key].join('.'),
          message: `Unknown key '${key}' (expected one of: ${known.join(', ')}).${didYouMean(key, known)}`,
        });
      }
    } else {
      issues.push({ path: path.join('.'), message: issue.message });
    }
  }
  return { success: false, issues };
}

/** The keys the schema allows at `path`, sorted. */
function knownKeys(path: string[]): string[] {
  let schema: z.ZodType = mlflowConfigSchema;
  for (const segment of [...path, '']) {
    // Unwrap defaults / prefaults / nullables down to the object.
    let def = (schema as { _zod: { def: { innerType?: z.ZodType } } })._zod.def;
    while (def.innerType) {
      schema = def.innerType;
      def = (schema as { _zod: { def: { innerType?: z.ZodType } } })._zod.def;
    }
    if (!(schema instanceof z.ZodObject)) return [];
    if (segment === '') return Object.keys(schema.shape).sort();
    const next = (schema.shape as Record<string, z.ZodType>)[segment];
    if (!next) return [];
    schema = next;
  }
  return [];
}

/** Everything the tracking hook and the CLI need, resolved. */
export interface ResolvedMlflowConfig {
  /** False when no tracking URI is configured (neither mlflow.yml nor MLFLOW_TRACKING_URI): nothing is logged. */
  enabled: boolean;
  server: {
    trackingUri: string | undefined;
    registryUri: string | undefined;
    /** Credentials for the client only (non-enumerable: never printed or serialised with the config). */
    readonly auth?: MlflowAuth;
    insecureTls: boolean;
  };
  tracking: {
    disableTracking: { pipelines: string[]; disableAutologging: boolean };
    experiment: {
      name: string;
      artifactLocation: string | undefined;
      tags: Record<string, string>;
      restoreIfDeleted: boolean;
    };
    run: { id: string | undefined; name: string | undefined; nested: boolean };
    params: {
      flatten: boolean;
      recursive: boolean;
      sep: string;
      longParamsStrategy: LongParamsStrategy;
    };
  };
  ui: { host: string; port: number };
}

export interface ResolveMlflowConfigOptions {
  /** The experiment name when mlflow.yml names none. */
  projectName: string;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** The content of credentials.yml; `server.credentials` names one of its keys. */
  credentials?: Record<string, unknown>;
  /** For messages, e.g. `conf/local/mlflow.yml`. */
  file?: string;
}

const AUTH_KEYS = [
  'MLFLOW_TRACKING_USERNAME',
  'MLFLOW_TRACKING_PASSWORD',
  'MLFLOW_TRACKING_TOKEN',
  'MLFLOW_TRACKING_INSECURE_TLS',
];

/**
 * Validates mlflow.yml content (or `undefined` when the project has none) and resolves it: tracking
 * URI from the file, else MLFLOW_TRACKING_URI, else tracking disabled; experiment name defaulting
 * to the project name; credentials from `server.credentials` (else the environment), for auth only.
 */
export function resolveMlflowConfig(
  raw: unknown,
  options: ResolveMlflowConfigOptions,
): ResolvedMlflowConfig {
  const env = options.env ?? process.env;
  const config = parseMlflowConfig(raw, options.file);
  const issues: MlflowConfigIssue[] = [];
  const { server, tracking, ui } = config;

  let trackingUri = server.mlflow_tracking_uri ?? undefined;
  let uriSource = 'server.mlflow_tracking_uri';
  if (!trackingUri && env.MLFLOW_TRACKING_URI) {
    trackingUri = env.MLFLOW_TRACKING_URI;
    uriSource = 'MLFLOW_TRACKING_URI';
  }
  if (trackingUri) {
    const problem = checkTrackingUri(trackingUri);
    if (problem) issues.push({ path: uriSource, message: problem });
    trackingUri = trackingUri.replace(/\/+$/, '');
  }
  const registryUri = server.mlflow_registry_uri ?? undefined;
  if (registryUri && trackingUri && registryUri.replace(/\/+$/, '') !== trackingUri) {
    issues.push({
      path: 'server.mlflow_registry_uri',
      message: `A registry server other than the tracking server is not supported (registry '${registryUri}', tracking '${trackingUri}'); remove it or set it to the tracking URI`,
    });
  }
  if (server.request_header_provider.type) {
    issues.push({
      path: 'server.request_header_provider.type',
      message: `Python request header providers cannot be loaded; set it to null and give a token through server.credentials (MLFLOW_TRACKING_TOKEN)`,
    });
  }

  const authSource: Record<string, string | undefined> = Object.fromEntries(
    AUTH_KEYS.map((k) => [k, env[k]]),
  );
  if (server.credentials) {
    const entry = options.credentials?.[server.credentials];
    if (
      entry === undefined ||
      entry === null ||
      typeof entry !== 'object' ||
      Array.isArray(entry)
    ) {
      const available = Object.keys(options.credentials ?? {}).sort();
      issues.push({
        path: 'server.credentials',
        message:
          entry === undefined
            ? `credentials.yml has no key '${server.credentials}' (available: ${available.join(', ') || 'none'}).${didYouMean(server.credentials, available)}`
            : `credentials.yml key '${server.credentials}' must map variable names (e.g. MLFLOW_TRACKING_TOKEN) to values`,
      });
    } else {
      for (const key of AUTH_KEYS) {
        const value = (entry as Record<string, unknown>)[key];
        if (value !== undefined && value !== null) authSource[key] = String(value);
      }
    }
  }

  const port = Number(ui.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    issues.push({
      path: 'ui.port',
      message: `Expected a port number between 1 and 65535, received '${ui.port}'`,
    });
  }
  if (issues.length > 0) throw new MlflowConfigError(options.file, issues);

  const resolvedServer: ResolvedMlflowConfig['server'] = {
    trackingUri,
    registryUri,
    insecureTls: ['1', 'true', 'yes', 'on'].includes(
      (authSource.MLFLOW_TRACKING_INSECURE_TLS ?? '').toLowerCase(),
    ),
  };
  const auth = authFromEnv(authSource);
  if (auth) Object.defineProperty(resolvedServer, 'auth', { value: auth, enumerable: false });

  const tags = tracking.experiment.create_experiment_kwargs.tags ?? {};
  return {
    enabled: trackingUri !== undefined,
    server: resolvedServer,
    tracking: {
      disableTracking: {
        pipelines: tracking.disable_tracking.pipelines ?? [],
        disableAutologging: tracking.disable_tracking.disable_autologging,
      },
      experiment: {
        name: tracking.experiment.name ?? options.projectName,
        artifactLocation:
          tracking.experiment.create_experiment_kwargs.artifact_location ?? undefined,
        // MLflow 3 opens an experiment without a kind on its GenAI overview: ours are training runs.
        tags: {
          [TAG_EXPERIMENT_KIND]: EXPERIMENT_KIND_TRAINING,
          ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
        },
        restoreIfDeleted: tracking.experiment.restore_if_deleted,
      },
      run: {
        id: tracking.run.id ?? undefined,
        name: tracking.run.name ?? undefined,
        nested: tracking.run.nested,
      },
      params: {
        flatten: tracking.params.dict_params.flatten,
        recursive: tracking.params.dict_params.recursive,
        sep: tracking.params.dict_params.sep,
        longParamsStrategy: tracking.params.long_params_strategy,
      },
    },
    ui: { host: ui.host, port },
  };
}

/** Why a tracking URI cannot be used, or undefined when it can. */
function checkTrackingUri(uri: string): string | undefined {
  if (/^https?:\/\//i.test(uri)) {
    try {
      new URL(uri);
      return undefined;
    } catch {
      return `'${uri}' is not a valid URL`;
    }
  }
  return (
    `'${uri}' is not supported: temporal-mlflow talks to an MLflow tracking server over http(s) ` +
    `(local 'mlruns' folders, file:, sqlite: and databricks URIs are not). Start one with '${localServicesCommand()}' ` +
    `or 'mlflow server --host 127.0.0.1 --port 5000' and use http://127.0.0.1:5000`
  );
}

/** `MlflowClient` options for a resolved config, or undefined when tracking is disabled. */
export function mlflowClientOptions(config: ResolvedMlflowConfig): MlflowClientOptions | undefined {
  if (!config.server.trackingUri) return undefined;
  return {
    trackingUri: config.server.trackingUri,
    insecureTls: config.server.insecureTls,
    ...(config.server.auth ? { auth: config.server.auth } : {}),
  };
}

/** Whether runs of this pipeline are tracked (tracking enabled and the pipeline not in `disable_tracking.pipelines`). */
export function isPipelineTracked(config: ResolvedMlflowConfig, pipelineName: string): boolean {
  return config.enabled && !config.tracking.disableTracking.pipelines.includes(pipelineName);
}
