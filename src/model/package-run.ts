import type { Hooks } from '../hooks/types.js';
import { activeRun } from '../mlflow/active-run.js';
import type { Session } from '../session.js';
import type { LoggedModelRef } from '../temporal/types.js';
import { NotAPipelineMLError } from './errors.js';
import { logPipelineModel, type PackagingStage } from './log-model.js';
import { isPipelineMl, pipelineMl as createPipelineMl, type PipelineML } from './pipeline-ml.js';

export interface PackageRunModelOptions {
  pipelineName: string;
  /** The MLflow run the model belongs to. */
  runId: string;
  /** Identifies this packaging across retries (workflow id, or local run id). */
  packagingKey: string;
  registeredModelName?: string;
  alias?: string;
  /** Register the version without moving the alias (see `logPipelineModel`). */
  deferAlias?: boolean;
  /**
   * kedro-mlflow's `modelify`: package the registered pipeline itself as the inference pipeline
   * (its fitted inputs must already be persisted), without a PipelineML.
   */
  modelify?: {
    inputName: string;
    modelName: string;
    inferSignature?: boolean;
    inferInputExample?: boolean;
  };
  /**
   * Keep an esbuild context for the project between packagings, so a changed project rebuilds
   * incrementally (a worker); call `disposeWarmBundlers()` before the process exits. @default false
   */
  warmBundler?: boolean;
  onStage?: (stage: PackagingStage, durationMs: number) => void;
  onUploadProgress?: () => void;
}

/** Packages and logs the inference model of a registered PipelineML for an MLflow run. */
export async function packageRunModel(
  session: Session,
  options: PackageRunModelOptions,
): Promise<LoggedModelRef> {
  const registered = session.pipeline(options.pipelineName);
  let pipelineMl: PipelineML;
  if (options.modelify) {
    const inference = isPipelineMl(registered) ? registered.inference : registered;
    pipelineMl = createPipelineMl({
      training: inference,
      inference,
      inputName: options.modelify.inputName,
      logModel: {
        name: options.modelify.modelName,
        signature: options.modelify.inferSignature === false ? false : 'auto',
        inputExample: options.modelify.inferInputExample === false ? false : 'auto',
      },
    });
  } else if (isPipelineMl(registered)) {
    pipelineMl = registered;
  } else {
    throw new NotAPipelineMLError(options.pipelineName);
  }
  return logPipelineModel({
    session,
    client: session.requireMlflow('Logging a model'),
    pipelineName: options.pipelineName,
    pipelineMl,
    runId: options.runId,
    packagingKey: options.packagingKey,
    ...(options.registeredModelName ? { registeredModelName: options.registeredModelName } : {}),
    ...(options.alias ? { alias: options.alias } : {}),
    ...(options.deferAlias ? { deferAlias: true } : {}),
    ...(options.warmBundler ? { warmBundler: true } : {}),
    ...(options.onStage ? { onStage: options.onStage } : {}),
    ...(options.onUploadProgress ? { onUploadProgress: options.onUploadProgress } : {}),
  });
}

/**
 * kedro-mlflow's "log the model when training ends" for the local runner: after a successful run
 * of a PipelineML, the inference pipeline is logged to the active MLflow run. Nothing is logged
 * when the run fails (afterPipelineRun is not called) or for a pipeline that is not a PipelineML.
 */
export function createModelLoggingHook(
  session: Session,
  onLogged?: (model: LoggedModelRef) => void,
): Hooks {
  return {
    async afterPipelineRun({ run, pipeline }) {
      const runId = activeRun()?.runId;
      if (!isPipelineMl(pipeline) || !runId) return;
      const model = await packageRunModel(session, {
        pipelineName: run.pipelineName,
        runId,
        packagingKey: run.runId,
      });
      onLogged?.(model);
    },
  };
}
