import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';
import type { Command } from 'commander';
import { ensureSearchAttributes } from '../../temporal/search-attributes.js';
import { loadProject } from '../../project/load-project.js';
import { projectCodeHash } from '../../temporal/code-hash.js';
import { DEFAULT_CONFIG_ENV, DEFAULT_TEMPORAL_NAMESPACE } from '../../constants.js';
import { createWorker } from '../../temporal/worker.js';
import type { IntermediateStoreMode } from '../../temporal/types.js';
import {
  addConnectionOptions,
  connectClient,
  connectNative,
  type ConnectionCommandOptions,
} from '../connection.js';
import { addEnvOption, addProjectDirOption, positiveInteger } from '../common.js';
import { CliUsageError } from '../errors.js';

interface WorkerCommandOptions extends ConnectionCommandOptions {
  project: string;
  env: string;
  metricsHost: string;
  maxConcurrentNodes?: string;
  store: IntermediateStoreMode;
  storeDir?: string;
  /** The node cache's store (default: the `--store` mode), or false with `--no-cache`. */
  cache?: string | boolean;
  cacheDir?: string;
  metricsPort?: string;
  shutdownGrace: string;
  logLevel: LogLevel;
  buildId?: string;
  workerVersioning: boolean;
}

/** Structured logs for production: one JSON object per line (time, level, message, then the SDK's fields). */
function jsonLogLine(entry: LogEntry): void {
  const line = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    msg: entry.message,
    ...entry.meta,
  };
  process.stderr.write(
    `${JSON.stringify(line, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value))}\n`,
  );
}

/** `temporal-mlflow worker`: runs the project's nodes for training workflows until SIGTERM/SIGINT. */
export function registerWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description("run a Temporal worker for the project's pipelines");
  addEnvOption(
    addProjectDirOption(addConnectionOptions(command)),
    'configuration environment this worker serves (its MLflow server; env TEMPORAL_MLFLOW_ENV)',
    process.env.TEMPORAL_MLFLOW_ENV ?? DEFAULT_CONFIG_ENV,
  )
    .option('--max-concurrent-nodes <n>', 'nodes this worker runs at once (default: CPU cores)')
    .option(
      '--store <mode>',
      "where unpersisted datasets live between nodes: 'local' or 'mlflow' (workers on several hosts)",
      'local',
    )
    .option(
      '--store-dir <dir>',
      "folder of the 'local' store (default <project>/.local/intermediate)",
    )
    .option(
      '--cache <store>',
      "node cache: 'local' (<project>/.local/node-cache) or 'mlflow' (shared by workers on several hosts); default: as --store",
    )
    .option('--no-cache', 'run every node: neither read nor write the node cache')
    .option('--cache-dir <dir>', "folder of the 'local' node cache")
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port')
    .option(
      '--metrics-host <host>',
      'address the metrics endpoint binds (0.0.0.0 exposes it to the network)',
      '127.0.0.1',
    )
    .option(
      '--shutdown-grace <time>',
      'on SIGTERM, how long running nodes may finish before they are handed back',
      '30s',
    )
    .option(
      '--log-level <level>',
      'TRACE, DEBUG, INFO, WARN or ERROR',
      process.env.TEMPORAL_MLFLOW_LOG_LEVEL ?? 'INFO',
    )
    .option('--build-id <id>', "this worker's build id (default: the project's code hash)")
    .option(
      '--worker-versioning',
      "route workflows by worker deployment version (deployment = project name, build id as above; runs stay pinned to the build that started them — set the deployment's current version with the Temporal CLI)",
      false,
    )
    .action(async (options: WorkerCommandOptions) => {
      if (options.store !== 'local' && options.store !== 'mlflow') {
        throw new CliUsageError(`--store must be 'local' or 'mlflow', got '${options.store}'.`);
      }
      const cache = options.cache === true ? undefined : options.cache;
      if (cache !== undefined && cache !== false && cache !== 'local' && cache !== 'mlflow') {
        throw new CliUsageError(`--cache must be 'local' or 'mlflow', got '${cache}'.`);
      }
      const metricsPort = options.metricsPort
        ? positiveInteger('--metrics-port', options.metricsPort)
        : undefined;
      Runtime.install({
        logger: new DefaultLogger(options.logLevel, jsonLogLine),
        ...(metricsPort
          ? {
              telemetryOptions: {
                metrics: { prometheus: { bindAddress: `${options.metricsHost}:${metricsPort}` } },
              },
            }
          : {}),
      });
      const project = await loadProject(options.project);
      const buildId = options.buildId ?? projectCodeHash(project.definition.pipelines);
      // Failures name the address and the cause (nothing listening, TLS, certificates, API key).
      const operator = await connectClient(options);
      try {
        const created = await ensureSearchAttributes(
          operator,
          options.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
        );
        if (created.length)
          console.log(
            JSON.stringify({
              time: new Date().toISOString(),
              level: 'INFO',
              msg: 'search attributes created',
              names: created,
            }),
          );
      } finally {
        await operator.close();
      }
      const connection = await connectNative(options);
      const maxConcurrentNodes = options.maxConcurrentNodes
        ? positiveInteger('--max-concurrent-nodes', options.maxConcurrentNodes)
        : undefined;
      const worker = await createWorker({
        projectDir: project.dir,
        env: options.env,
        rejectOtherCode: options.workerVersioning,
        connection,
        ...(options.namespace ? { namespace: options.namespace } : {}),
        ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
        ...(maxConcurrentNodes ? { maxConcurrentNodes } : {}),
        store: options.store,
        ...(options.storeDir ? { storeDir: options.storeDir } : {}),
        ...(cache !== undefined ? { cache } : {}),
        ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
        workerOptions: {
          shutdownGraceTime: options.shutdownGrace as `${number}s`,
          identity: `${project.definition.name}@${process.pid}:${buildId}`,
          // The deployment version is recorded on every task this worker completes; routing by it is opt-in.
          workerDeploymentOptions: options.workerVersioning
            ? {
                version: { deploymentName: project.definition.name, buildId },
                useWorkerVersioning: true,
                defaultVersioningBehavior: 'PINNED',
              }
            : {
                version: { deploymentName: project.definition.name, buildId },
                useWorkerVersioning: false,
              },
        },
      });
      console.log(
        JSON.stringify({
          time: new Date().toISOString(),
          level: 'INFO',
          msg: 'worker started',
          project: project.definition.name,
          env: options.env,
          taskQueue: worker.options.taskQueue,
          namespace: worker.options.namespace,
          buildId,
          workerVersioning: options.workerVersioning,
          store: options.store,
          cache: cache ?? options.store,
          ...(metricsPort
            ? { metrics: `http://${options.metricsHost}:${metricsPort}/metrics` }
            : {}),
        }),
      );
      try {
        await worker.run();
      } finally {
        await connection.close();
      }
      console.log(
        JSON.stringify({ time: new Date().toISOString(), level: 'INFO', msg: 'worker stopped' }),
      );
      // A node handed back on shutdown may still be running its (unstoppable) function: don't wait for it.
      process.exit(0);
    });
}
