/**
 * The name of an MLflow run the user did not name (mlflow.yml `tracking.run.name`): its pipeline
 * and its start time of day, UTC, e.g. `__default__ 01:23:45`. Short enough for the run list's
 * name column to show it whole; the date is in the list's Created column.
 */
export function defaultRunName(pipeline: string, startedAt: Date = new Date()): string {
  return `${pipeline} ${startedAt.toISOString().slice(11, 19)}`;
}
