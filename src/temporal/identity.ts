/**
 * Who a run belongs to and who a worker serves: the project, the configuration environment and
 * the MLflow server and experiment. Carried by every workflow and activity input, checked by every
 * activity before it touches anything, so a worker of another project or environment that takes
 * a task on a shared queue hands it back (a retryable failure) instead of running it.
 */
import type { ApplicationFailure } from '@temporalio/common';
import { temporalCommon } from './lazy-modules.js';
import { PACKAGE_NAME, WRONG_WORKER_FAILURE_TYPE } from '../constants.js';

/** What the identity is read from: a project session (structurally, so this module needs none). */
export interface IdentitySource {
  readonly projectName: string;
  readonly env: string;
  readonly mlflow: {
    readonly server: { readonly trackingUri: string | undefined };
    readonly tracking: { readonly experiment: { readonly name: string } };
  };
}

/** The identity of a run (as planned) or of a worker (as configured). */
export interface RunIdentity {
  /** `defineProject({ name })`. */
  project: string;
  /** Configuration environment layered over `conf/base`. */
  env: string;
  /** The MLflow tracking server, credentials removed; absent when tracking is off. */
  mlflowServer?: string;
  /** The MLflow experiment runs are tracked in; absent when tracking is off. */
  experiment?: string;
}

/**
 * The default task queue of a project in an environment: workers and clients of one project and
 * environment meet there, and no other project's or environment's do.
 */
export function projectTaskQueue(project: string, env: string): string {
  return `${PACKAGE_NAME}/${project}/${env}`;
}

/** A tracking URI without user name, password or query (the server's identity, safe to print). */
export function redactUri(uri: string): string {
  try {
    const url = new URL(uri);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.href.replace(/\/+$/, '');
  } catch {
    return uri.replace(/\/\/[^/@]*@/, '//');
  }
}

const identities = new WeakMap<IdentitySource, RunIdentity>();

/** The identity a session serves. */
export function sessionIdentity(session: IdentitySource): RunIdentity {
  let identity = identities.get(session);
  if (!identity) identities.set(session, (identity = computeIdentity(session)));
  return identity;
}

function computeIdentity(session: IdentitySource): RunIdentity {
  const uri = session.mlflow.server.trackingUri;
  return {
    project: session.projectName,
    env: session.env,
    ...(uri
      ? { mlflowServer: redactUri(uri), experiment: session.mlflow.tracking.experiment.name }
      : {}),
  };
}

/** "project A (env local) on MLflow http://x, experiment E", for messages. */
export function describeIdentity(identity: Partial<RunIdentity>): string {
  const where = identity.mlflowServer
    ? `on MLflow ${identity.mlflowServer}, experiment '${identity.experiment ?? '?'}'`
    : 'without MLflow tracking';
  return `project '${identity.project ?? '?'}' (env '${identity.env ?? '?'}') ${where}`;
}

/**
 * The fields in which `run` differs from what `worker` serves; empty when the worker may run it.
 * Fields the run leaves unset are not compared: a client without MLflow settings adopts those of
 * the worker that plans the run, and every later activity is checked against that plan.
 */
export function identityMismatches(
  run: Partial<RunIdentity>,
  worker: RunIdentity,
): (keyof RunIdentity)[] {
  const fields: (keyof RunIdentity)[] = ['project', 'env', 'mlflowServer', 'experiment'];
  return fields.filter((field) => {
    if (field === 'experiment' && run.mlflowServer === undefined) return false;
    return run[field] !== undefined && run[field] !== worker[field];
  });
}

/**
 * A retryable failure saying this worker cannot serve the run: Temporal retries the task, so a
 * worker that can serve it takes it as soon as one polls the queue. The message names both sides
 * and shows as the pending activity's last failure in the Temporal UI.
 */
export function wrongWorkerFailure(
  run: Partial<RunIdentity>,
  worker: RunIdentity,
  reason?: string,
): ApplicationFailure {
  return temporalCommon().ApplicationFailure.retryable(
    `This worker serves ${describeIdentity(worker)}; the run belongs to ${describeIdentity(run)}` +
      `${reason ? ` (${reason})` : ''}. It was handed back: start a worker for that project and ` +
      `environment on this task queue (temporal-mlflow worker --project <dir> --env <env>), or stop ` +
      `giving projects or environments one --task-queue.`,
    WRONG_WORKER_FAILURE_TYPE,
  );
}

/** Throws `wrongWorkerFailure` when the worker's session cannot serve the run. */
export function assertServes(session: IdentitySource, run: Partial<RunIdentity>): RunIdentity {
  const worker = sessionIdentity(session);
  const fields = identityMismatches(run, worker);
  if (fields.length > 0) throw wrongWorkerFailure(run, worker, `different ${fields.join(', ')}`);
  return worker;
}
