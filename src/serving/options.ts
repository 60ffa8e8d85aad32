/**
 * Options of the scoring server: what a user passes ({@link ScoringServerOptions}, documented
 * defaults), compiled once into checked, complete values ({@link CompiledScoringServerOptions}).
 * Every problem is reported at once, naming the option.
 */
import { availableParallelism } from 'node:os';
import type { FastifyServerOptions } from 'fastify';

/** Options of {@link createScoringServer} (and of `serveModel`, which passes them on). */
export interface ScoringServerOptions {
  /** Largest accepted request body, in bytes; larger ones are answered 413. @default 16 MiB */
  bodyLimitBytes?: number;
  /** Most records (rows) in one request; more are answered 400 `REQUEST_LIMIT_EXCEEDED`. @default 100_000 */
  maxRecords?: number;
  /** Most columns (and params) in one request; more are answered 400 `REQUEST_LIMIT_EXCEEDED`. @default 10_000 */
  maxColumns?: number;
  /**
   * Most `/invocations` requests one worker holds at a time; the next ones are answered 503 with
   * `Retry-After` before their body is read. Health checks are never limited. @default 64
   */
  maxInFlight?: number;
  /**
   * Most request body bytes one worker holds at a time (a request counts its `Content-Length`, or
   * `bodyLimitBytes` when it has none): a request that would pass it is answered 503 with
   * `Retry-After` before its body is read. With the thread pool's one request per thread, this
   * bounds the memory of requests in progress. @default 256 MiB
   */
  maxInFlightBytes?: number;
  /**
   * Worker threads that parse, check and score large requests (bodies of `threadThresholdBytes` or
   * more), each with its own copy of the model and its own heap, so the event loop (health checks,
   * small requests) never waits for them or for their garbage collection. `0`: every request is
   * processed on the event loop, in time slices. A thread takes one request at a time; the others
   * wait with their raw body only. @default cores − 1, at least 1
   */
  threads?: number;
  /** Bodies of this many bytes or more are processed in a worker thread. @default 64 KiB */
  threadThresholdBytes?: number;
  /**
   * How a worker thread loads its copy of the model. @default the model's folder
   * (`metadata.dir`, set by `loadModel`), loaded with `loadModel`; without one (a model built in
   * code), every request stays on the event loop.
   */
  threadModel?: ThreadModelSource;
  /** `Retry-After` of a 503, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /**
   * Stricter checks than MLflow's scoring server: unknown params and unknown body keys are errors,
   * values are not converted (a number for a string column is an error), null is refused in
   * required columns, and CSV headers must have unique, non-empty names. By default the server
   * answers as `mlflow models serve` does. @default false
   */
  strict?: boolean;
  /**
   * CPU time a request's parsing and checking may run before it gives the event loop back (so
   * `/ping` and smaller requests are answered while a large body is read). @default 4
   */
  sliceMs?: number;
  /** Fastify (pino) logger: `true`, pino options, or `false` for none. One line per request. @default false */
  logger?: boolean | FastifyServerOptions['logger'];
}

/**
 * How a worker thread gets its own copy of the model: `module`'s export `exportName` (a function)
 * is called with `args` and returns the model (or a promise of it). Values cross threads by
 * structured clone.
 */
export interface ThreadModelSource {
  /** A file URL or absolute path of an ES module (TypeScript is loaded through tsx). */
  readonly module: string;
  /** @default 'default' */
  readonly exportName?: string;
  readonly args?: readonly unknown[];
}

export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_RECORDS = 100_000;
export const DEFAULT_MAX_COLUMNS = 10_000;
export const DEFAULT_MAX_IN_FLIGHT = 64;
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_THREAD_THRESHOLD_BYTES = 64 * 1024;
/** Worker threads by default: every core but the event loop's, at least one. */
export const defaultThreads = (): number => Math.max(1, availableParallelism() - 1);
export const DEFAULT_RETRY_AFTER_SECONDS = 1;
export const DEFAULT_SLICE_MS = 4;

/** {@link ScoringServerOptions} with every default applied and every value checked. */
export interface CompiledScoringServerOptions {
  readonly bodyLimitBytes: number;
  readonly maxRecords: number;
  readonly maxColumns: number;
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly threads: number;
  readonly threadThresholdBytes: number;
  readonly threadModel: ThreadModelSource | undefined;
  readonly retryAfterSeconds: number;
  readonly strict: boolean;
  readonly sliceMs: number;
  readonly logger: boolean | FastifyServerOptions['logger'];
}

/** Applies the defaults and checks every value; throws a TypeError listing each bad option. */
export function compileScoringServerOptions(
  options: ScoringServerOptions = {},
): CompiledScoringServerOptions {
  const compiled: CompiledScoringServerOptions = {
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    maxRecords: options.maxRecords ?? DEFAULT_MAX_RECORDS,
    maxColumns: options.maxColumns ?? DEFAULT_MAX_COLUMNS,
    maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    maxInFlightBytes: options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES,
    threads: options.threads ?? defaultThreads(),
    threadThresholdBytes: options.threadThresholdBytes ?? DEFAULT_THREAD_THRESHOLD_BYTES,
    threadModel: options.threadModel,
    retryAfterSeconds: options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    strict: options.strict ?? false,
    sliceMs: options.sliceMs ?? DEFAULT_SLICE_MS,
    logger: options.logger ?? false,
  };
  const issues: string[] = [];
  for (const key of [
    'bodyLimitBytes',
    'maxRecords',
    'maxColumns',
    'maxInFlight',
    'maxInFlightBytes',
    'threadThresholdBytes',
    'retryAfterSeconds',
  ] as const) {
    const v = compiled[key];
    if (!Number.isSafeInteger(v) || v < 1)
      issues.push(`${key} must be a positive integer, got ${v}`);
  }
  if (!Number.isSafeInteger(compiled.threads) || compiled.threads < 0)
    issues.push(`threads must be an integer ≥ 0, got ${compiled.threads}`);
  if (
    compiled.threadModel !== undefined &&
    (typeof compiled.threadModel !== 'object' || typeof compiled.threadModel.module !== 'string')
  )
    issues.push('threadModel must be { module, exportName?, args? } with module a string');
  if (!(compiled.sliceMs > 0))
    issues.push(`sliceMs must be a positive number, got ${compiled.sliceMs}`);
  if (typeof compiled.strict !== 'boolean')
    issues.push(`strict must be a boolean, got ${String(compiled.strict as unknown)}`);
  if (issues.length > 0)
    throw new TypeError(`Invalid scoring server options:\n  ✖ ${issues.join('\n  ✖ ')}`);
  return compiled;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  k: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  g: 1024 ** 3,
};

/** Reads a size such as `16mb`, `512KiB`, `1048576` (bytes); `undefined` when it is not one. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}
