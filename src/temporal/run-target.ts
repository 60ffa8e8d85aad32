import { openSession, type Session } from '../session.js';
import { projectTaskQueue, sessionIdentity, type RunIdentity } from './identity.js';
import { TrainingOptionsError } from './errors.js';

/** Where a run is started and whose it is. */
export interface RunTarget {
  taskQueue: string;
  /** Set when the project was named: only its workers in this environment run it. */
  identity?: RunIdentity;
  /** The project's session, when the project was named (for checks before starting). */
  session?: Session;
}

/**
 * Resolves the project (when `projectDir` is given) into the run's identity and its default task
 * queue; an explicit `taskQueue` wins. Without either there is no queue to start on.
 */
export async function resolveRunTarget(options: {
  projectDir?: string | undefined;
  env: string;
  runtimeParams: Record<string, unknown>;
  taskQueue?: string | undefined;
}): Promise<RunTarget> {
  if (options.projectDir === undefined) {
    if (!options.taskQueue) {
      throw new TrainingOptionsError(
        "Name the project (projectDir) or the task queue (taskQueue): the default task queue is the project's own.",
      );
    }
    return { taskQueue: options.taskQueue };
  }
  const session = await openSession({
    projectDir: options.projectDir,
    env: options.env,
    runtimeParams: options.runtimeParams,
  });
  const identity = sessionIdentity(session);
  return {
    taskQueue: options.taskQueue ?? projectTaskQueue(identity.project, options.env),
    identity,
    session,
  };
}
