import { MlflowClient } from '../mlflow/client.js';
import { modelUrl, runUrl } from '../mlflow/tracking-hook.js';
import { redactUri } from '../temporal/identity.js';
import type { TrainingResult } from '../temporal/types.js';
import { temporalWorkflowUrl } from './common.js';

/**
 * What a finished training gives a user, as `train --wait` and the main job print it: the links
 * (workflow, MLflow run and model), the model's URIs with its registered version and alias, and
 * the command that serves it. Credentials in the tracking URI are never printed.
 */
export async function trainingSummary(
  workflowId: string,
  result: TrainingResult & { experimentId?: string },
): Promise<string> {
  const lines = [`Temporal workflow: ${temporalWorkflowUrl(workflowId)}`];
  const trackingUri = process.env.MLFLOW_TRACKING_URI;
  const model = result.model;
  if (result.mlflowRunId && trackingUri) {
    const mlflow = MlflowClient.fromEnv();
    const experimentId =
      result.experimentId ??
      result.mlflowExperimentId ??
      (await mlflow.runs.get(result.mlflowRunId)).info.experiment_id;
    lines.push(
      `MLflow run:        ${runUrl(mlflow.trackingUri, experimentId, result.mlflowRunId)}`,
    );
    if (model)
      lines.push(`MLflow model:      ${modelUrl(mlflow.trackingUri, experimentId, model.modelId)}`);
  }
  if (!model) return lines.join('\n');
  const registered = model.registeredModelVersion
    ? `models:/${model.registeredModelName}/${model.registeredModelVersion}`
    : undefined;
  lines.push(
    `Model URIs:        ${[model.modelUri, model.runModelUri, registered].filter(Boolean).join(' · ')}`,
  );
  const promotion = result.promotion;
  if (promotion) {
    const moved = promotion.decision === 'promoted';
    lines.push(
      `Alias:             @${promotion.alias} ${moved ? `→ version ${promotion.version}` : `unchanged: ${promotion.reason}`}`,
    );
  }
  const serveUri = promotion
    ? `models:/${promotion.registeredModelName}@${promotion.alias}`
    : (registered ?? model.modelUri);
  const env = trackingUri ? `MLFLOW_TRACKING_URI=${redactUri(trackingUri)} ` : '';
  lines.push(`Serve it:          ${env}npx temporal-mlflow serve -m ${serveUri} --port 5001`);
  return lines.join('\n');
}
