import { SimplePlugin } from '@temporalio/plugin';
import type {
  BundleOptions,
  NativeConnection,
  NativeConnectionOptions,
  Worker,
  WorkerOptions,
} from '@temporalio/worker';
import { withTranspiledPackage, withWorkflowBundler } from './bundler.js';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SessionCache } from '../../activities/session-cache.js';
import { createTrainingActivities } from '../../activities/training-activities.js';
import { createBatchActivities } from '../../activities/batch-activities.js';
import { createSweepActivities } from '../../activities/sweep-activities.js';
import {
  createLifecycleActivities,
  packageUnregistered,
} from '../../activities/lifecycle-activities.js';
import {
  DEFAULT_CONFIG_ENV,
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  PACKAGE_NAME,
} from '../constants.js';
import { disposeWarmBundlers } from '../model/bundle.js';
import { packageRunModel } from '../model/package-run.js';
import { loadProject, type LoadedProject } from '../project/load-project.js';
import {
  defaultCacheDir,
  LocalCacheStore,
  MlflowCacheStore,
  type CacheStoreMode,
} from '../runner/cache-store.js';
import { NodeCache, type CachedNodes } from '../runner/node-cache.js';
import { projectTaskQueue } from './identity.js';
import {
  LocalIntermediateStore,
  MlflowIntermediateStore,
  type IntermediateStore,
} from './intermediate-store.js';
import type { Session } from '../session.js';
import type { IntermediateStoreMode } from './types.js';
import { dataConverterFromEnv } from './codec.js';
import { WorkerOptionsError } from './errors.js';

/** The workflows module of this package, for workers whose user has no workflows of their own. */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Options of the plugin that adds temporal-mlflow's activities (and workflows) to a worker. */
export interface TemporalMlflowPluginOptions {
  /**
   * Where unpersisted datasets live between nodes: `local` (a folder; every worker of a run must
   * share it) or `mlflow` (the MLflow server's artifact proxy; workers on different hosts).
   * @default 'local'
   */
  store?: IntermediateStoreMode;
  /** Folder of the `local` store. @default `<project>/.local/intermediate` */
  storeDir?: string;
  /**
   * The node cache (docs/caching.md): `local` (a folder on this host), `mlflow` (the MLflow
   * server's artifacts, shared by workers on several hosts) or `false` (every node runs).
   * @default the `store` mode
   */
  cache?: CacheStoreMode | false;
  /** Folder of the `local` node cache. @default `<project>/.local/node-cache` */
  cacheDir?: string;
  /**
   * Which nodes are cached: those tagged `deterministic`, or `all` not tagged `no-cache`.
   * @default 'tagged'
   */
  cacheNodes?: CachedNodes;
  /** Heartbeat period of running nodes. @default 5000 */
  heartbeatIntervalMs?: number;
  /**
   * The configuration environment this worker serves (its MLflow server and catalog); runs of
   * other environments are handed back to the queue. @default 'local'
   */
  env?: string;
  /**
   * Hand back nodes planned with other pipeline code instead of running them with a warning (on
   * when workers are versioned: the right build takes them). @default false
   */
  rejectOtherCode?: boolean;
}

/** Plain, normalised plugin options (Temporal's options → compiled pattern). */
interface CompiledPluginOptions {
  projectDir: string;
  env: string;
  store: IntermediateStoreMode;
  storeDir: string;
  cache: CacheStoreMode | false;
  cacheDir: string;
  cacheNodes: CachedNodes;
  heartbeatIntervalMs: number;
  rejectOtherCode: boolean;
}

function compilePluginOptions(
  project: string | LoadedProject,
  options: TemporalMlflowPluginOptions,
): CompiledPluginOptions {
  const projectDir = typeof project === 'string' ? project : project.dir;
  const store = options.store ?? 'local';
  if (store !== 'local' && store !== 'mlflow') {
    throw new WorkerOptionsError(
      `store must be 'local' or 'mlflow', got ${JSON.stringify(store)}.`,
    );
  }
  if (store === 'mlflow' && options.storeDir) {
    throw new WorkerOptionsError(
      `storeDir applies to the 'local' store only; remove it or set store: 'local'.`,
    );
  }
  const cache = options.cache ?? store;
  if (cache !== 'local' && cache !== 'mlflow' && cache !== false) {
    throw new WorkerOptionsError(
      `cache must be 'local', 'mlflow' or false, got ${JSON.stringify(cache)}.`,
    );
  }
  if (cache !== 'local' && options.cacheDir) {
    throw new WorkerOptionsError(
      `cacheDir applies to the 'local' node cache only; remove it or set cache: 'local' (cache is ${JSON.stringify(cache)}).`,
    );
  }
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
  if (!(heartbeatIntervalMs > 0))
    throw new WorkerOptionsError(`heartbeatIntervalMs must be > 0, got ${heartbeatIntervalMs}.`);
  return {
    projectDir,
    env: options.env ?? DEFAULT_CONFIG_ENV,
    store,
    storeDir: options.storeDir ?? join(projectDir, '.local', 'intermediate'),
    cache,
    cacheDir: options.cacheDir ?? defaultCacheDir(projectDir),
    cacheNodes: options.cacheNodes ?? 'tagged',
    heartbeatIntervalMs,
    rejectOtherCode: options.rejectOtherCode ?? false,
  };
}

