/**
 * The MLflow error family. Every error carries MLflow's `errorCode` (or the client's own code for
 * client-side checks), the HTTP status when a server answered, and the endpoint called. Messages
 * never contain credentials or authorization headers.
 */

export interface MlflowErrorOptions {
  /** MLflow's `error_code` (e.g. `RESOURCE_DOES_NOT_EXIST`), or a client-side code. */
  errorCode?: string;
  httpStatus?: number;
  /** `METHOD /api/2.0/...` of the failing call. */
  endpoint?: string;
  cause?: unknown;
}

/** Base class of every error raised by the MLflow client, config and params modules. */
export class MlflowError extends Error {
  readonly errorCode: string;
  readonly httpStatus: number | undefined;
  readonly endpoint: string | undefined;

  constructor(message: string, options: MlflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.errorCode = options.errorCode ?? 'INTERNAL_ERROR';
    this.httpStatus = options.httpStatus;
    this.endpoint = options.endpoint;
  }
}

/** The experiment, run, model, version or artifact does not exist (`RESOURCE_DOES_NOT_EXIST`). */
export class MlflowResourceNotFoundError extends MlflowError {}

/** Creating something whose name is taken (`RESOURCE_ALREADY_EXISTS`; MLflow answers HTTP 400). */
export class MlflowResourceAlreadyExistsError extends MlflowError {}

/** A value the server (or the client's own check before sending) refuses (`INVALID_PARAMETER_VALUE`). */
export class MlflowInvalidParameterError extends MlflowError {}

/** A parameter value longer than MLflow's limit under `long_params_strategy: fail`. */
export class MlflowParamTooLongError extends MlflowInvalidParameterError {
  readonly paramName: string;
  readonly length: number;

  constructor(paramName: string, length: number, limit: number) {
    super(
      `Parameter '${paramName}' is ${length} characters long; MLflow accepts at most ${limit}. ` +
        `Set tracking.params.long_params_strategy in mlflow.yml to 'truncate' (keep the first ${limit} characters) ` +
        `or 'tag' (log it as a tag instead).`,
      { errorCode: 'INVALID_PARAMETER_VALUE' },
    );
    this.paramName = paramName;
    this.length = length;
  }
}

/** The tracking server could not be reached after bounded retries (refused, reset, timed out, unknown host). */
export class MlflowConnectionError extends MlflowError {
  /** The tracking URI without any user info. */
  readonly trackingUri: string;
  readonly attempts: number;

  constructor(
    message: string,
    options: MlflowErrorOptions & { trackingUri: string; attempts: number },
  ) {
    super(message, { errorCode: 'CONNECTION_ERROR', ...options });
    this.trackingUri = options.trackingUri;
    this.attempts = options.attempts;
  }
}

/**
 * No complete answer within the call's total deadline (`retry.totalTimeoutMs` for JSON calls,
 * `transferTimeoutMs` for streamed uploads and downloads): a server that stalls or trickles bytes.
 */
export class MlflowDeadlineExceededError extends MlflowConnectionError {
  /** The deadline that ran out, in milliseconds. */
  readonly deadlineMs: number;

  constructor(
    message: string,
    options: MlflowErrorOptions & { trackingUri: string; attempts: number; deadlineMs: number },
  ) {
    super(message, { ...options, errorCode: 'DEADLINE_EXCEEDED' });
    this.deadlineMs = options.deadlineMs;
  }
}

/** A successful answer whose body does not have the shape the endpoint documents (`INVALID_RESPONSE`). */
export class MlflowUnexpectedResponseError extends MlflowError {
  /** Dotted path of the missing or mistyped field (`''` for the body itself). */
  readonly field: string;

  constructor(message: string, options: MlflowErrorOptions & { field: string }) {
    super(message, { errorCode: 'INVALID_RESPONSE', ...options });
    this.field = options.field;
  }
}

/** The server refused the credentials (HTTP 401/403, `UNAUTHENTICATED`, `PERMISSION_DENIED`). */
export class MlflowAuthError extends MlflowError {}

/** One problem found in an mlflow.yml file. */
export interface MlflowConfigIssue {
  /** Dotted path, e.g. `tracking.run.nme` (empty for the root). */
  path: string;
  message: string;
}

/** `mlflow.yml` (or the environment it falls back to) is invalid; lists every issue with its path. */
export class MlflowConfigError extends MlflowError {
  readonly file: string | undefined;
  readonly issues: readonly MlflowConfigIssue[];

  constructor(file: string | undefined, issues: readonly MlflowConfigIssue[], hint?: string) {
    const where = file ?? 'the MLflow configuration';
    const lines = issues.map(
      (issue) => `  ✖ ${issue.message}${issue.path ? ` → at ${issue.path}` : ''}`,
    );
    super([`Invalid ${where}:`, ...lines, ...(hint ? [hint] : [])].join('\n'), {
      errorCode: 'INVALID_CONFIG',
    });
    this.file = file;
    this.issues = issues;
  }
}

/** MLflow is needed (tracking, MLflow datasets, the `mlflow` store) but no server is configured. */
export class TrackingNotConfiguredError extends MlflowError {
  constructor(what: string) {
    super(
      `${what} needs an MLflow tracking server, and none is configured: set server.mlflow_tracking_uri in ` +
        `conf/<env>/mlflow.yml or the MLFLOW_TRACKING_URI environment variable.`,
      { errorCode: 'TRACKING_NOT_CONFIGURED' },
    );
  }
}
