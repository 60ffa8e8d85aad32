import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { createRowProgress } from '../../batch/progress.js';
import { DEFAULT_CHUNK_SIZE, streamPredict } from '../../batch/stream-predict.js';
import { parseRuntimeParams } from '../../catalog/runtime-params.js';
import { modelUrl, runUrl } from '../../mlflow/tracking-hook.js';
import { loadModel } from '../../model/load-model.js';
import { packageRunModel } from '../../model/package-run.js';
import { serveModel } from '../../serving/serve.js';
import {
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_MAX_COLUMNS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_IN_FLIGHT_BYTES,
  DEFAULT_MAX_RECORDS,
  defaultThreads,
  parseByteSize,
} from '../../serving/options.js';
import { openSession } from '../../session.js';
import { TAG_COMMAND, TAG_PIPELINE_NAME, DEFAULT_PIPELINE_NAME } from '../../constants.js';
import {
  addProjectOptions,
  portNumber,
  positiveInteger,
  runtimeParamsFrom,
  type ProjectCommandOptions,
} from '../common.js';
import { CliUsageError } from '../errors.js';

interface PredictOptions {
  modelUri: string;
  input: string;
  output?: string;
  params?: string;
  chunkSize: string;
  progress: boolean;
}

interface ServeCommandOptions {
  modelUri: string;
  host: string;
  port: string;
  workers: string;
  bodyLimit: string;
  maxRecords: string;
  maxColumns: string;
  maxInFlight: string;
  maxInFlightBytes: string;
  threads: string;
  strict: boolean;
}

function byteSize(flag: string, value: string): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined)
    throw new CliUsageError(
      `${flag} must be a size such as 16mb, 512kb or a number of bytes, got '${value}'.`,
    );
  return bytes;
}

interface ModelifyOptions extends ProjectCommandOptions {
  inputName: string;
  modelName?: string;
  registeredModelName?: string;
  alias?: string;
  inferSignature: boolean;
  inferInputExample: boolean;
}

