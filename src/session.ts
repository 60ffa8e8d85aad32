import { loadProjectConfig, type ProjectConfig } from './catalog/config-loader.js';
import { DataCatalog } from './catalog/data-catalog.js';
import { DEFAULT_CONFIG_ENV, DEFAULT_PIPELINE_NAME } from './constants.js';
import { DatasetRegistry } from './datasets/registry.js';
import type { Hooks, RunInfo } from './hooks/types.js';
import { MlflowClient } from './mlflow/client.js';
import {
  isPipelineTracked,
  mlflowClientOptions,
  resolveMlflowConfig,
  type ResolvedMlflowConfig,
} from './mlflow/config.js';
import { registerMlflowDatasets } from './mlflow/datasets/index.js';
import { registerModelDatasets } from './model/datasets/register.js';
import { TrackingNotConfiguredError } from './mlflow/errors.js';
import { createMlflowTrackingHook, nodeParams } from './mlflow/tracking-hook.js';
import type { Pipeline } from './pipeline/pipeline.js';
import { getPipeline, loadProject, type LoadedProject } from './project/load-project.js';
import type { PipelineFilterOptions } from './pipeline/selection.js';
import type { RunContext } from './temporal/types.js';

export interface SessionOptions {
  /** Project root. @default process.cwd() */
  projectDir?: string;
  /** @default 'local' */
  env?: string;
  /** Runtime parameter overrides (`--params`). */
  runtimeParams?: Record<string, unknown>;
  /** Environment variables for `${oc.env:...}` and MLflow settings. @default process.env */
  environment?: Readonly<Record<string, string | undefined>>;
}

/**
 * Everything a run needs, loaded once: the project, its configuration for one environment, the
 * catalog built from it, and the MLflow settings and client. The CLI, the local runner and the
 * worker's activities all start from a session, so they resolve pipelines and data the same way.
 */
export class Session {
  private constructor(
    readonly project: LoadedProject,
    readonly env: string,
    readonly runtimeParams: Readonly<Record<string, unknown>>,
    readonly config: ProjectConfig,
    readonly catalog: DataCatalog,
    readonly mlflow: ResolvedMlflowConfig,
    /** Undefined when no tracking URI is configured. */
    readonly mlflowClient: MlflowClient | undefined,
  ) {}

  static async open(options: SessionOptions = {}): Promise<Session> {
    const env = options.env ?? DEFAULT_CONFIG_ENV;
    const runtimeParams = options.runtimeParams ?? {};
    const environment = options.environment ?? process.env;
    const project = await loadProject(options.projectDir);
    const config = await loadProjectConfig({
      projectDir: project.dir,
      env,
      runtimeParams,
      environment,
      allowEnvIn: ['mlflow'],
    });
    const mlflow = resolveMlflowConfig(config.mlflow, {
      projectName: project.definition.name,
      env: environment,
      credentials: config.credentials,
      file: config.files.mlflow.at(-1),
    });
    const clientOptions = mlflowClientOptions(mlflow);
    const mlflowClient = clientOptions ? new MlflowClient(clientOptions) : undefined;
    const registry = new DatasetRegistry();
    registerMlflowDatasets(registry, () => mlflowClient);
    registerModelDatasets(registry, () => mlflowClient);
    for (const [type, factory] of Object.entries(project.definition.datasets))
      registry.register(type, factory);
    const catalog = DataCatalog.fromConfig({
      catalog: config.catalog,
      credentials: config.credentials,
      parameters: config.parameters,
      projectDir: project.dir,
      registry,
    });
    return new Session(project, env, runtimeParams, config, catalog, mlflow, mlflowClient);
  }

  get projectName(): string {
    return this.project.definition.name;
  }

  /** A registered pipeline (default `__default__`), with Kedro-style filters applied. */
  pipeline(name: string = DEFAULT_PIPELINE_NAME, filters?: PipelineFilterOptions): Pipeline {
    const registered = getPipeline(this.project.definition, name);
    return filters &&
      Object.values(filters).some((value) => Array.isArray(value) && value.length > 0)
      ? registered.filter(filters)
      : registered;
  }

  /** True when runs of `pipelineName` are tracked in MLflow. */
  isTracked(pipelineName: string): boolean {
    return this.mlflowClient !== undefined && isPipelineTracked(this.mlflow, pipelineName);
  }

  /** The MLflow client, or an error saying how to configure one; `what` names the feature needing it. */
  requireMlflow(what: string): MlflowClient {
    if (!this.mlflowClient) throw new TrackingNotConfiguredError(what);
    return this.mlflowClient;
  }

  /** The hooks of a run of `pipelineName`: MLflow tracking first (when tracked), then the project's. */
  hooks(pipelineName: string): Hooks[] {
    if (!this.isTracked(pipelineName)) return [...this.project.definition.hooks];
    // One tracking hook per session: it remembers the params it logged for each run.
    this.trackingHook ??= createMlflowTrackingHook({
      client: this.mlflowClient!,
      config: this.mlflow,
      runParams: (run) => this.paramsOfRun(run),
    });
    return [this.trackingHook, ...this.project.definition.hooks];
  }

  private trackingHook: Hooks | undefined;
  /** The Temporal run behind each RunInfo `runInfo` made: its nodes are known from the plan. */
  private readonly temporalRuns = new WeakMap<RunInfo, RunContext>();
  /** The params of every node of a pipeline selection (by its JSON), in this session's parameters. */
  private readonly pipelineParams = new Map<string, Promise<Record<string, unknown>>>();

  /** The RunInfo hooks see for a Temporal run. */
  runInfo(context: RunContext): RunInfo {
    const info: RunInfo = {
      runId: context.workflowId,
      pipelineName: context.pipeline,
      env: this.env,
      projectDir: this.project.dir,
      runtimeParams: this.runtimeParams,
      ...(context.command ? { command: context.command } : {}),
      ...(context.mlflowRunId ? { mlflowRunId: context.mlflowRunId } : {}),
    };
    this.temporalRuns.set(info, context);
    return info;
  }

  /**
   * Every param the nodes of a Temporal run receive, for the tracking hook to log in one batch;
   * undefined for other runs (a local run's hook logs each node's as it starts).
   */
  private paramsOfRun(run: RunInfo): Promise<Record<string, unknown> | undefined> {
    const context = this.temporalRuns.get(run);
    if (!context) return Promise.resolve(undefined);
    const key = JSON.stringify([context.pipeline, context.filters ?? null]);
    let params = this.pipelineParams.get(key);
    if (!params) {
      if (this.pipelineParams.size >= 16)
        this.pipelineParams.delete(this.pipelineParams.keys().next().value!);
      params = (async () => {
        const values: Record<string, unknown> = {};
        for (const node of this.pipeline(context.pipeline, context.filters).nodes) {
          const names = node.inputs.filter(
            (name) => name === 'parameters' || name.startsWith('params:'),
          );
          if (names.length === 0) continue;
          const inputs: Record<string, unknown> = {};
          for (const name of names) inputs[name] = await this.catalog.load(name);
          Object.assign(values, nodeParams(node, inputs));
        }
        return values;
      })();
      params.catch(() => this.pipelineParams.delete(key));
      this.pipelineParams.set(key, params);
    }
    return params;
  }
}

/** Opens a session (see `Session`). */
export function openSession(options: SessionOptions = {}): Promise<Session> {
  return Session.open(options);
}
