/**
 * The run a dataset operation belongs to, for datasets whose state is per run
 * (`IncrementalDataset` pins the partitions a run reads so that retries of that run see the same
 * ones). Resolution order: an explicit scope set with `withRunKey` (runners may wrap a node in
 * it), then the Temporal activity being executed (its workflow id, stable across retries and
 * workers), else `undefined` (the dataset falls back to a key of its own, per process).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` with `runKey` as the current run for datasets that keep per-run state. */
export function withRunKey<T>(runKey: string, fn: () => T): T {
  return scope.run(runKey, fn);
}

interface ActivityContextModule {
  Context: { current(): { info: { workflowExecution: { workflowId: string } } } };
}

let activityModule: Promise<ActivityContextModule | undefined> | undefined;

/**
 * `@temporalio/activity` when it can be loaded. The specifier is a variable so bundlers (the model
 * packager) leave it out of inference bundles: there it is never needed.
 */
function loadActivityModule(): Promise<ActivityContextModule | undefined> {
  const specifier = '@temporalio/activity';
  activityModule ??= (import(specifier) as Promise<ActivityContextModule>).catch(() => undefined);
  return activityModule;
}

/** The current run key (see the module doc), or undefined outside any run scope. */
export async function currentRunKey(): Promise<string | undefined> {
  const explicit = scope.getStore();
  if (explicit !== undefined) return explicit;
  const activity = await loadActivityModule();
  if (!activity) return undefined;
  try {
    return `temporal:${activity.Context.current().info.workflowExecution.workflowId}`;
  } catch {
    return undefined; // not inside an activity
  }
}