export function registerModelCommands(program: Command): void {
  program
    .command('predict')
    .description(
      'predict with a logged model on a CSV, Parquet, JSON or JSON Lines file, streamed in chunks',
    )
    .requiredOption(
      '-m, --model-uri <uri>',
      'runs:/<run>/<name>, models:/<id>, models:/<name>/<version>, models:/<name>@<alias> or a folder',
    )
    .requiredOption(
      '-i, --input <file>',
      'input records (.csv, .parquet, .json array or MLflow scoring payload, .jsonl)',
    )
    .option(
      '-o, --output <file>',
      'where to write the predictions: .json, .jsonl, .csv or .parquet (default: JSON on stdout)',
    )
    .option('--params <list>', 'inference params for this call, e.g. "min_confidence=0.8"')
    .option(
      '--chunk-size <rows>',
      'records read, scored and written at a time',
      String(DEFAULT_CHUNK_SIZE),
    )
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (options: PredictOptions) => {
      const chunkSize = positiveInteger('--chunk-size', options.chunkSize);
      const model = await loadModel(options.modelUri);
      const params = options.params ? parseRuntimeParams(options.params) : undefined;
      const progress = options.progress ? createRowProgress('predict') : undefined;
      try {
        const result = await streamPredict({
          model,
          input: options.input,
          ...(options.output ? { output: options.output } : {}),
          ...(params ? { params } : {}),
          chunkSize,
          ...(progress
            ? {
                onProgress: (done: number, total: number | undefined) =>
                  progress.update(done, total),
              }
            : {}),
        });
        progress?.stop();
        if (options.output) {
          const rate = Math.round(result.rows / Math.max(0.001, result.durationMs / 1000));
          console.error(
            `${result.rows} records scored in ${result.chunks} chunk(s) (${rate} rows/s); predictions written to ${options.output}`,
          );
        }
      } finally {
        progress?.stop();
      }
    });

  program
    .command('serve')
    .description(
      "serve a model over HTTP with MLflow's scoring protocol (answers as `mlflow models serve` does; --strict for stricter checks)",
    )
    .requiredOption('-m, --model-uri <uri>', 'model URI or folder')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port', '5000')
    .option('--workers <n>', 'worker processes', '1')
    .option(
      '--body-limit <size>',
      'largest request body (e.g. 16mb, 512kb; larger ones are answered 413)',
      `${DEFAULT_BODY_LIMIT_BYTES / 1024 / 1024}mib`,
    )
    .option('--max-records <n>', 'most records per request', String(DEFAULT_MAX_RECORDS))
    .option(
      '--max-columns <n>',
      'most columns (and params) per request',
      String(DEFAULT_MAX_COLUMNS),
    )
    .option(
      '--max-in-flight <n>',
      'requests processed at once per worker; more are answered 503 with Retry-After',
      String(DEFAULT_MAX_IN_FLIGHT),
    )
    .option(
      '--max-in-flight-bytes <size>',
      'request body bytes held at once per worker; more are answered 503 with Retry-After',
      `${DEFAULT_MAX_IN_FLIGHT_BYTES / 1024 / 1024}mib`,
    )
    .option(
      '--threads <n>',
      'worker threads per worker process scoring large requests off the event loop (0: none)',
      String(defaultThreads()),
    )
    .option(
      '--strict',
      'refuse what MLflow tolerates: unknown params and keys, values of another type, null in required columns',
      false,
    )
    .action(async (options: ServeCommandOptions) => {
      const limits = {
        bodyLimitBytes: byteSize('--body-limit', options.bodyLimit),
        maxRecords: positiveInteger('--max-records', options.maxRecords),
        maxColumns: positiveInteger('--max-columns', options.maxColumns),
        maxInFlight: positiveInteger('--max-in-flight', options.maxInFlight),
        maxInFlightBytes: byteSize('--max-in-flight-bytes', options.maxInFlightBytes),
        threads: options.threads === '0' ? 0 : positiveInteger('--threads', options.threads),
      };
      const port = portNumber('--port', options.port);
      const handle = await serveModel(() => loadModel(options.modelUri), {
        host: options.host,
        port,
        workers: positiveInteger('--workers', options.workers),
        strict: options.strict,
        ...limits,
      });
      // Printed (by the primary) only once a worker listens; a model that cannot load fails
      // `serveModel` instead, and the command exits non-zero.
      if (!handle.app || Number(options.workers) === 1)
        console.error(`serving ${options.modelUri} at ${handle.url}`);
    });

  const modelify = program
    .command('modelify')
    .description(
      'package an existing pipeline as an MLflow model without training (kedro-mlflow modelify)',
    );
  addProjectOptions(modelify)
    .requiredOption('--input-name <name>', 'the dataset the served records replace')
    .option('--model-name <name>', 'logged model name / artifact path', 'model')
    .option('--registered-model-name <name>', 'also register a version under this name')
    .option('--alias <alias>', 'move this alias to the new version')
    .option('--infer-signature', 'infer the signature from the input dataset (default)', true)
    .option('--no-infer-signature', 'log no signature')
    .option(
      '--infer-input-example',
      "save the input dataset's first rows as the input example (default)",
      true,
    )
    .option('--no-infer-input-example', 'save no input example')
    .action(async (options: ModelifyOptions) => {
      const session = await openSession({
        projectDir: options.project,
        env: options.env,
        runtimeParams: runtimeParamsFrom(options),
      });
      const pipelineName = options.pipeline ?? DEFAULT_PIPELINE_NAME;
      const client = session.requireMlflow('modelify');
      const experiment = await client.experiments.getOrCreate(
        session.mlflow.tracking.experiment.name,
      );
      const run = await client.runs.create({
        experimentId: experiment.experiment_id,
        runName: `modelify ${pipelineName}`,
        tags: {
          [TAG_PIPELINE_NAME]: pipelineName,
          [TAG_COMMAND]: `temporal-mlflow modelify --pipeline ${pipelineName} --input-name ${options.inputName}`,
        },
      });
      const runId = run.info.run_id;
      try {
        const model = await packageRunModel(session, {
          pipelineName,
          runId,
          packagingKey: `modelify-${randomUUID()}`,
          modelify: {
            inputName: options.inputName,
            modelName: options.modelName ?? 'model',
            inferSignature: options.inferSignature,
            inferInputExample: options.inferInputExample,
          },
          ...(options.registeredModelName
            ? { registeredModelName: options.registeredModelName }
            : {}),
          ...(options.alias ? { alias: options.alias } : {}),
        });
        await client.runs.end(runId, 'FINISHED');
        console.log(`Model logged: ${model.modelUri} (${model.runModelUri})`);
        console.log(`MLflow run:   ${runUrl(client.trackingUri, experiment.experiment_id, runId)}`);
        console.log(
          `MLflow model: ${modelUrl(client.trackingUri, experiment.experiment_id, model.modelId)}`,
        );
        if (model.registeredModelVersion)
          console.log(
            `Registered:   ${model.registeredModelName} version ${model.registeredModelVersion}`,
          );
      } catch (error) {
        await client.runs.end(runId, 'FAILED');
        throw error;
      }
    });
}