/** Builds the training and batch scoring activities for a project (for users composing their own worker). */
export function createProjectActivities(
  project: string | LoadedProject,
  options: TemporalMlflowPluginOptions = {},
) {
  return projectActivities(project, options, false);
}

/**
 * The project's activities; with `warmBundler`, packaging keeps an esbuild context per project
 * between runs (a changed project rebuilds only what changed), which whoever runs the worker
 * disposes when it stops (the plugin does: a kept context keeps the process alive).
 */
function projectActivities(
  project: string | LoadedProject,
  options: TemporalMlflowPluginOptions,
  warmBundler: boolean,
) {
  const compiled = compilePluginOptions(project, options);
  const local = new LocalIntermediateStore(compiled.storeDir);
  const mlflowStores = new WeakMap<object, IntermediateStore>();
  const sessions = new SessionCache(compiled.projectDir);
  // Load the project and its default configuration now, not in the first run's plan; a broken
  // configuration is reported by that run's plan activity, which retries the load.
  void sessions.get(compiled.env, {}).catch(() => undefined);
  const training = createTrainingActivities({
    sessions,
    env: compiled.env,
    rejectOtherCode: compiled.rejectOtherCode,
    storeMode: compiled.store,
    heartbeatIntervalMs: compiled.heartbeatIntervalMs,
    store: (session) => {
      if (compiled.store === 'local') return local;
      const client = session.requireMlflow("The 'mlflow' intermediate store");
      let store = mlflowStores.get(client);
      if (!store) {
        // In the tracked experiment's artifact folder, resolved once (the run has created it).
        const name = session.mlflow.tracking.experiment.name;
        let experimentId: Promise<string | undefined> | undefined;
        const resolve = (): Promise<string | undefined> =>
          (experimentId ??= client.experiments
            .getByName(name)
            .then((experiment) => experiment?.experiment_id)
            .catch((error: unknown) => {
              experimentId = undefined;
              throw error;
            }));
        mlflowStores.set(client, (store = new MlflowIntermediateStore(client, undefined, resolve)));
      }
      return store;
    },
    cache: nodeCacheOf(compiled),
    packageModel: (session, context, heartbeat) =>
      // Sweep trials log their model unregistered: the sweep registers the best one.
      context.registerModel === false
        ? packageUnregistered(session, context, heartbeat)
        : packageRunModel(session, {
            pipelineName: context.pipeline,
            runId: context.mlflowRunId!,
            packagingKey: context.workflowId,
            deferAlias: true,
            onStage: heartbeat,
            onUploadProgress: heartbeat,
            ...(warmBundler ? { warmBundler: true } : {}),
          }),
  });
  // Batch scoring parts live beside the intermediate store (a dot folder: no run id maps to it).
  const batch = createBatchActivities({
    sessions,
    env: compiled.env,
    batchDir: join(compiled.storeDir, '.batch-scoring'),
    heartbeatIntervalMs: compiled.heartbeatIntervalMs,
  });
  const lifecycle = createLifecycleActivities({ sessions, env: compiled.env });
  const sweep = createSweepActivities({
    startMlflowRun: training.startMlflowRun,
    endMlflowRun: training.endMlflowRun,
    logSweepResult: lifecycle.logSweepResult,
  });
  return { ...training, ...batch, ...lifecycle, ...sweep };
}

/** The node cache of each session, per the compiled options: one per MLflow client for `mlflow`. */
function nodeCacheOf(
  compiled: CompiledPluginOptions,
): ((session: Session) => NodeCache | undefined) | undefined {
  if (compiled.cache === false) return undefined;
  if (compiled.cache === 'local') {
    const cache = new NodeCache({
      store: new LocalCacheStore(compiled.cacheDir),
      nodes: compiled.cacheNodes,
    });
    return () => cache;
  }
  const caches = new WeakMap<object, NodeCache>();
  return (session) => {
    const client = session.requireMlflow("The 'mlflow' node cache");
    let cache = caches.get(client);
    if (!cache) {
      cache = new NodeCache({
        store: new MlflowCacheStore(client, session.projectName),
        nodes: compiled.cacheNodes,
      });
      caches.set(client, cache);
    }
    return cache;
  };
}

/**
 * A Temporal worker plugin that registers temporal-mlflow's activities for a project and, when
 * the worker has no workflows of its own, temporal-mlflow's workflows.
 */
export function temporalMlflowPlugin(
  project: string | LoadedProject,
  options: TemporalMlflowPluginOptions = {},
): SimplePlugin {
  const activities = projectActivities(project, options, true);
  return new TemporalMlflowPlugin({
    name: PACKAGE_NAME,
    activities: (existing) => ({ ...(existing as object | undefined), ...activities }),
    workflowsPath: (existing) => existing ?? workflowsPath,
    // The esbuild contexts packaging kept warm end with the worker, so its process can exit.
    runContext: async (next) => {
      try {
        await next();
      } finally {
        await disposeWarmBundlers();
      }
    },
  });
}

/** SimplePlugin, plus a workflow bundler that transpiles this package's TypeScript workflows when installed. */
class TemporalMlflowPlugin extends SimplePlugin {
  override configureWorker(options: WorkerOptions): WorkerOptions {
    return withWorkflowBundler(super.configureWorker(options));
  }

  override configureBundler(options: BundleOptions): BundleOptions {
    const configured = super.configureBundler(options);
    return {
      ...configured,
      webpackConfigHook: withTranspiledPackage(configured.webpackConfigHook),
    };
  }
}

export interface CreateWorkerOptions extends TemporalMlflowPluginOptions {
  /** Project root. @default process.cwd() */
  projectDir?: string;
  /** An open connection; otherwise one is made from `connectionOptions` / TEMPORAL_ADDRESS. */
  connection?: NativeConnection;
  connectionOptions?: NativeConnectionOptions;
  /** @default process.env.TEMPORAL_NAMESPACE ?? 'default' */
  namespace?: string;
  /** @default `temporal-mlflow/<project name>/<env>`: the project's own queue in its environment */
  taskQueue?: string;
  /** Nodes this worker runs at once. @default number of CPU cores */
  maxConcurrentNodes?: number;
  /** Anything else Temporal's `WorkerOptions` accepts (interceptors, shutdownGraceTime, ...). */
  workerOptions?: Partial<WorkerOptions>;
}

/**
 * Activity slots for `maxConcurrentNodes` nodes, and two activity pollers fewer than the slots
 * (1 to 10). An idle poller holds a slot while it waits for a task, and a node that just
 * completed holds its own a moment longer: with the SDK's default of as many pollers as slots (up
 * to 10), no slot was ever free when the next workflow task scheduled a node, so the server could
 * not hand it straight back to this worker (eager dispatch) and every node went through the task
 * queue (a transfer task, matching and a poll: ~3-4 ms more per node here). Two slots left to that
 * make it work from 3 node slots on; with 1 or 2 the bound on nodes comes first. Slots or pollers
 * the caller sets (or a tuner) are left alone; the pollers follow the caller's slots.
 */
function nodeSlotOptions(
  maxConcurrentNodes: number,
  workerOptions: Partial<WorkerOptions> | undefined,
): Partial<WorkerOptions> {
  if (workerOptions?.tuner) return {};
  const slots = workerOptions?.maxConcurrentActivityTaskExecutions ?? maxConcurrentNodes;
  const pollers = Math.min(10, Math.max(1, slots - 2));
  return {
    maxConcurrentActivityTaskExecutions: maxConcurrentNodes,
    // `local: true` nodes run as local activities, in slots of their own: the same bound.
    maxConcurrentLocalActivityExecutions: maxConcurrentNodes,
    // (SDK 1.24 reads the poller count from `activityTaskPollerBehavior` only, not from
    // `maxConcurrentActivityTaskPolls`.)
    ...(workerOptions?.activityTaskPollerBehavior
      ? {}
      : { activityTaskPollerBehavior: { type: 'simple-maximum', maximum: pollers } }),
  };
}

/** A ready worker for users without their own: the project's activities and our workflows. */
export async function createWorker(options: CreateWorkerOptions = {}): Promise<Worker> {
  // Loaded here, not with the package: defining pipelines must not pay ~0.45 s for the worker.
  const { NativeConnection, Worker } = await import('@temporalio/worker');
  const projectDir = options.projectDir ?? process.cwd();
  const taskQueue =
    options.taskQueue ??
    projectTaskQueue(
      (await loadProject(projectDir)).definition.name,
      options.env ?? DEFAULT_CONFIG_ENV,
    );
  const connection =
    options.connection ??
    (await NativeConnection.connect({
      address: process.env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS,
      ...options.connectionOptions,
    }));
  const maxConcurrentNodes = options.maxConcurrentNodes ?? cpus().length;
  if (!Number.isInteger(maxConcurrentNodes) || maxConcurrentNodes < 1) {
    throw new WorkerOptionsError(
      `maxConcurrentNodes must be a positive integer, got ${maxConcurrentNodes}.`,
    );
  }
  const dataConverter = dataConverterFromEnv();
  return Worker.create({
    connection,
    ...(dataConverter ? { dataConverter } : {}),
    namespace: options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? DEFAULT_TEMPORAL_NAMESPACE,
    taskQueue,
    ...nodeSlotOptions(maxConcurrentNodes, options.workerOptions),
    ...options.workerOptions,
    plugins: [temporalMlflowPlugin(projectDir, options), ...(options.workerOptions?.plugins ?? [])],
  });
}
